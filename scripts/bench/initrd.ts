/**
 * The busybox workload's initramfs, made at bench time without root: images/linux/initrd.gz with a second
 * gzip'd newc cpio appended. The kernel unpacks concatenated (and separately compressed) archives one after
 * another, and an entry replaces an earlier one of the same name (kernel documentation
 * "ramfs-rootfs-initramfs" and "early-userspace/buffer-format"), so our /init takes the place of the
 * original one. readCpio parses newc archives back, to check the base image and for the tests.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { buildCpio, type CpioEntry } from '../lib/cpio.ts';

export interface CpioRecord {
  path: string;
  mode: number;
  data: Uint8Array;
}

const NEWC_MAGIC = '070701';
const HEADER_BYTES = 110;
const align4 = (n: number) => (n + 3) & ~3;

/**
 * Parses one or more concatenated uncompressed newc archives (zero padding between them is skipped).
 * Throws with the offset when the bytes are not newc.
 */
export function readCpio(bytes: Uint8Array): CpioRecord[] {
  const records: CpioRecord[] = [];
  const decoder = new TextDecoder('latin1');
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes[offset] === 0) {
      offset++;
      continue;
    }
    if (offset + HEADER_BYTES > bytes.length) throw new Error(`cpio: truncated header at offset ${offset}`);
    const header = decoder.decode(bytes.subarray(offset, offset + HEADER_BYTES));
    if (!header.startsWith(NEWC_MAGIC)) {
      throw new Error(`cpio: no newc magic at offset ${offset} (found "${header.slice(0, 6)}")`);
    }
    const field = (i: number) => {
      const text = header.slice(6 + i * 8, 14 + i * 8);
      if (!/^[0-9a-fA-F]{8}$/.test(text)) throw new Error(`cpio: bad header field ${i} at offset ${offset}`);
      return parseInt(text, 16);
    };
    const mode = field(1);
    const fileSize = field(6);
    const nameSize = field(11);
    const nameStart = offset + HEADER_BYTES;
    const dataStart = align4(nameStart + nameSize);
    const end = dataStart + fileSize;
    if (nameSize === 0 || end > bytes.length)
      throw new Error(`cpio: entry at offset ${offset} runs past the end`);
    const path = decoder.decode(bytes.subarray(nameStart, nameStart + nameSize - 1));
    offset = align4(end);
    if (path === 'TRAILER!!!') continue;
    records.push({ path, mode, data: bytes.slice(dataStart, end) });
  }
  return records;
}

/** Decompresses a gzip stream that may hold several members one after another (zlib reads them all). */
export function gunzipAll(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(gunzipSync(bytes));
}

/**
 * Returns `initrdGz` followed directly by a gzip'd newc archive of `entries` (a compressed archive needs no
 * alignment: the kernel starts the next one where the decompressor stopped, as with `cat a.gz b.gz`).
 */
export function appendToInitrd(initrdGz: Uint8Array, entries: CpioEntry[]): Uint8Array {
  if (initrdGz.length < 2 || initrdGz[0] !== 0x1f || initrdGz[1] !== 0x8b) {
    throw new Error('the initrd is not gzip-compressed (it should start with 1f 8b)');
  }
  const extra = gzipSync(buildCpio(entries), { level: 9 });
  const out = new Uint8Array(initrdGz.length + extra.length);
  out.set(initrdGz);
  out.set(extra, initrdGz.length);
  return out;
}

/** The entries a file system ends up with after unpacking `records` in order: later ones win. */
export function unpackedView(records: readonly CpioRecord[]): Map<string, CpioRecord> {
  const files = new Map<string, CpioRecord>();
  for (const r of records) files.set(r.path.replace(/^\.?\//, ''), r);
  return files;
}
