/**
 * Where the page keeps VMs across reloads: a small key-value store of byte records behind an interface,
 * so the page uses IndexedDB and the tests an in-memory fake with the same behaviour.
 *
 * IndexedDB database "visor86", version 1, two object stores written in one transaction:
 *   records  key -> Uint8Array (the record's bytes)
 *   sizes    key -> number     (its length, so storage use is counted without reading the data)
 *
 * Keys are plain strings; vm-store.ts lays them out per VM ("vm/<id>/meta", "vm/<id>/snap/<sid>/machine").
 * A `commit` writes and deletes several records atomically: a VM import or a snapshot either lands whole or
 * not at all.
 */

export interface StorageBackend {
  get(key: string): Promise<Uint8Array | undefined>;
  /** Writes `put` and deletes `remove` in one transaction. */
  commit(put: ReadonlyMap<string, Uint8Array>, remove?: readonly string[]): Promise<void>;
  /** Every key starting with `prefix`, with its record's size in bytes. */
  list(prefix: string): Promise<Map<string, number>>;
}

/** The in-memory store: tests, and the page when IndexedDB is unavailable (nothing then survives a reload). */
export class MemoryStorage implements StorageBackend {
  readonly records = new Map<string, Uint8Array>();
  /** Fails the next commit with this message (tests of a full disk or a refused write). */
  failNextCommit: string | null = null;

  async get(key: string): Promise<Uint8Array | undefined> {
    const value = this.records.get(key);
    return value?.slice();
  }

  async commit(put: ReadonlyMap<string, Uint8Array>, remove: readonly string[] = []): Promise<void> {
    if (this.failNextCommit) {
      const message = this.failNextCommit;
      this.failNextCommit = null;
      throw new Error(message);
    }
    for (const key of remove) this.records.delete(key);
    for (const [key, value] of put) this.records.set(key, value.slice());
  }

  async list(prefix: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const [key, value] of this.records) if (key.startsWith(prefix)) out.set(key, value.length);
    return out;
  }
}

const DB_NAME = 'visor86';
const DB_VERSION = 1;
const RECORDS = 'records';
const SIZES = 'sizes';

function promised<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

/** The page's store, in IndexedDB. */
export class IndexedDbStorage implements StorageBackend {
  private constructor(private readonly db: IDBDatabase) {}

  /** Opens (and on first use creates) the database. Rejects when IndexedDB is unavailable. */
  static async open(name = DB_NAME): Promise<IndexedDbStorage> {
    if (typeof indexedDB === 'undefined') throw new Error('this browser has no IndexedDB');
    const request = indexedDB.open(name, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(RECORDS)) db.createObjectStore(RECORDS);
      if (!db.objectStoreNames.contains(SIZES)) db.createObjectStore(SIZES);
    };
    const db = await promised(request);
    return new IndexedDbStorage(db);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const value = await promised(this.db.transaction(RECORDS, 'readonly').objectStore(RECORDS).get(key));
    return value instanceof Uint8Array ? value : undefined;
  }

  commit(put: ReadonlyMap<string, Uint8Array>, remove: readonly string[] = []): Promise<void> {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction([RECORDS, SIZES], 'readwrite');
      const records = tx.objectStore(RECORDS);
      const sizes = tx.objectStore(SIZES);
      for (const key of remove) {
        records.delete(key);
        sizes.delete(key);
      }
      for (const [key, value] of put) {
        records.put(value, key);
        sizes.put(value.length, key);
      }
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(storageError(tx.error));
      tx.onerror = () => reject(storageError(tx.error));
    });
  }

  async list(prefix: string): Promise<Map<string, number>> {
    const store = this.db.transaction(SIZES, 'readonly').objectStore(SIZES);
    const range = IDBKeyRange.bound(prefix, prefix + '\uffff');
    const [keys, values] = await Promise.all([
      promised(store.getAllKeys(range)),
      promised(store.getAll(range)),
    ]);
    const out = new Map<string, number>();
    keys.forEach((key, i) => out.set(String(key), Number(values[i]) || 0));
    return out;
  }
}

function storageError(error: DOMException | null): Error {
  if (error?.name === 'QuotaExceededError') {
    return new Error(
      'the browser refused to store more data (storage quota exceeded): delete snapshots or VMs',
    );
  }
  return new Error(`storing failed: ${error?.message ?? 'unknown IndexedDB error'}`);
}

/** A store that waits for the real one to open: the page can start using it at once. */
export class DeferredStorage implements StorageBackend {
  constructor(private readonly ready: Promise<StorageBackend>) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    return (await this.ready).get(key);
  }

  async commit(put: ReadonlyMap<string, Uint8Array>, remove?: readonly string[]): Promise<void> {
    return (await this.ready).commit(put, remove);
  }

  async list(prefix: string): Promise<Map<string, number>> {
    return (await this.ready).list(prefix);
  }
}
