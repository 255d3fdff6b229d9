/**
 * A writer for the "newc" cpio format the Linux kernel unpacks as an initramfs (kernel documentation
 * "ramfs-rootfs-initramfs" and "early-userspace/buffer-format"): 110-byte ASCII headers of 13 hex fields,
 * the name, padding to 4 bytes, the data, padding to 4 bytes, ending with "TRAILER!!!".
 */
export interface CpioEntry {
  path: string;
  /** Full st_mode: file type bits (0o100000 file, 0o040000 dir, 0o120000 symlink, 0o020000 char dev) | perms. */
  mode: number;
  /** File contents, or the link target for a symlink. */
  data?: Uint8Array;
  rdevMajor?: number;
  rdevMinor?: number;
}

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

export function buildCpio(entries: CpioEntry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const push = (bytes: Uint8Array) => {
    chunks.push(bytes);
    size += bytes.length;
    const pad = (4 - (size % 4)) % 4;
    if (pad) {
      chunks.push(new Uint8Array(pad));
      size += pad;
    }
  };
  const encoder = new TextEncoder();
  let ino = 1;
  for (const entry of [...entries, { path: 'TRAILER!!!', mode: 0 }]) {
    const data = 'data' in entry && entry.data ? entry.data : new Uint8Array(0);
    const name = encoder.encode(entry.path + '\0');
    const isDir = (entry.mode & 0o170000) === 0o040000;
    const header =
      '070701' +
      hex8(entry.path === 'TRAILER!!!' ? 0 : ino++) +
      hex8(entry.mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8(isDir ? 2 : 1) + // nlink
      hex8(0) + // mtime: fixed, so the archive is reproducible
      hex8(data.length) +
      hex8(0) + // dev major
      hex8(0) + // dev minor
      hex8('rdevMajor' in entry ? (entry.rdevMajor ?? 0) : 0) +
      hex8('rdevMinor' in entry ? (entry.rdevMinor ?? 0) : 0) +
      hex8(name.length) +
      hex8(0); // check
    const headerBytes = encoder.encode(header);
    const combined = new Uint8Array(headerBytes.length + name.length);
    combined.set(headerBytes);
    combined.set(name, headerBytes.length);
    push(combined);
    if (data.length) push(data);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
