/**
 * The snapshot container: one file that carries a tree of named fields whose leaves may be typed arrays.
 *
 *   offset  size  field
 *   0       8     magic "VISOR86S"
 *   8       4     format version (little-endian u32), currently 1
 *   12      4     payload length in bytes (u32)
 *   16      32    SHA-256 of the payload
 *   48      ...   payload: gzip of [u32 index length][index JSON][blobs, each 8-byte aligned]
 *
 * The index JSON is the state tree with every typed array replaced by {"$blob": n, "$type": name}; the
 * blobs table in the index gives each blob's offset and length. Reading checks the magic, the version, the
 * length and the hash before anything is decoded, so a wrong, truncated or corrupted file is refused with a
 * message that says which. Runs in browsers (workers) and Node alike: CompressionStream and crypto.subtle.
 *
 * The version is the container's (this header, the gzip payload, the index and blob layout). What the tree
 * holds is versioned by its producers: Pc.saveState's `version` (PC_STATE_VERSION), disk overlays' own.
 */

export const SNAPSHOT_MAGIC = 'VISOR86S';
export const SNAPSHOT_FORMAT_VERSION = 1;
const HEADER_SIZE = 48;

export type StateValue =
  | number
  | boolean
  | string
  | null
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Int32Array
  | Float64Array
  | StateValue[]
  | { [field: string]: StateValue };

const TYPED_ARRAYS = { Uint8Array, Uint16Array, Uint32Array, Int32Array, Float64Array } as const;
type TypedArrayName = keyof typeof TYPED_ARRAYS;

/** What is wrong with a refused snapshot file, for callers that react to the kind rather than the text. */
export type SnapshotProblem = 'not-a-snapshot' | 'version' | 'truncated' | 'corrupted' | 'malformed';

/** Why a snapshot file was refused. */
export class SnapshotFormatError extends Error {
  constructor(
    message: string,
    readonly problem: SnapshotProblem = 'malformed',
    /** The file's format version, for problem 'version'. */
    readonly version?: number,
  ) {
    super(message);
    this.name = 'SnapshotFormatError';
  }
}

async function pipeThrough(
  data: Uint8Array,
  stream: CompressionStream | DecompressionStream,
): Promise<Uint8Array> {
  const body = new Blob([data as BlobPart]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(body).arrayBuffer());
}

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data as BufferSource));
}

function typedArrayName(value: unknown): TypedArrayName | null {
  for (const name of Object.keys(TYPED_ARRAYS) as TypedArrayName[]) {
    if (value instanceof TYPED_ARRAYS[name]) return name;
  }
  return null;
}

/** Encodes a state tree into a snapshot file. */
export async function encodeSnapshot(state: StateValue): Promise<Uint8Array> {
  const blobs: Array<{ bytes: Uint8Array; offset: number }> = [];
  let blobBytes = 0;
  const replace = (value: StateValue): unknown => {
    const typed = typedArrayName(value);
    if (typed) {
      const view = value as Uint8Array;
      const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      blobs.push({ bytes, offset: blobBytes });
      blobBytes += (bytes.length + 7) & ~7;
      return { $blob: blobs.length - 1, $type: typed, $length: (value as Uint8Array).length };
    }
    if (Array.isArray(value)) return value.map(replace);
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = replace(v);
      return out;
    }
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new Error('snapshot state holds a non-finite number');
    return value;
  };
  const tree = replace(state);
  const index = new TextEncoder().encode(
    JSON.stringify({ tree, blobs: blobs.map((b) => ({ offset: b.offset, length: b.bytes.length })) }),
  );
  const indexPadded = (4 + index.length + 7) & ~7;
  const raw = new Uint8Array(indexPadded + blobBytes);
  new DataView(raw.buffer).setUint32(0, index.length, true);
  raw.set(index, 4);
  for (const b of blobs) raw.set(b.bytes, indexPadded + b.offset);
  const payload = await pipeThrough(raw, new CompressionStream('gzip'));
  const file = new Uint8Array(HEADER_SIZE + payload.length);
  const view = new DataView(file.buffer);
  file.set(new TextEncoder().encode(SNAPSHOT_MAGIC), 0);
  view.setUint32(8, SNAPSHOT_FORMAT_VERSION, true);
  view.setUint32(12, payload.length, true);
  file.set(await sha256(payload), 16);
  file.set(payload, HEADER_SIZE);
  return file;
}

/** Checks a snapshot file's header and hash; returns its version and payload size. Throws SnapshotFormatError. */
export async function verifySnapshot(file: Uint8Array): Promise<{ version: number; payloadBytes: number }> {
  if (file.length < 8 || new TextDecoder().decode(file.subarray(0, 8)) !== SNAPSHOT_MAGIC) {
    throw new SnapshotFormatError(
      file.length < 8
        ? `not a visor86 snapshot: only ${file.length} bytes`
        : 'not a visor86 snapshot: bad magic number',
      'not-a-snapshot',
    );
  }
  if (file.length < HEADER_SIZE) {
    throw new SnapshotFormatError(
      `snapshot is truncated: only ${file.length} bytes of its ${HEADER_SIZE}-byte header are present`,
      'truncated',
    );
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const version = view.getUint32(8, true);
  if (version !== SNAPSHOT_FORMAT_VERSION) {
    const which =
      version > SNAPSHOT_FORMAT_VERSION ? 'it was written by a newer visor86' : 'it is an older format';
    throw new SnapshotFormatError(
      `snapshot format version ${version} is not supported (this build reads version ${SNAPSHOT_FORMAT_VERSION}): ${which}`,
      'version',
      version,
    );
  }
  const payloadBytes = view.getUint32(12, true);
  if (file.length - HEADER_SIZE < payloadBytes) {
    throw new SnapshotFormatError(
      `snapshot is truncated: ${file.length - HEADER_SIZE} of ${payloadBytes} payload bytes are present`,
      'truncated',
    );
  }
  if (file.length - HEADER_SIZE > payloadBytes) {
    throw new SnapshotFormatError(
      `snapshot has ${file.length - HEADER_SIZE - payloadBytes} unexpected trailing bytes`,
      'corrupted',
    );
  }
  const hash = await sha256(file.subarray(HEADER_SIZE));
  const stored = file.subarray(16, 48);
  for (let i = 0; i < 32; i++) {
    if (hash[i] !== stored[i])
      throw new SnapshotFormatError('snapshot is corrupted: its SHA-256 hash does not match', 'corrupted');
  }
  return { version, payloadBytes };
}

/** Decodes a snapshot file back into its state tree. Throws SnapshotFormatError naming what is wrong. */
export async function decodeSnapshot(file: Uint8Array): Promise<StateValue> {
  await verifySnapshot(file);
  let raw: Uint8Array;
  try {
    raw = await pipeThrough(file.subarray(HEADER_SIZE), new DecompressionStream('gzip'));
  } catch (e) {
    throw new SnapshotFormatError(`snapshot payload does not decompress: ${(e as Error).message}`);
  }
  if (raw.length < 4) throw new SnapshotFormatError('snapshot payload is empty');
  const indexLength = new DataView(raw.buffer, raw.byteOffset).getUint32(0, true);
  if (4 + indexLength > raw.length) throw new SnapshotFormatError('snapshot index runs past the payload');
  let index: { tree: unknown; blobs: Array<{ offset: number; length: number }> };
  try {
    index = JSON.parse(new TextDecoder().decode(raw.subarray(4, 4 + indexLength)));
  } catch {
    throw new SnapshotFormatError('snapshot index is not valid JSON');
  }
  if (!index || !Array.isArray(index.blobs))
    throw new SnapshotFormatError('snapshot index has no blob table');
  const base = (4 + indexLength + 7) & ~7;
  const restore = (value: unknown): StateValue => {
    if (Array.isArray(value)) return value.map(restore);
    if (value !== null && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      if ('$blob' in o) {
        const blob = index.blobs[o.$blob as number];
        const kind = TYPED_ARRAYS[o.$type as TypedArrayName];
        if (!blob || !kind)
          throw new SnapshotFormatError(`snapshot index names a bad blob (${String(o.$blob)})`);
        if (base + blob.offset + blob.length > raw.length)
          throw new SnapshotFormatError('snapshot blob runs past the payload');
        const bytes = raw.slice(base + blob.offset, base + blob.offset + blob.length);
        if (bytes.length % kind.BYTES_PER_ELEMENT !== 0)
          throw new SnapshotFormatError('snapshot blob has a partial element');
        return new kind(bytes.buffer, 0, bytes.length / kind.BYTES_PER_ELEMENT) as StateValue;
      }
      const out: { [field: string]: StateValue } = {};
      for (const [k, v] of Object.entries(o)) out[k] = restore(v);
      return out;
    }
    return value as StateValue;
  };
  return restore(index.tree);
}
