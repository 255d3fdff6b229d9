/**
 * A VM's snapshot tree, the way ESXi's and Proxmox's snapshot managers show it: every snapshot has a
 * parent (or sits directly on the VM's base disks), a name, a description, the time it was taken and
 * whether it holds the machine's memory (taken while running or paused) or only its disks (taken powered
 * off). "You are here" (`current`) is the snapshot the VM's present state descends from: taking a snapshot
 * adds a child there and moves the marker to it; reverting moves the marker to the snapshot reverted to.
 *
 * Disks are stored as layers (disk-layer.ts): each snapshot keeps the sectors that changed since its parent.
 * Deleting a snapshot gives its children to its parent and merges its layer into each child's layer (the
 * child's own sectors win), so the disk every remaining snapshot sees is unchanged; when the deleted
 * snapshot was "you are here", the marker moves to its parent. There is no limit on the number of
 * snapshots or the depth of the tree.
 *
 * Pure data: no storage, no workers. The page (vm-store.ts) keeps the machine states and the encoded
 * layers in storage and uses this tree to decide what a take, revert or delete means.
 */
import {
  diffLayers,
  emptyLayer,
  flattenLayers,
  layerBytes,
  overlayLayers,
  type DiskLayer,
} from './disk-layer.ts';

import type { SnapshotPowerState } from './protocol.ts';

export type { SnapshotPowerState };

export const SNAPSHOT_NAME_MAX = 80;
export const SNAPSHOT_DESCRIPTION_MAX = 2000;
export const SNAPSHOT_TREE_VERSION = 1;

export interface SnapshotNode {
  readonly id: string;
  /** The parent snapshot, or null for a snapshot taken on the VM's base disks. */
  parent: string | null;
  name: string;
  description: string;
  /** When it was taken, ms since the epoch. */
  readonly createdAt: number;
  readonly powerState: SnapshotPowerState;
  /** Size of the stored machine state (CPU, RAM, devices), 0 for a powered-off snapshot. */
  readonly machineBytes: number;
  /** The disk sectors that changed since the parent snapshot. */
  layer: DiskLayer;
}

/** The tree without its layers, as JSON (the layers are stored beside it, one record per snapshot). */
export interface SnapshotTreeJson {
  version: number;
  current: string | null;
  nextId: number;
  nodes: Array<Omit<SnapshotNode, 'layer'>>;
}

export interface TakeRequest {
  name: string;
  description?: string;
  powerState: SnapshotPowerState;
  machineBytes: number;
  /** The VM's disks now, as everything written since the base. */
  liveDisk: DiskLayer;
  /**
   * What the tree's layers lie on when that is not the bare images: a linked clone's shared base (the
   * disk of the snapshot it was cloned from). `liveDisk` then includes the base's sectors.
   */
  base?: DiskLayer;
  /** Time of the snapshot (ms since the epoch). */
  now: number;
}

/** What deleting a snapshot changed. */
export interface DeleteResult {
  removed: SnapshotNode;
  /** Children that moved to the removed snapshot's parent; their layers now include its sectors. */
  changed: SnapshotNode[];
}

/** Checks a snapshot name and description; returns the cleaned values or throws a message to show. */
export function checkSnapshotText(name: string, description = ''): { name: string; description: string } {
  const clean = name.trim();
  if (!clean) throw new Error('the snapshot needs a name');
  if (clean.length > SNAPSHOT_NAME_MAX) {
    throw new Error(
      `a snapshot name is at most ${SNAPSHOT_NAME_MAX} characters (this one has ${clean.length})`,
    );
  }
  const text = description.trim();
  if (text.length > SNAPSHOT_DESCRIPTION_MAX) {
    throw new Error(`a snapshot description is at most ${SNAPSHOT_DESCRIPTION_MAX} characters`);
  }
  return { name: clean, description: text };
}

export class SnapshotTree {
  private readonly nodes = new Map<string, SnapshotNode>();
  private currentId: string | null = null;
  private nextId = 1;

  /** "You are here": the snapshot the VM's present state descends from (null: the base disks). */
  get current(): string | null {
    return this.currentId;
  }

  get size(): number {
    return this.nodes.size;
  }

  get(id: string): SnapshotNode | undefined {
    return this.nodes.get(id);
  }

  /** Every snapshot, oldest first. */
  list(): SnapshotNode[] {
    return [...this.nodes.values()].sort(byAge);
  }

  /** The snapshots whose parent is `id` (null: those on the base disks), oldest first. */
  children(id: string | null): SnapshotNode[] {
    return [...this.nodes.values()].filter((n) => n.parent === id).sort(byAge);
  }

  /** The snapshots from the top of the tree down to `id`, inclusive. */
  path(id: string | null): SnapshotNode[] {
    const out: SnapshotNode[] = [];
    for (let at = id; at !== null;) {
      const node = this.mustGet(at);
      out.push(node);
      at = node.parent;
      if (out.length > this.nodes.size) throw new Error('the snapshot tree has a cycle');
    }
    return out.reverse();
  }

  /** The disk at a snapshot (null: the base disks), as a layer over the base. */
  diskAt(id: string | null): DiskLayer {
    return flattenLayers(this.path(id).map((n) => n.layer));
  }

  /** Depth of a snapshot (1 for one on the base disks). */
  depth(id: string): number {
    return this.path(id).length;
  }

  /** Takes a snapshot as a child of "you are here" and moves the marker to it. */
  take(request: TakeRequest): SnapshotNode {
    const { name, description } = checkSnapshotText(request.name, request.description);
    if (!(request.machineBytes >= 0)) throw new Error('machine state size must not be negative');
    if ((request.powerState === 'off') !== (request.machineBytes === 0)) {
      throw new Error(
        request.powerState === 'off'
          ? 'a powered-off snapshot holds no machine state'
          : `a ${request.powerState} snapshot needs the machine state`,
      );
    }
    let id = `s${this.nextId++}`;
    while (this.nodes.has(id)) id = `s${this.nextId++}`;
    const node: SnapshotNode = {
      id,
      parent: this.currentId,
      name,
      description,
      createdAt: request.now,
      powerState: request.powerState,
      machineBytes: request.machineBytes,
      layer: diffLayers(
        request.liveDisk,
        request.base ? overlayLayers(request.base, this.diskAt(this.currentId)) : this.diskAt(this.currentId),
      ),
    };
    this.nodes.set(id, node);
    this.currentId = id;
    return node;
  }

  /** Moves "you are here" to `id`; returns the snapshot and its disk (a layer over the base). */
  revert(id: string): { node: SnapshotNode; disk: DiskLayer } {
    const node = this.mustGet(id);
    const disk = this.diskAt(id);
    this.currentId = id;
    return { node, disk };
  }

  /** Renames a snapshot or changes its description. */
  edit(id: string, name: string, description: string): SnapshotNode {
    const node = this.mustGet(id);
    const clean = checkSnapshotText(name, description);
    node.name = clean.name;
    node.description = clean.description;
    return node;
  }

  /**
   * Deletes one snapshot. Its children move to its parent, each with the deleted layer merged under its
   * own, so their disks stay what they were; "you are here" moves to the parent if it was on this one.
   */
  delete(id: string): DeleteResult {
    const removed = this.mustGet(id);
    const changed: SnapshotNode[] = [];
    for (const child of this.children(id)) {
      child.layer = overlayLayers(removed.layer, child.layer);
      child.parent = removed.parent;
      changed.push(child);
    }
    this.nodes.delete(id);
    if (this.currentId === id) this.currentId = removed.parent;
    return { removed, changed };
  }

  /**
   * Keeps only the snapshots in `keep` and their ancestors (what linked clones still read through) and
   * removes the rest; returns the removed ones. No kept snapshot descends from a removed one, so every
   * kept snapshot's disk is unchanged. "You are here" moves to the top when its snapshot goes.
   */
  prune(keep: Iterable<string>): SnapshotNode[] {
    const kept = new Set<string>();
    for (const id of keep) for (const node of this.path(id)) kept.add(node.id);
    const removed = this.list().filter((node) => !kept.has(node.id));
    for (const node of removed) this.nodes.delete(node.id);
    if (this.currentId !== null && !kept.has(this.currentId)) this.currentId = null;
    return removed;
  }

  /** Bytes of disk sectors the snapshots hold in their layers. */
  layerBytes(): number {
    let n = 0;
    for (const node of this.nodes.values()) n += layerBytes(node.layer);
    return n;
  }

  toJSON(): SnapshotTreeJson {
    return {
      version: SNAPSHOT_TREE_VERSION,
      current: this.currentId,
      nextId: this.nextId,
      nodes: this.list().map((n) => ({
        id: n.id,
        parent: n.parent,
        name: n.name,
        description: n.description,
        createdAt: n.createdAt,
        powerState: n.powerState,
        machineBytes: n.machineBytes,
      })),
    };
  }

  /**
   * Rebuilds a tree from toJSON's form and each snapshot's layer (missing layers are empty: a snapshot
   * that changed nothing). Throws an Error naming what is inconsistent.
   */
  static fromJSON(json: unknown, layers: ReadonlyMap<string, DiskLayer> = new Map()): SnapshotTree {
    const j = json as SnapshotTreeJson;
    if (!j || typeof j !== 'object' || !Array.isArray(j.nodes)) throw new Error('snapshot tree is malformed');
    if (j.version !== SNAPSHOT_TREE_VERSION) {
      throw new Error(
        `snapshot tree version ${String(j.version)} is not supported (expected ${SNAPSHOT_TREE_VERSION})`,
      );
    }
    const tree = new SnapshotTree();
    for (const n of j.nodes) {
      if (!n || typeof n.id !== 'string' || !n.id)
        throw new Error('snapshot tree has a snapshot without an id');
      if (tree.nodes.has(n.id)) throw new Error(`snapshot tree has two snapshots with id ${n.id}`);
      if (n.parent !== null && typeof n.parent !== 'string')
        throw new Error(`snapshot ${n.id} has a bad parent`);
      if (!['off', 'running', 'paused'].includes(n.powerState)) {
        throw new Error(`snapshot ${n.id} has an unknown power state`);
      }
      if (typeof n.createdAt !== 'number' || typeof n.machineBytes !== 'number') {
        throw new Error(`snapshot ${n.id} is malformed`);
      }
      tree.nodes.set(n.id, {
        id: n.id,
        parent: n.parent,
        name: String(n.name ?? n.id),
        description: String(n.description ?? ''),
        createdAt: n.createdAt,
        powerState: n.powerState,
        machineBytes: n.machineBytes,
        layer: layers.get(n.id) ?? emptyLayer(),
      });
    }
    if (j.current !== null && !tree.nodes.has(j.current)) {
      throw new Error(`snapshot tree's "you are here" names a missing snapshot ${String(j.current)}`);
    }
    tree.currentId = j.current;
    tree.nextId = Number.isInteger(j.nextId) && j.nextId > 0 ? j.nextId : tree.nodes.size + 1;
    tree.check();
    return tree;
  }

  /** Checks the tree's invariants: parents exist, no cycles, "you are here" exists. Throws when broken. */
  check(): void {
    for (const node of this.nodes.values()) {
      if (node.parent !== null && !this.nodes.has(node.parent)) {
        throw new Error(`snapshot ${node.id} has a missing parent ${node.parent}`);
      }
      this.path(node.id); // throws on a cycle
    }
    if (this.currentId !== null && !this.nodes.has(this.currentId)) {
      throw new Error('"you are here" names a missing snapshot');
    }
  }

  private mustGet(id: string): SnapshotNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no snapshot with id ${id}`);
    return node;
  }
}

function byAge(a: SnapshotNode, b: SnapshotNode): number {
  return (
    a.createdAt - b.createdAt || Number(a.id.slice(1)) - Number(b.id.slice(1)) || a.id.localeCompare(b.id)
  );
}
