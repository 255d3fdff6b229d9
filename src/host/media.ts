/**
 * What a file is: recognising boot media from their bytes, with messages a person can act on.
 *
 * The create-VM dialog calls `mediaFromFiles` on what the user picked or dropped; the worker calls
 * `checkMedia` again before it builds the machine. Both only read the bytes: nothing is created until the
 * media passed, so a bad file never leaves a half-made VM behind.
 *
 *   bzImage        "HdrS" at 0x202 (Linux boot protocol, Documentation/arch/x86/boot.rst)
 *   Multiboot      0x1BADB002 header with a valid checksum in the first 8 KiB (Multiboot 0.6.96, 3.1.1)
 *   floppy         exactly one of the diskette sizes the floppy drive knows (360K ... 2.88M)
 *   disk           a whole number of 512-byte sectors, with the 55 AA boot signature at offset 510
 *   initrd         anything next to a bzImage (the kernel unpacks gzip/xz/zstd/cpio itself)
 *   saved machine  a snapshot container ("VISOR86S") of a machine saved by visor86 run --save (imported by
 *                  vm-store.ts, never picked in the create dialog)
 */
import type { BootMedia } from './protocol.ts';
import { findMultibootHeader, parseMultiboot } from '../machine/multiboot.ts';
import { isLinuxKernel, parseLinuxHeader } from '../machine/linux-boot.ts';
import { FLOPPY_FORMATS } from '../devices/floppy-82077aa-drive.ts';
import { SNAPSHOT_MAGIC } from '../machine/snapshot-file.ts';

export const SECTOR = 512;
/** The diskette sizes the floppy drive knows, in bytes, with their names (360K ... 2.88M). */
export const FLOPPY_SIZES: ReadonlyMap<number, string> = new Map(
  FLOPPY_FORMATS.map((f) => [f.cylinders * f.heads * f.sectorsPerTrack * SECTOR, f.name]),
);
/** The largest disk image the page accepts (a worker holds it in memory). */
export const MAX_DISK_BYTES = 2 * 1024 * 1024 * 1024 - SECTOR;

export type ImageKind = 'linux' | 'multiboot' | 'floppy' | 'disk' | 'unknown';

export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

/** A file's kind judged from its bytes alone. */
export function identifyImage(bytes: Uint8Array): ImageKind {
  if (isLinuxKernel(bytes)) return 'linux';
  if (findMultibootHeader(bytes) >= 0) return 'multiboot';
  if (FLOPPY_SIZES.has(bytes.length)) return 'floppy';
  if (bytes.length > 0 && bytes.length % SECTOR === 0) return 'disk';
  return 'unknown';
}

function size(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n % 1024 ? 1 : 0)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * Turns the picked files into boot media, or throws an Error that says what is wrong and what would work.
 * One file: a bzImage, a Multiboot kernel, a floppy image or a raw disk image. Two files: a bzImage and its
 * initrd.
 */
export function mediaFromFiles(files: NamedBytes[]): { media: BootMedia; label: string } {
  if (files.length === 0) throw new Error('no file chosen');
  if (files.length > 2) {
    throw new Error(`${files.length} files chosen: pick one image, or a bzImage and its initrd`);
  }
  if (files.length === 2) {
    const kernels = files.filter((f) => isLinuxKernel(f.bytes));
    if (kernels.length !== 1) {
      throw new Error(
        kernels.length === 0
          ? `two files chosen but neither is a Linux bzImage (no "HdrS" at offset 0x202): ` +
              `pick a bzImage and its initrd`
          : 'two bzImages chosen: pick one bzImage and its initrd',
      );
    }
    const kernel = kernels[0];
    const initrd = files.find((f) => f !== kernel)!;
    if (initrd.bytes.length === 0) throw new Error(`${initrd.name} is empty: an initrd cannot be empty`);
    const media: BootMedia = { kind: 'linux', kernel: kernel.bytes, initrd: initrd.bytes };
    checkMedia(media, kernel.name);
    return { media, label: `${kernel.name} + ${initrd.name}` };
  }
  const { name, bytes } = files[0];
  if (bytes.length === 0) throw new Error(`${name} is empty`);
  if (bytes.length >= 8 && new TextDecoder().decode(bytes.subarray(0, 8)) === SNAPSHOT_MAGIC) {
    throw new Error(
      `${name} is a visor86 file (an exported VM or snapshot, or a machine saved by visor86 run --save), ` +
        'not a boot image: import it with Import under Snapshots, or drop it on the page',
    );
  }
  const kind = identifyImage(bytes);
  let media: BootMedia;
  switch (kind) {
    case 'linux':
      media = { kind: 'linux', kernel: bytes };
      break;
    case 'multiboot':
      media = { kind: 'multiboot', kernel: bytes };
      break;
    case 'floppy':
      media = { kind: 'floppy', image: bytes };
      break;
    case 'disk':
      media = { kind: 'disk', image: bytes };
      break;
    default:
      throw new Error(
        `${name} (${size(bytes.length)}) is not a boot image visor86 knows: a raw disk image is a whole ` +
          `number of 512-byte sectors (this file has ${bytes.length % SECTOR} bytes left over), a floppy ` +
          `image is 1.44 MB (1474560 bytes) or another standard diskette size, and a kernel is a Linux ` +
          `bzImage or a Multiboot kernel`,
      );
  }
  checkMedia(media, name);
  return { media, label: name };
}

/** Checks boot media the way the loaders will, before anything is built. Throws an Error naming the problem. */
export function checkMedia(media: BootMedia, name = 'the image'): void {
  const fail = (why: string): never => {
    throw new Error(`${name}: ${why}`);
  };
  switch (media.kind) {
    case 'linux':
      try {
        parseLinuxHeader(media.kernel);
      } catch (e) {
        fail((e as Error).message);
      }
      return;
    case 'multiboot':
      try {
        parseMultiboot(media.kernel);
      } catch (e) {
        fail((e as Error).message);
      }
      return;
    case 'floppy':
      if (!FLOPPY_SIZES.has(media.image.length)) {
        fail(
          `${size(media.image.length)} is not a diskette size: a floppy image must be exactly ` +
            `1474560 bytes (1.44 MB) or another standard size (${[...FLOPPY_SIZES.keys()].join(', ')})`,
        );
      }
      if (!hasBootSignature(media.image)) {
        fail('the first sector has no boot signature (55 AA at offset 510), so it cannot boot');
      }
      return;
    case 'disk':
      if (media.image.length === 0 || media.image.length % SECTOR !== 0) {
        fail(
          `${media.image.length} bytes is not a whole number of 512-byte sectors ` +
            `(${media.image.length % SECTOR} bytes left over)`,
        );
      }
      if (media.image.length > MAX_DISK_BYTES)
        fail(`${size(media.image.length)} is larger than the 2 GiB limit`);
      if (!hasBootSignature(media.image)) {
        fail('the first sector has no boot signature (55 AA at offset 510), so the BIOS will not boot it');
      }
      return;
    case 'saved':
      // The container's hash and the state itself are checked when the worker decodes and loads it.
      if (
        media.machine.length < 48 ||
        new TextDecoder().decode(media.machine.subarray(0, 8)) !== SNAPSHOT_MAGIC
      ) {
        fail('the saved machine is not a visor86 snapshot container');
      }
      if (media.firmware !== 'bios' && media.firmware !== 'none') {
        fail(`the saved machine names unknown firmware "${String(media.firmware)}"`);
      }
      return;
  }
}

export function hasBootSignature(image: Uint8Array): boolean {
  return image.length >= SECTOR && image[510] === 0x55 && image[511] === 0xaa;
}

/** A short description of boot media for the VM list ("Linux bzImage 5.4 MiB + initrd 1.0 MiB"). */
export function describeMedia(media: BootMedia): string {
  switch (media.kind) {
    case 'linux':
      return `Linux bzImage ${size(media.kernel.length)}${media.initrd ? ` + initrd ${size(media.initrd.length)}` : ''}`;
    case 'multiboot':
      return `Multiboot kernel ${size(media.kernel.length)}`;
    case 'floppy':
      return `Floppy ${FLOPPY_SIZES.get(media.image.length) ?? size(media.image.length)}`.replace(
        /M$/,
        ' MB',
      );
    case 'disk':
      return `Disk ${size(media.image.length)}`;
    case 'saved':
      return `Saved machine ${size(media.machine.length)} (${media.origin})`;
  }
}
