/**
 * Where the hypervisor meets the machine: building a PC for a VM's configuration and booting its media.
 * Every call into src/machine's loaders and firmware goes through this module, so swapping a loader (or
 * adding the BIOS) touches only this file.
 *
 *   multiboot  createPc + bootMultiboot (no firmware: the CPU starts at the kernel's entry)
 *   linux      createPc + bootLinux (32-bit boot protocol, no firmware)
 *   disk       createPc with the image as the primary master, booted by the BIOS
 *   floppy     createPc with the image in drive A:, booted by the BIOS
 *   saved      createPc with the saved machine's firmware, then Pc.loadState (loadSaved): it resumes
 */
import { createPc, type Pc } from '../machine/pc.ts';
import { bootMultiboot } from '../machine/multiboot.ts';
import { bootLinux } from '../machine/linux-boot.ts';
import { installBios } from '../machine/bios/index.ts';
import { WriteTrackingDisk, type DiskLayer } from './disk-layer.ts';
import { DEFAULT_LINUX_CMDLINE, type BootMedia, type VmConfig } from './protocol.ts';
import { checkMedia } from './media.ts';
import { decodeSnapshot } from '../machine/snapshot-file.ts';
import type { DeviceState } from '../devices/device.ts';

/**
 * The disks a VM keeps across resets and power cycles (they live as long as its worker). Each remembers
 * the sectors written since its base image, so snapshots and the page's storage can keep them as a layer.
 */
export interface VmDisks {
  /** [primary master, primary slave, secondary master, secondary slave] = drives hd0..hd3. */
  hard: Array<WriteTrackingDisk | undefined>;
  /** Drives A: and B: = fd0, fd1. */
  floppies: Array<WriteTrackingDisk | undefined>;
}

export interface MachineHooks {
  onSerialOutput: (com: number, bytes: Uint8Array) => void;
  onDebugOutput?: (byte: number) => void;
}

/** True when this build can boot disk and floppy images (it needs the BIOS). */
export function firmwareAvailable(): boolean {
  return true;
}

/**
 * Makes the VM's disks: the boot image (copied, so the page keeps its original) and a blank disk, with a
 * saved layer (a restored VM, a snapshot reverted to) written over them.
 */
export function createDisks(config: VmConfig, saved?: DiskLayer): VmDisks {
  const hard: VmDisks['hard'] = [];
  const floppies: VmDisks['floppies'] = [];
  const media = config.media;
  if (media.kind === 'disk') hard.push(new WriteTrackingDisk(media.image.slice()));
  if (media.kind === 'floppy') floppies.push(new WriteTrackingDisk(media.image.slice()));
  if (config.diskMiB > 0) hard.push(new WriteTrackingDisk(new Uint8Array(config.diskMiB * 1024 * 1024)));
  const disks = { hard, floppies };
  if (saved) {
    for (const [drive, sectors] of saved) {
      if (sectors.size === 0) continue;
      const disk = driveOf(disks, drive);
      if (!disk) throw new Error(`the saved disks name drive ${drive}, which this VM does not have`);
      disk.apply(sectors, drive);
    }
  }
  return disks;
}

/** The disk behind a drive id (hd0..hd3, fd0, fd1). */
export function driveOf(disks: VmDisks, drive: string): WriteTrackingDisk | undefined {
  const index = Number(drive.slice(2));
  if (drive.startsWith('hd')) return disks.hard[index];
  if (drive.startsWith('fd')) return disks.floppies[index];
  return undefined;
}

/** Every sector written to the VM's disks since their base images, as a layer. */
export function writtenLayer(disks: VmDisks): DiskLayer {
  const layer: DiskLayer = new Map();
  disks.hard.forEach(
    (disk, i) => disk && disk.writtenSectors > 0 && layer.set(`hd${i}`, disk.writtenLayer()),
  );
  disks.floppies.forEach(
    (disk, i) => disk && disk.writtenSectors > 0 && layer.set(`fd${i}`, disk.writtenLayer()),
  );
  return layer;
}

/** Checks a configuration before anything is built. Throws an Error a person can act on. */
export function checkConfig(config: VmConfig): void {
  if (!config.name.trim()) throw new Error('the VM needs a name');
  if (!Number.isInteger(config.memoryMiB) || config.memoryMiB < 2 || config.memoryMiB > 2048) {
    throw new Error(`memory must be a whole number of MiB from 2 to 2048 (got ${config.memoryMiB})`);
  }
  if (!Number.isInteger(config.diskMiB) || config.diskMiB < 0 || config.diskMiB > 2048) {
    throw new Error(`disk size must be a whole number of MiB from 0 to 2048 (got ${config.diskMiB})`);
  }
  checkMedia(config.media, config.name);
  if ((config.media.kind === 'disk' || config.media.kind === 'floppy') && !firmwareAvailable()) {
    throw new Error(
      `${config.name}: booting a ${config.media.kind} image needs the BIOS, which this build does not ` +
        'have yet; use a Multiboot kernel or a Linux bzImage',
    );
  }
}

/**
 * Builds a powered-on PC for the configuration with its media loaded, ready to run. Throws (with the
 * loader's message) when the media does not fit, e.g. a kernel larger than the VM's RAM.
 */
export function buildMachine(config: VmConfig, disks: VmDisks, hooks: MachineHooks): Pc {
  const pc = createPc({
    memoryMiB: config.memoryMiB,
    rtcTime: config.rtcTime ?? Date.now(),
    onSerialOutput: hooks.onSerialOutput,
    onDebugOutput: hooks.onDebugOutput,
    disks: disks.hard,
    floppies: disks.floppies,
  });
  bootMedia(pc, config.media);
  return pc;
}

function bootMedia(pc: Pc, media: BootMedia): void {
  switch (media.kind) {
    case 'multiboot':
      bootMultiboot(pc, media.kernel, { cmdline: media.cmdline, modules: media.modules });
      return;
    case 'linux':
      bootLinux(pc, media.kernel, { initrd: media.initrd, cmdline: media.cmdline ?? DEFAULT_LINUX_CMDLINE });
      return;
    case 'disk':
    case 'floppy':
      // The BIOS mirrors its screen output to COM1, so a serial console sees the boot too.
      installBios(pc, { serialMirror: true });
      return;
    case 'saved':
      // A bare board with the saved machine's firmware: the caller loads the machine into it (loadSaved).
      if (media.firmware === 'bios') installBios(pc, { serialMirror: media.serialMirror ?? true });
      return;
  }
}

/**
 * Builds the machine of 'saved' media: decodes its container (checking its hash) and loads the state onto
 * a board built for it. Throws a message that says what is wrong with the saved machine.
 */
export async function loadSaved(config: VmConfig, disks: VmDisks, hooks: MachineHooks): Promise<Pc> {
  const media = config.media;
  if (media.kind !== 'saved') throw new Error(`${config.name} has no saved machine`);
  let state: DeviceState;
  try {
    state = (await decodeSnapshot(media.machine)) as DeviceState;
  } catch (e) {
    throw new Error(`the saved machine is unreadable: ${(e as Error).message}`);
  }
  const pc = buildMachine(config, disks, hooks);
  try {
    pc.loadState(state);
  } catch (e) {
    throw new Error(`the saved machine cannot be loaded: ${(e as Error).message}`);
  }
  return pc;
}

/**
 * Whether a guest reset (triple fault, keyboard controller or port 0x92 reset) can continue on the same
 * machine. With firmware the CPU restarts in the BIOS; a directly booted kernel has no firmware to restart
 * in, so the machine is rebuilt and the kernel loaded again (what `qemu -kernel` does on reset); a saved
 * machine (no kernel of its own in the VM) is resumed again, the way this VM starts.
 */
export function resetNeedsRebuild(media: BootMedia): boolean {
  return media.kind === 'multiboot' || media.kind === 'linux' || media.kind === 'saved';
}
