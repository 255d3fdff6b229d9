/**
 * Machine snapshot files on the command line: `visor86 run --save FILE` writes one when the run ends,
 * `visor86 run --snapshot FILE` resumes it, `visor86 snapshot info FILE` says what it holds.
 *
 * The file is the snapshot container (src/machine/snapshot-file.ts: magic, version, SHA-256, gzip) holding
 *   format    'visor86-snapshot', version CLI_SNAPSHOT_VERSION
 *   created   ISO 8601 date;  producer  'visor86 run'
 *   config    how to rebuild the board: memoryMiB, firmware, serialMirror, kernel {path, initrd, append} or
 *             null, and media: slot (disk0-3, floppy0-1) -> {path, bytes, sha256} of the image file
 *   machine   Pc.saveState(): CPU, RAM, devices, and per slot the copy-on-write overlay over that image
 * Image files are referenced, not copied: resuming reopens each read-only and checks its size and SHA-256,
 * so a changed or missing image is refused instead of silently giving the guest a different disk.
 */
import { renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Pc } from '../machine/pc.ts';
import { PC_STATE_VERSION } from '../machine/pc.ts';
import {
  decodeSnapshot,
  encodeSnapshot,
  SNAPSHOT_FORMAT_VERSION,
  SnapshotFormatError,
  verifySnapshot,
  type StateValue,
} from '../machine/snapshot-file.ts';
import type { DeviceState } from '../devices/device.ts';
import { SECTOR_SIZE } from '../devices/block-device.ts';
import { NS_PER_INSTRUCTION } from '../machine/clock.ts';
import { describeFileError, readWholeFile } from './media.ts';
import { UsageError } from './options.ts';

export const CLI_SNAPSHOT_FORMAT = 'visor86-snapshot';
export const CLI_SNAPSHOT_VERSION = 1;

/** An image file a snapshot's overlay lies over. */
export interface MediaRef {
  /** Absolute path. */
  path: string;
  bytes: number;
  /** 'sha256:<hex>' of the file: also the id of the overlay's base. */
  sha256: string;
}

/** What rebuilds the board a snapshot was taken of. */
export interface SnapshotConfig {
  memoryMiB: number;
  firmware: 'bios' | 'none';
  serialMirror: boolean;
  kernel: { path: string; initrd: string | null; append: string | null } | null;
  /** By slot: disk0-disk3 (ATA positions), floppy0-floppy1 (drives A: and B:). */
  media: Record<string, MediaRef>;
}

export const MEDIA_SLOTS = ['disk0', 'disk1', 'disk2', 'disk3', 'floppy0', 'floppy1'] as const;

export interface LoadedSnapshot {
  config: SnapshotConfig;
  machine: DeviceState;
  created: string;
}

/** Writes `pc` and its config to `path` (through a temporary file, so a failed write leaves no half file). */
export async function writeSnapshotFile(path: string, config: SnapshotConfig, pc: Pc): Promise<number> {
  const tree: StateValue = {
    format: CLI_SNAPSHOT_FORMAT,
    version: CLI_SNAPSHOT_VERSION,
    created: new Date().toISOString(),
    producer: 'visor86 run',
    config: {
      ...config,
      kernel: config.kernel ? { ...config.kernel } : null,
      media: Object.fromEntries(Object.entries(config.media).map(([slot, ref]) => [slot, { ...ref }])),
    },
    machine: pc.saveState() as StateValue,
  };
  const file = await encodeSnapshot(tree);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, file);
    renameSync(temporary, path);
  } catch (e) {
    try {
      unlinkSync(temporary);
    } catch {
      // nothing was written
    }
    throw new Error(`cannot write snapshot '${path}': ${describeFileError(e)}`);
  }
  return file.length;
}

/** Reads and checks a snapshot file. Throws UsageError saying what is wrong with it. */
export async function readSnapshotFile(path: string): Promise<LoadedSnapshot> {
  const bytes = readWholeFile('snapshot', path);
  let tree: StateValue;
  try {
    tree = await decodeSnapshot(bytes);
  } catch (e) {
    if (e instanceof SnapshotFormatError) throw new UsageError(`snapshot '${path}': ${e.message}`);
    throw e;
  }
  try {
    return parseSnapshotTree(tree);
  } catch (e) {
    throw new UsageError(`snapshot '${path}': ${(e as Error).message}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** Checks the tree's envelope and config. Throws an Error naming the bad field. */
function parseSnapshotTree(tree: StateValue): LoadedSnapshot {
  if (!isObject(tree) || tree.format !== CLI_SNAPSHOT_FORMAT) {
    const what =
      isObject(tree) && typeof tree.format === 'string' ? `a '${tree.format}' document` : 'no format';
    throw new Error(`holds ${what}, not a machine saved by visor86 run --save`);
  }
  if (tree.version !== CLI_SNAPSHOT_VERSION) {
    const age = typeof tree.version === 'number' && tree.version < CLI_SNAPSHOT_VERSION ? 'older' : 'newer';
    throw new Error(
      `snapshot version ${String(tree.version)} is ${age} than this build reads (version ${CLI_SNAPSHOT_VERSION})`,
    );
  }
  const c = tree.config;
  if (!isObject(c)) throw new Error("field 'config' is malformed");
  if (typeof c.memoryMiB !== 'number' || !Number.isInteger(c.memoryMiB)) {
    throw new Error("field 'config.memoryMiB' is malformed");
  }
  if (c.firmware !== 'bios' && c.firmware !== 'none') throw new Error("field 'config.firmware' is malformed");
  if (typeof c.serialMirror !== 'boolean') throw new Error("field 'config.serialMirror' is malformed");
  let kernel: SnapshotConfig['kernel'] = null;
  if (c.kernel !== null) {
    const k = c.kernel;
    if (
      !isObject(k) ||
      typeof k.path !== 'string' ||
      (k.initrd !== null && typeof k.initrd !== 'string') ||
      (k.append !== null && typeof k.append !== 'string')
    ) {
      throw new Error("field 'config.kernel' is malformed");
    }
    kernel = { path: k.path, initrd: k.initrd as string | null, append: k.append as string | null };
  }
  if (!isObject(c.media)) throw new Error("field 'config.media' is malformed");
  const media: Record<string, MediaRef> = {};
  for (const [slot, ref] of Object.entries(c.media)) {
    if (
      !(MEDIA_SLOTS as readonly string[]).includes(slot) ||
      !isObject(ref) ||
      typeof ref.path !== 'string' ||
      typeof ref.bytes !== 'number' ||
      typeof ref.sha256 !== 'string'
    ) {
      throw new Error(`field 'config.media.${slot}' is malformed`);
    }
    media[slot] = { path: ref.path, bytes: ref.bytes, sha256: ref.sha256 };
  }
  if (!isObject(tree.machine) || tree.machine.format !== 'visor86-machine') {
    throw new Error("field 'machine' holds no machine state");
  }
  return {
    config: {
      memoryMiB: c.memoryMiB,
      firmware: c.firmware,
      serialMirror: c.serialMirror,
      kernel,
      media,
    },
    machine: tree.machine as DeviceState,
    created: typeof tree.created === 'string' ? tree.created : 'unknown',
  };
}

/** An absolute path for a snapshot's config. */
export function absolutePath(path: string): string {
  return resolve(path);
}

// ---- visor86 snapshot info ----

function bytesText(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${n} bytes (${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]})`;
}

function slotName(slot: string): string {
  return slot.startsWith('disk')
    ? `hard disk ${slot.slice(4)}`
    : `floppy drive ${'ABCD'[Number(slot.slice(6))] ?? slot.slice(6)}`;
}

/** The CPU's mode in words, from CR0 and EFLAGS. */
function cpuMode(cpu: Record<string, unknown>): string {
  const cr0 = Number(cpu.cr0) >>> 0;
  const flags = Number(cpu.flags) >>> 0;
  if ((cr0 & 1) === 0) return 'real mode';
  let mode = flags & 0x20000 ? 'virtual-8086 mode' : 'protected mode';
  if (cr0 & 0x80000000) mode += ', paging on';
  return mode;
}

/** Lines describing a machine state (Pc.saveState). */
function describeMachine(machine: Record<string, unknown>, config: Record<string, unknown> | null): string[] {
  const lines: string[] = [];
  const cpu = isObject(machine.cpu) ? machine.cpu : {};
  const ram = machine.ram instanceof Uint8Array ? machine.ram.length : Number(machine.memoryBytes);
  lines.push(`machine state: version ${String(machine.version)} (this build reads ${PC_STATE_VERSION})`);
  lines.push(`RAM:           ${bytesText(ram)}`);
  lines.push(`firmware:      ${String(machine.firmware)}`);
  if (config) {
    const kernel = isObject(config.kernel) ? config.kernel : null;
    if (kernel) {
      const extra = [
        kernel.initrd ? `initrd ${String(kernel.initrd)}` : '',
        kernel.append ? `command line "${String(kernel.append)}"` : '',
      ].filter((x) => x);
      lines.push(
        `boot:          kernel ${String(kernel.path)}${extra.length ? ` (${extra.join(', ')})` : ''}`,
      );
    } else {
      lines.push('boot:          through the BIOS from its disk or floppy');
    }
  }
  const clockNs = Number(machine.clockNs);
  const count = Number(cpu.instructionCount);
  lines.push(
    `virtual time:  ${(clockNs / 1e9).toFixed(6)} s (${count} instructions retired, ` +
      `${NS_PER_INSTRUCTION} ns each; the rest halted)`,
  );
  const eip = (Number(cpu.eip) >>> 0).toString(16).padStart(8, '0');
  lines.push(
    `CPU:           ${cpuMode(cpu)}, CS:EIP ${hex4(cpu)}:${eip}${cpu.halted === true ? ', halted' : ''}`,
  );
  const devices = isObject(machine.devices) ? Object.keys(machine.devices) : [];
  lines.push(`devices:       ${devices.length} (${devices.join(', ')})`);
  return lines;
}

function hex4(cpu: Record<string, unknown>): string {
  const sreg = cpu.sreg;
  const cs = sreg instanceof Uint16Array && sreg.length > 1 ? sreg[1] : 0;
  return cs.toString(16).padStart(4, '0');
}

/** Lines describing each medium, with what its overlay holds. */
function describeMedia(machine: Record<string, unknown>, refs: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const media = isObject(machine.media) ? machine.media : {};
  let total = 0;
  for (const [slot, value] of Object.entries(media)) {
    if (!isObject(value)) continue;
    const ref = isObject(refs[slot]) ? refs[slot] : null;
    const image = ref ? `${String(ref.path)} (${bytesText(Number(ref.bytes))}, ${String(ref.sha256)})` : null;
    if (value.kind === 'overlay' && isObject(value.disk)) {
      const layers = Array.isArray(value.disk.layers) ? value.disk.layers.filter(isObject) : [];
      const sectors = layers.reduce(
        (n, l) => n + (l.sectors instanceof Uint32Array ? l.sectors.length : 0),
        0,
      );
      total += sectors * SECTOR_SIZE;
      lines.push(
        `  ${slotName(slot)}: copy-on-write overlay, ${layers.length} layer${layers.length === 1 ? '' : 's'}, ` +
          `${sectors} sectors changed`,
      );
      lines.push(`    over ${image ?? `base image ${String(value.disk.baseId)}`}`);
    } else if (value.kind === 'device') {
      lines.push(
        `  ${slotName(slot)}: ${String(value.sectorCount)} sectors, contents not in the snapshot` +
          (image ? ` (${image})` : ''),
      );
    }
  }
  if (lines.length === 0) return ['media:         none'];
  return [`media:         ${bytesText(total)} of disk changes in the file`, ...lines];
}

/**
 * Lines describing a VM or snapshot exported by the page (src/host/vm-store.ts): the VM, and each snapshot
 * with its machine state, whose own container is checked too (a bad one throws SnapshotFormatError).
 */
async function describeExport(root: Record<string, unknown>): Promise<string[]> {
  const vm = isObject(root.vm) ? root.vm : {};
  const when =
    typeof root.exportedAt === 'number' ? new Date(root.exportedAt).toISOString() : String(root.exportedAt);
  const lines = [
    `holds:         ${root.kind === 'snapshot' ? 'one snapshot' : 'a whole VM'} exported by the page, ` +
      `export version ${String(root.version)}`,
    `VM:            "${String(vm.name)}"${vm.image ? ` (guest ${String(vm.image)})` : ''}`,
    `exported:      ${when}`,
  ];
  const tree = isObject(root.tree) ? root.tree : {};
  const nodes = Array.isArray(tree.nodes) ? tree.nodes.filter(isObject) : [];
  const snapshots = isObject(root.snapshots) ? root.snapshots : {};
  lines.push(
    `snapshots:     ${nodes.length}${tree.current ? ` (you are here: ${String(tree.current)})` : ''}`,
  );
  for (const node of nodes) {
    const entry = isObject(snapshots[String(node.id)])
      ? (snapshots[String(node.id)] as Record<string, unknown>)
      : {};
    let machine = 'powered off (no machine state)';
    if (entry.machine instanceof Uint8Array) {
      let state: StateValue;
      try {
        state = await decodeSnapshot(entry.machine);
      } catch (e) {
        if (e instanceof SnapshotFormatError) {
          throw new SnapshotFormatError(
            `the machine state of snapshot ${String(node.id)}: ${e.message}`,
            e.problem,
          );
        }
        throw e;
      }
      const m = isObject(state) ? state : {};
      const cpu = isObject(m.cpu) ? m.cpu : {};
      machine =
        `${bytesText(Number(m.memoryBytes))} RAM, ${cpuMode(cpu)}, ` +
        `virtual time ${(Number(m.clockNs) / 1e9).toFixed(3)} s, ${bytesText(entry.machine.length)} saved, hash verified`;
    }
    lines.push(`  ${String(node.id)} "${String(node.name)}": ${machine}`);
  }
  return lines;
}

/** `visor86 snapshot info FILE`: prints what the file holds after checking its hash. Returns the exit status. */
export async function snapshotInfo(
  path: string,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<number> {
  let bytes: Uint8Array;
  let tree: StateValue;
  let verified: { version: number; payloadBytes: number };
  try {
    bytes = readWholeFile('snapshot', path);
    try {
      verified = await verifySnapshot(bytes);
      tree = await decodeSnapshot(bytes);
    } catch (e) {
      if (e instanceof SnapshotFormatError) throw new UsageError(`snapshot '${path}': ${e.message}`);
      throw e;
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`visor86: ${e.message}\n`);
    return 2;
  }
  const lines: string[] = [];
  lines.push(`file:          ${resolve(path)}, ${bytesText(statSync(path).size)}`);
  lines.push(
    `container:     format version ${verified.version} (this build reads ${SNAPSHOT_FORMAT_VERSION}), ` +
      `${bytesText(verified.payloadBytes)} compressed payload, SHA-256 verified`,
  );
  const root = isObject(tree) ? tree : {};
  if (root.format === CLI_SNAPSHOT_FORMAT) {
    lines.push(`holds:         a whole machine saved by ${String(root.producer ?? 'visor86')}`);
    lines.push(`snapshot:      version ${String(root.version)} (this build reads ${CLI_SNAPSHOT_VERSION})`);
    lines.push(`created:       ${String(root.created ?? 'unknown')}`);
    const config = isObject(root.config) ? root.config : {};
    const machine = isObject(root.machine) ? root.machine : {};
    lines.push(...describeMachine(machine, config));
    lines.push(...describeMedia(machine, isObject(config.media) ? config.media : {}));
  } else if (root.format === 'visor86-machine') {
    lines.push('holds:         a machine state (Pc.saveState) without a board configuration');
    lines.push(...describeMachine(root, null));
    lines.push(...describeMedia(root, {}));
  } else if (root.format === 'visor86-export') {
    try {
      lines.push(...(await describeExport(root)));
    } catch (e) {
      if (!(e instanceof SnapshotFormatError)) throw e;
      io.stderr.write(`visor86: snapshot '${path}': ${e.message}\n`);
      return 2;
    }
  } else {
    const format = typeof root.format === 'string' ? `a '${root.format}' document` : 'a state tree';
    lines.push(`holds:         ${format} with fields ${Object.keys(root).join(', ') || '(none)'}`);
  }
  io.stdout.write(lines.join('\n') + '\n');
  return 0;
}
