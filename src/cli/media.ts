/**
 * Host files for the command-line runner: kernel and initrd files read whole, disk and floppy images used
 * in place through a file-backed BlockDevice (guest writes reach the file, as with QEMU's default).
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import type { BlockDevice } from '../devices/block-device.ts';
import { checkSectorRange, SECTOR_SIZE } from '../devices/block-device.ts';
import { floppyFormatFor } from '../devices/floppy-82077aa-drive.ts';
import { UsageError } from './options.ts';

/** Image sizes that make a positional IMAGE a floppy: 360K, 720K, 1.2M, 1.44M, 2.88M. */
export const FLOPPY_IMAGE_SIZES: readonly number[] = [368_640, 737_280, 1_228_800, 1_474_560, 2_949_120];

/** One line saying why a file could not be used. */
export function describeFileError(e: unknown): string {
  const code = (e as { code?: string }).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

/** Reads a whole file, or throws a UsageError naming it and what went wrong. */
export function readWholeFile(what: string, path: string): Uint8Array {
  try {
    const data = readFileSync(path);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (e) {
    throw new UsageError(`cannot read ${what} '${path}': ${describeFileError(e)}`);
  }
}

/** A disk image file, read and written sector by sector with positioned I/O. */
export class FileBlockDevice implements BlockDevice {
  private closed = false;

  constructor(
    private readonly fd: number,
    readonly sectorCount: number,
    readonly readOnly: boolean,
  ) {}

  read(sector: number, count: number, into: Uint8Array, offset: number): void {
    checkSectorRange(this, sector, count, into, offset);
    let done = 0;
    const length = count * SECTOR_SIZE;
    while (done < length) {
      const n = readSync(this.fd, into, offset + done, length - done, sector * SECTOR_SIZE + done);
      if (n === 0) throw new Error(`disk image ended early at sector ${sector}`);
      done += n;
    }
  }

  write(sector: number, count: number, from: Uint8Array, offset: number): void {
    if (this.readOnly) throw new Error('write to a read-only disk image');
    checkSectorRange(this, sector, count, from, offset);
    let done = 0;
    const length = count * SECTOR_SIZE;
    while (done < length) {
      done += writeSync(this.fd, from, offset + done, length - done, sector * SECTOR_SIZE + done);
    }
  }

  flush(): void {
    if (!this.readOnly) fsyncSync(this.fd);
  }

  /** SHA-256 of the whole file, as 'sha256:<hex>' (read in 1 MiB pieces). */
  sha256(): string {
    const hash = createHash('sha256');
    const chunk = new Uint8Array(1 << 20);
    const size = this.sectorCount * SECTOR_SIZE;
    for (let at = 0; at < size;) {
      const n = readSync(this.fd, chunk, 0, Math.min(chunk.length, size - at), at);
      if (n === 0) throw new Error(`disk image ended early at byte ${at}`);
      hash.update(chunk.subarray(0, n));
      at += n;
    }
    return 'sha256:' + hash.digest('hex');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

export interface OpenedImage {
  device: FileBlockDevice;
  size: number;
  /** True when the file could only be opened for reading (the guest sees a write-protected medium). */
  readOnly: boolean;
}

/**
 * Opens a disk or floppy image file for the guest: read-write when allowed, else read-only. With `readOnly`
 * (a base under a copy-on-write overlay) it is only ever opened for reading.
 */
export function openImage(what: string, path: string, options: { readOnly?: boolean } = {}): OpenedImage {
  let fd: number;
  let readOnly = false;
  try {
    if (options.readOnly) throw Object.assign(new Error('read-only by request'), { code: 'EROFS' });
    fd = openSync(path, 'r+');
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') {
      throw new UsageError(`cannot open ${what} '${path}': ${describeFileError(e)}`);
    }
    try {
      fd = openSync(path, 'r');
      readOnly = true;
    } catch (e2) {
      throw new UsageError(`cannot open ${what} '${path}': ${describeFileError(e2)}`);
    }
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new UsageError(`${what} '${path}' is not a regular file`);
    const size = stat.size;
    if (size === 0) throw new UsageError(`${what} '${path}' is empty`);
    if (size % SECTOR_SIZE !== 0) {
      throw new UsageError(
        `${what} '${path}' is ${size} bytes, not a multiple of ${SECTOR_SIZE}-byte sectors`,
      );
    }
    return { device: new FileBlockDevice(fd, size / SECTOR_SIZE, readOnly), size, readOnly };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Opens a floppy image and checks its size is one the drive knows. */
export function openFloppy(path: string, options: { readOnly?: boolean } = {}): OpenedImage {
  const image = openImage('floppy image', path, options);
  try {
    floppyFormatFor(image.device.sectorCount);
  } catch (e) {
    image.device.close();
    throw new UsageError(`floppy image '${path}': ${(e as Error).message}`);
  }
  return image;
}
