import { readSnapshotFile } from '../src/cli/snapshot.ts';
import { createPc } from '../src/machine/pc.ts';
const loaded = await readSnapshotFile(process.argv[2]);
const pc = createPc({ memoryMiB: loaded.config.memoryMiB });
pc.loadState(loaded.machine);
const cpu = pc.cpu;
for (const a of process.argv.slice(3)) {
  const [s, n] = a.split(':');
  const lin = parseInt(s, 16) >>> 0;
  const len = Number(n ?? 32);
  let phys = cpu.mmu.probeRead(lin);
  if (phys < 0 && lin >= 0xc0000000) phys = (lin - 0xc0000000) & ~0xfff;
  const bytes: string[] = [];
  for (let k = 0; k < len; k++) bytes.push(cpu.ram[(phys | (lin & 0xfff)) + k].toString(16).padStart(2, '0'));
  console.log(lin.toString(16), bytes.join(''));
}
