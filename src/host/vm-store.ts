/**
 * The page's VM library: keeps every VM's definition, disks and snapshot tree in storage (storage.ts) so
 * they survive reloads, carries out snapshot take / revert / delete against the hypervisor, and exports
 * and imports VMs and snapshots as single files.
 *
 * Records per VM (keys in the StorageBackend):
 *   vm/<id>/meta                 JSON: name, image, console, configuration without media, snapshot tree
 *   media/<sha256>               snapshot container: boot media (kernel, initrd, disk or floppy image),
 *                                named by its payload hash and shared by every VM made from the same media
 *   vm/<id>/disk                 snapshot container: the disks now, a layer over the media (disk-layer.ts)
 *   vm/<id>/snap/<sid>/machine   snapshot container: Pc.saveState() (running and paused snapshots)
 *   vm/<id>/snap/<sid>/disk      snapshot container: the sectors changed since the parent snapshot
 *
 * Linked clones: a VM made from a snapshot of another VM whose disks are a copy-on-write layer over that
 * snapshot's disk (its "base"): its meta names { vm, snapshot }, its disk and snapshot layers hold only its
 * own sectors, and the source's layers on the path to that snapshot are read, never copied. The source
 * snapshot cannot be deleted while a clone uses it; a deleted source VM keeps the records its clones read
 * through (meta with `retired: true`, its snapshot layers on those paths, nothing else) until the last of
 * them is deleted or made independent. A linked clone's export holds its whole disk (self-contained).
 *
 * Export file: one snapshot container (magic "VISOR86S", version, SHA-256, gzip) whose state tree is
 * { format: 'visor86-export', version, kind: 'vm' | 'snapshot', vm, media, disk, tree, snapshots }; every
 * machine state and layer inside is itself a container with its own hash. Import checks the file's hash,
 * version and every part before it creates anything: a corrupted, truncated or wrong-version file is
 * refused with a message that says which, and existing VMs are not touched.
 *
 * Operations on one VM run one at a time (a per-VM queue); the running VM's disks are saved when it
 * powers off, after each snapshot operation, and every few seconds while its guest writes.
 */
import {
  SnapshotFormatError,
  decodeSnapshot,
  encodeSnapshot,
  verifySnapshot,
  type StateValue,
} from '../machine/snapshot-file.ts';
import type { Hypervisor, HypervisorEvent, VmRecord } from './hypervisor.ts';
import type { BootMedia, VmConfig } from './protocol.ts';
import {
  diffLayers,
  emptyLayer,
  layerFromState,
  layerToState,
  overlayLayers,
  type DiskLayer,
} from './disk-layer.ts';
import {
  SnapshotTree,
  checkSnapshotText,
  type SnapshotNode,
  type SnapshotTreeJson,
} from './snapshot-tree.ts';
import type { StorageBackend } from './storage.ts';
import { isPoweredOn } from './lifecycle.ts';

export const EXPORT_FORMAT = 'visor86-export';
export const EXPORT_VERSION = 1;
export const EXPORT_EXTENSION = '.visor86';
const META_FORMAT = 'visor86-vm';
const META_VERSION = 1;
/** How often the disks of a VM whose guest writes are saved. */
export const DISK_SAVE_INTERVAL_MS = 3000;

/** Progress of a long operation: `done` of `total` units (bytes or records), and what is happening. */
export type Progress = (done: number, total: number, phase: string) => void;

/** Bytes a VM takes in storage. */
export interface VmUsage {
  /** Definition and boot media. */
  definition: number;
  /** The disks now (the written sectors). */
  disks: number;
  /** Snapshots: machine states and their disk layers. */
  snapshots: number;
  /** Definition, disks and snapshots: the bytes this VM owns (shared media included). */
  total: number;
  /**
   * A linked clone's base: the bytes of other VMs' snapshot layers its disks read through. Not in
   * `total` (they are counted with the VM that owns them), so the VMs' totals never count them twice.
   */
  shared: number;
}

/** Where a linked clone's disks lie: the disk of `snapshot` of VM `vm` (which may itself be a clone). */
export interface LinkedBase {
  vm: string;
  snapshot: string;
}

/** What the page shows about a linked clone's base. */
export interface LinkedInfo extends LinkedBase {
  /** The source VM's name. */
  vmName: string;
  snapshotName: string;
  /** The source VM was deleted: its records stay while linked clones read through them. */
  sourceDeleted: boolean;
}

export type VmStoreEvent =
  | { type: 'snapshots'; vmId: string }
  | { type: 'usage'; vmId: string | null }
  | { type: 'error'; vmId: string | null; message: string };

interface VmMeta {
  format: string;
  version: number;
  id: string;
  name: string;
  image: string;
  console?: 'serial' | 'vga';
  createdAt: number;
  config: Omit<VmConfig, 'media' | 'name'>;
  /** The media record's hash (key `media/<hash>`). */
  media: string;
  tree: SnapshotTreeJson;
  /** A linked clone: the snapshot its disks lie on. */
  linked?: LinkedBase;
  /** A deleted VM whose snapshot layers linked clones still read through (not loaded as a VM). */
  retired?: boolean;
}

/** The name of a media container in storage: the hex SHA-256 its header carries. */
function mediaHash(container: Uint8Array): string {
  return Array.from(container.subarray(16, 48), (b) => b.toString(16).padStart(2, '0')).join('');
}

const key = {
  prefix: (vm: string) => `vm/${vm}/`,
  meta: (vm: string) => `vm/${vm}/meta`,
  /** Boot media, shared: named by the SHA-256 of the container's payload (bytes 16-47 of its header). */
  media: (hash: string) => `media/${hash}`,
  disk: (vm: string) => `vm/${vm}/disk`,
  machine: (vm: string, snap: string) => `vm/${vm}/snap/${snap}/machine`,
  layer: (vm: string, snap: string) => `vm/${vm}/snap/${snap}/disk`,
};

/** The queue of operations that change which VMs linked clones read through (deletes, retiring). */
const LINKS = '#linked-clones';

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const encodeLayer = (layer: DiskLayer) => encodeSnapshot(layerToState(layer));

export class VmStore {
  private readonly trees = new Map<string, SnapshotTree>();
  private readonly usageById = new Map<string, VmUsage>();
  /** Bytes of every record (shared media counted once). */
  private totalBytes = 0;
  /** The media hash of each stored VM. */
  private readonly mediaOf = new Map<string, string>();
  private readonly persisted = new Set<string>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly listeners = new Set<(event: VmStoreEvent) => void>();
  /** The last disk save per VM; `unsaved`: the guest wrote since (a save waiting for the interval). */
  private readonly lastDiskSave = new Map<string, { at: number; writes: number; unsaved?: boolean }>();
  /** The name each VM has in storage (a rename is saved). */
  private readonly savedNames = new Map<string, string>();
  /** Linked clones (live and retired) and the snapshot each one's disks lie on. */
  private readonly links = new Map<string, LinkedBase>();
  /** Deleted VMs kept for their linked clones, by their kept id. Their trees stay in `trees`. */
  private readonly retired = new Map<string, VmMeta>();
  /** Each linked clone's base disk (it never changes: deleting other snapshots keeps every disk). */
  private readonly baseCache = new Map<string, DiskLayer>();
  private readonly now: () => number;

  constructor(
    readonly hypervisor: Hypervisor,
    private readonly backend: StorageBackend,
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? (() => Date.now());
    hypervisor.subscribe((event) => this.onHypervisorEvent(event));
  }

  subscribe(listener: (event: VmStoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The VM's snapshot tree (empty for a VM without snapshots). */
  tree(vmId: string): SnapshotTree {
    let tree = this.trees.get(vmId);
    if (!tree) this.trees.set(vmId, (tree = new SnapshotTree()));
    return tree;
  }

  usage(vmId: string): VmUsage {
    return this.usageById.get(vmId) ?? { definition: 0, disks: 0, snapshots: 0, total: 0, shared: 0 };
  }

  /** Bytes all VMs take in storage (media shared by several VMs counted once). */
  totalUsage(): number {
    return this.totalBytes;
  }

  /**
   * Loads every stored VM into the hypervisor (powered off, on its saved disks, with its snapshot tree).
   * A VM whose records are unreadable is left in storage and named in the returned problems.
   */
  async restore(): Promise<{ restored: VmRecord[]; problems: string[] }> {
    const keys = await this.backend.list('vm/');
    const ids = [...new Set([...keys.keys()].map((k) => k.split('/')[1]))].filter((id) =>
      keys.has(key.meta(id)),
    );
    const metas: VmMeta[] = [];
    const problems: string[] = [];
    for (const id of ids) {
      try {
        metas.push(parseMeta(await this.backend.get(key.meta(id)), id));
      } catch (e) {
        problems.push(`stored VM ${id}: ${errorText(e)}`);
      }
    }
    metas.sort((a, b) => a.createdAt - b.createdAt);
    // Every tree first: a linked clone's disks read through its source's snapshot layers.
    const loaded: VmMeta[] = [];
    for (const meta of metas) {
      try {
        this.trees.set(meta.id, await this.treeOf(meta));
        if (meta.linked) this.links.set(meta.id, meta.linked);
        if (meta.retired) this.retired.set(meta.id, meta);
        else loaded.push(meta);
      } catch (e) {
        problems.push(`stored VM "${meta.name}" could not be loaded: ${errorText(e)}`);
      }
    }
    const restored: VmRecord[] = [];
    for (const meta of loaded) {
      try {
        const media = mediaFromState(await decodeSnapshot(await this.mustGet(key.media(meta.media))));
        this.mediaOf.set(meta.id, meta.media);
        const disk = await this.fullDisk(meta.id, await this.backend.get(key.disk(meta.id)));
        this.persisted.add(meta.id);
        const record = await this.hypervisor.createVm(
          { ...meta.config, name: meta.name, media },
          meta.image,
          {
            id: meta.id,
            console: meta.console,
            disk,
            createdAt: meta.createdAt,
          },
        );
        restored.push(record);
        await this.refreshUsage(meta.id);
      } catch (e) {
        this.persisted.delete(meta.id);
        if (this.clonesOf(meta.id).length === 0) this.trees.delete(meta.id); // its clones may still load
        problems.push(`stored VM "${meta.name}" could not be loaded: ${errorText(e)}`);
      }
    }
    return { restored, problems };
  }

  // ---- keeping VMs in storage ----

  private onHypervisorEvent(event: HypervisorEvent): void {
    const vm = event.vm;
    switch (event.type) {
      case 'added':
        if (!this.persisted.has(vm.id)) {
          this.persisted.add(vm.id);
          void this.queue(vm.id, () => this.saveNewVm(vm)).catch((e) => this.report(vm.id, e));
        }
        return;
      case 'removed':
        this.persisted.delete(vm.id);
        if (this.clonesOf(vm.id).length === 0) this.trees.delete(vm.id);
        void this.queue(vm.id, () => this.queue(LINKS, () => this.dropVm(vm))).catch((e) =>
          this.report(vm.id, e),
        );
        return;
      case 'changed': {
        // Powered off: keep its disks. Renamed: keep the name.
        if (!this.persisted.has(vm.id)) return;
        if (vm.state === 'off') this.saveDisksSoon(vm, true);
        if (this.savedNames.has(vm.id) && this.savedNames.get(vm.id) !== vm.name) {
          this.savedNames.set(vm.id, vm.name);
          this.saveMeta(vm.id).catch((e) => this.report(vm.id, e));
        }
        return;
      }
      case 'stats':
        if (isPoweredOn(vm.state)) this.saveDisksSoon(vm, false);
        return;
    }
  }

  /** Saves the VM's disks when its guest wrote since the last save (at most every DISK_SAVE_INTERVAL_MS). */
  private saveDisksSoon(vm: VmRecord, force: boolean): void {
    const last = this.lastDiskSave.get(vm.id) ?? { at: 0, writes: 0 };
    const writes = vm.stats.diskWrites;
    if (writes === last.writes && !force) return;
    if (!force && this.now() - last.at < DISK_SAVE_INTERVAL_MS) {
      this.lastDiskSave.set(vm.id, { ...last, unsaved: true });
      return;
    }
    // The write counters restart at a revert and read 0 once off: only `unsaved` says what was written.
    if (force && writes === last.writes && last.at > 0 && !last.unsaved) return;
    this.lastDiskSave.set(vm.id, { at: this.now(), writes });
    void this.queue(vm.id, () => this.saveDisks(vm.id)).catch((e) => this.report(vm.id, e));
  }

  private async saveDisks(vmId: string): Promise<void> {
    if (!this.persisted.has(vmId) || !this.hypervisor.get(vmId)) return;
    const disk = await this.hypervisor.saveDisks(vmId);
    if (!disk || !this.persisted.has(vmId)) return;
    await this.backend.commit(new Map([[key.disk(vmId), await this.ownDisk(vmId, disk)]]));
    await this.refreshUsage(vmId);
  }

  private async saveNewVm(vm: VmRecord): Promise<void> {
    if (!this.hypervisor.get(vm.id)) return;
    const media = await encodeSnapshot(mediaToState(vm.config.media));
    this.mediaOf.set(vm.id, mediaHash(media));
    const put = new Map<string, Uint8Array>([[key.meta(vm.id), json(this.meta(vm))]]);
    if ((await this.backend.list(key.media(mediaHash(media)))).size === 0)
      put.set(key.media(mediaHash(media)), media);
    await this.backend.commit(put);
    await this.refreshUsage(vm.id);
  }

  /** Saves the VM's name (after a rename). */
  async saveMeta(vmId: string): Promise<void> {
    await this.queue(vmId, async () => {
      const vm = this.hypervisor.get(vmId);
      if (vm && this.persisted.has(vmId))
        await this.backend.commit(new Map([[key.meta(vmId), json(this.meta(vm))]]));
    });
  }

  private meta(vm: VmRecord): VmMeta {
    this.savedNames.set(vm.id, vm.name);
    const { media: _media, name: _name, ...config } = vm.config;
    void _media;
    void _name;
    return {
      format: META_FORMAT,
      version: META_VERSION,
      id: vm.id,
      name: vm.name,
      image: vm.image,
      console: vm.console,
      createdAt: vm.createdAt,
      config,
      media: this.mediaOf.get(vm.id) ?? '',
      tree: this.tree(vm.id).toJSON(),
      linked: this.links.get(vm.id),
    };
  }

  // ---- snapshots ----

  /** Takes a snapshot of the VM as it is now (running, paused or off) under "you are here". */
  takeSnapshot(vmId: string, name: string, description = ''): Promise<SnapshotNode> {
    let text: { name: string; description: string };
    try {
      text = checkSnapshotText(name, description); // refuse a bad name before anything happens
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return this.queue(vmId, async () => {
      const vm = this.mustVm(vmId);
      const captured = await this.hypervisor.captureSnapshot(vmId);
      const live = layerFromState(await decodeSnapshot(captured.disk));
      const tree = this.tree(vmId);
      const node = tree.take({
        ...text,
        powerState: captured.powerState,
        machineBytes: captured.machine?.length ?? 0,
        liveDisk: live,
        base: this.links.has(vmId) ? this.baseOf(vmId) : undefined,
        now: this.now(),
      });
      try {
        const put = new Map<string, Uint8Array>([
          [key.layer(vmId, node.id), await encodeLayer(node.layer)],
          [key.disk(vmId), await this.ownDisk(vmId, captured.disk)],
          [key.meta(vmId), json(this.meta(vm))],
        ]);
        if (captured.machine) put.set(key.machine(vmId, node.id), captured.machine);
        await this.backend.commit(put);
      } catch (e) {
        tree.delete(node.id); // no children yet: this only undoes the take
        throw e;
      }
      this.emit({ type: 'snapshots', vmId });
      await this.refreshUsage(vmId);
      return node;
    });
  }

  /** Reverts the VM to a snapshot: disks and (for a running or paused one) the machine, resuming there. */
  revert(vmId: string, snapshotId: string): Promise<void> {
    return this.queue(vmId, async () => {
      const vm = this.mustVm(vmId);
      const tree = this.tree(vmId);
      const node = tree.get(snapshotId);
      if (!node) throw new Error(`${vm.name} has no snapshot ${snapshotId}`);
      let machine: Uint8Array | null = null;
      if (node.powerState !== 'off') {
        machine = (await this.backend.get(key.machine(vmId, snapshotId))) ?? null;
        if (!machine) throw new Error(`the machine state of snapshot "${node.name}" is missing from storage`);
      }
      const own = tree.diskAt(snapshotId); // a linked clone's: over its base
      const disk = await encodeLayer(this.links.has(vmId) ? overlayLayers(this.baseOf(vmId), own) : own);
      await this.hypervisor.loadSnapshot(vmId, { powerState: node.powerState, machine, disk });
      tree.revert(snapshotId);
      await this.backend.commit(
        new Map([
          [key.disk(vmId), this.links.has(vmId) ? await encodeLayer(own) : disk],
          [key.meta(vmId), json(this.meta(vm))],
        ]),
      );
      this.lastDiskSave.set(vmId, { at: this.now(), writes: vm.stats.diskWrites });
      this.emit({ type: 'snapshots', vmId });
      await this.refreshUsage(vmId);
    });
  }

  /** Deletes one snapshot; its children keep the disk they had (its sectors are merged into theirs). */
  deleteSnapshot(vmId: string, snapshotId: string): Promise<void> {
    return this.queue(vmId, async () => {
      const vm = this.mustVm(vmId);
      const tree = this.tree(vmId);
      const doomed = tree.get(snapshotId);
      if (!doomed) throw new Error(`${vm.name} has no snapshot ${snapshotId}`);
      const clones = this.clonesOf(vmId, snapshotId);
      if (clones.length > 0) {
        const one = clones.length === 1;
        throw new Error(
          `snapshot "${doomed.name}" is the shared disk of the linked clone${one ? '' : 's'} ${clones.join(', ')}: ` +
            `delete ${one ? 'it' : 'them'} or make ${one ? 'it' : 'them'} independent first`,
        );
      }
      const { changed } = tree.delete(snapshotId);
      const put = new Map<string, Uint8Array>([[key.meta(vmId), json(this.meta(vm))]]);
      for (const child of changed) put.set(key.layer(vmId, child.id), await encodeLayer(child.layer));
      try {
        await this.backend.commit(put, [key.machine(vmId, snapshotId), key.layer(vmId, snapshotId)]);
      } catch (e) {
        this.trees.set(vmId, await this.loadTree(vmId)); // storage is unchanged: so is the tree
        throw e;
      }
      this.emit({ type: 'snapshots', vmId });
      await this.refreshUsage(vmId);
    });
  }

  /** Renames a snapshot or changes its description. */
  editSnapshot(vmId: string, snapshotId: string, name: string, description: string): Promise<void> {
    return this.queue(vmId, async () => {
      const vm = this.mustVm(vmId);
      const node = this.tree(vmId).get(snapshotId);
      if (!node) throw new Error(`${vm.name} has no snapshot ${snapshotId}`);
      const before = { name: node.name, description: node.description };
      this.tree(vmId).edit(snapshotId, name, description);
      try {
        await this.backend.commit(new Map([[key.meta(vmId), json(this.meta(vm))]]));
      } catch (e) {
        this.tree(vmId).edit(snapshotId, before.name, before.description);
        throw e;
      }
      this.emit({ type: 'snapshots', vmId });
    });
  }

  private async loadTree(vmId: string): Promise<SnapshotTree> {
    return this.treeOf(parseMeta(await this.backend.get(key.meta(vmId)), vmId));
  }

  /** A stored VM's snapshot tree with its layers. */
  private async treeOf(meta: VmMeta): Promise<SnapshotTree> {
    const vmId = meta.id;
    const layers = new Map<string, DiskLayer>();
    for (const node of meta.tree.nodes) {
      const bytes = await this.backend.get(key.layer(vmId, node.id));
      if (bytes) layers.set(node.id, layerFromState(await decodeSnapshot(bytes)));
    }
    return SnapshotTree.fromJSON(meta.tree, layers);
  }

  // ---- linked clones ----

  /**
   * A linked clone: a new VM whose disks are an empty copy-on-write layer over the disk of one of this
   * VM's snapshots, reading that snapshot's stored layers in place (only the machine state is copied),
   * with that snapshot as its one snapshot and "you are here", so reverting to it resumes the machine
   * there. Its writes and its own snapshots stay in its own layers. `snapshotId` null: a new VM on this
   * VM's base disks (a linked clone's clone shares the same base; otherwise the bare images).
   */
  linkedClone(vmId: string, snapshotId: string | null, progress: Progress = () => {}): Promise<VmRecord> {
    return this.queue(vmId, async () => {
      const vm = this.mustVm(vmId);
      const node = snapshotId === null ? null : this.tree(vmId).get(snapshotId);
      if (snapshotId !== null && !node) throw new Error(`${vm.name} has no snapshot ${snapshotId}`);
      progress(0, 3, 'reading the snapshot');
      let machine: Uint8Array | null = null;
      if (node && node.powerState !== 'off') {
        machine = (await this.backend.get(key.machine(vmId, node.id))) ?? null;
        if (!machine) throw new Error(`the machine state of snapshot "${node.name}" is missing from storage`);
      }
      const link = node ? { vm: vmId, snapshot: node.id } : this.links.get(vmId);
      const base = node
        ? overlayLayers(this.baseOf(vmId), this.tree(vmId).diskAt(node.id))
        : this.baseOf(vmId);
      progress(1, 3, 'creating the VM');
      const stem = `${vm.name}${node ? `-${node.name}` : ''}`.slice(0, 33).trim();
      const record = await this.hypervisor.createVm(
        { ...vm.config, name: this.freeName(`${stem}-linked`) },
        vm.image,
        { console: vm.console, disk: await encodeLayer(base) },
      );
      const cloneId = record.id;
      if (link) {
        this.links.set(cloneId, { ...link });
        this.baseCache.set(cloneId, base);
      }
      const tree = new SnapshotTree();
      const copy = node
        ? tree.take({
            name: node.name,
            description: node.description,
            powerState: node.powerState,
            machineBytes: node.machineBytes,
            liveDisk: base,
            base,
            now: node.createdAt,
          })
        : null;
      try {
        // The 'added' event queued saving the definition and media; the rest goes with it.
        await this.queue(cloneId, async () => {
          this.trees.set(cloneId, tree);
          const put = new Map<string, Uint8Array>([
            [key.meta(cloneId), json(this.meta(record))],
            [key.disk(cloneId), await encodeLayer(emptyLayer())],
          ]);
          if (copy) {
            put.set(key.layer(cloneId, copy.id), await encodeLayer(copy.layer));
            if (machine) put.set(key.machine(cloneId, copy.id), machine);
          }
          progress(2, 3, 'storing');
          await this.backend.commit(put);
          this.emit({ type: 'snapshots', vmId: cloneId });
          await this.refreshUsage(cloneId);
        });
      } catch (e) {
        this.hypervisor.deleteVm(cloneId);
        throw e;
      }
      progress(3, 3, 'done');
      return record;
    });
  }

  /**
   * Makes a linked clone independent: its base's sectors go into its own records (the disks now, and the
   * snapshots at the top of its tree), so it no longer reads through the source, whose snapshot can then
   * be deleted. Storage grows by the base's size.
   */
  makeIndependent(vmId: string, progress: Progress = () => {}): Promise<void> {
    return this.queue(vmId, async () => {
      const vm = this.mustVm(vmId);
      const link = this.links.get(vmId);
      if (!link) throw new Error(`${vm.name} is not a linked clone`);
      progress(0, 2, 'copying the shared disk');
      const base = this.baseOf(vmId);
      const roots = this.tree(vmId)
        .children(null)
        .map((node) => ({ node, layer: overlayLayers(base, node.layer) }));
      const own = await this.backend.get(key.disk(vmId));
      const disk = overlayLayers(base, own ? layerFromState(await decodeSnapshot(own)) : emptyLayer());
      this.links.delete(vmId);
      const put = new Map<string, Uint8Array>([
        [key.meta(vmId), json(this.meta(vm))],
        [key.disk(vmId), await encodeLayer(disk)],
      ]);
      for (const { node, layer } of roots) put.set(key.layer(vmId, node.id), await encodeLayer(layer));
      progress(1, 2, 'storing');
      try {
        await this.backend.commit(put);
      } catch (e) {
        this.links.set(vmId, link);
        throw e;
      }
      for (const { node, layer } of roots) node.layer = layer;
      this.baseCache.delete(vmId);
      await this.queue(LINKS, () => this.collect(link.vm));
      this.emit({ type: 'snapshots', vmId });
      await this.refreshUsage(vmId);
      progress(2, 2, 'done');
    });
  }

  /** A linked clone's base (which VM and snapshot its disks read through), or null for other VMs. */
  linkedInfo(vmId: string): LinkedInfo | null {
    const link = this.links.get(vmId);
    if (!link) return null;
    const retired = this.retired.get(link.vm);
    return {
      ...link,
      vmName: retired?.name ?? this.hypervisor.get(link.vm)?.name ?? link.vm,
      snapshotName: this.trees.get(link.vm)?.get(link.snapshot)?.name ?? link.snapshot,
      sourceDeleted: !!retired,
    };
  }

  /**
   * The names of the VMs that read through a VM's snapshots (only `snapshotId`'s, when given): its linked
   * clones, and theirs when a clone was deleted and kept for them.
   */
  clonesOf(vmId: string, snapshotId?: string): string[] {
    const out: string[] = [];
    for (const [id, link] of this.links) {
      if (link.vm !== vmId || (snapshotId !== undefined && link.snapshot !== snapshotId)) continue;
      if (this.retired.has(id)) out.push(...this.clonesOf(id));
      else out.push(this.hypervisor.get(id)?.name ?? id);
    }
    return out;
  }

  /** The disk a VM's layers lie on: empty on the bare images, a linked clone's base otherwise. */
  private baseOf(vmId: string): DiskLayer {
    const link = this.links.get(vmId);
    if (!link) return emptyLayer();
    let base = this.baseCache.get(vmId);
    if (!base) {
      const tree = this.trees.get(link.vm);
      if (!tree?.get(link.snapshot)) {
        throw new Error(`its linked base (snapshot ${link.snapshot} of ${link.vm}) is missing from storage`);
      }
      base = overlayLayers(this.baseOf(link.vm), tree.diskAt(link.snapshot));
      this.baseCache.set(vmId, base);
    }
    return base;
  }

  /** The worker's disk container (everything written over the images) as the VM's own stored disk. */
  private async ownDisk(vmId: string, full: Uint8Array): Promise<Uint8Array> {
    if (!this.links.has(vmId)) return full;
    return encodeLayer(diffLayers(layerFromState(await decodeSnapshot(full)), this.baseOf(vmId)));
  }

  /** A stored disk container as the worker's (a linked clone's own sectors over its base). */
  private async fullDisk(vmId: string, own: Uint8Array | undefined): Promise<Uint8Array | undefined> {
    if (!this.links.has(vmId)) return own;
    const layer = own ? layerFromState(await decodeSnapshot(own)) : emptyLayer();
    return encodeLayer(overlayLayers(this.baseOf(vmId), layer));
  }

  /** The snapshot ids of `vmId` that linked clones (live or kept) read through. */
  private clonedSnapshots(vmId: string): Set<string> {
    const out = new Set<string>();
    for (const link of this.links.values()) if (link.vm === vmId) out.add(link.snapshot);
    return out;
  }

  /**
   * Removes a deleted VM's records. When linked clones read through its snapshots it is kept instead
   * ("retired"): under a new id no VM can be given (ids are [\w-]; this one has a dot), with its meta and
   * the layers on the clones' paths; its disks, machine states and other snapshots go.
   */
  private async dropVm(vm: VmRecord): Promise<void> {
    const keys = [...(await this.backend.list(key.prefix(vm.id))).keys()];
    const media = this.mediaOf.get(vm.id);
    this.mediaOf.delete(vm.id);
    if (media && ![...this.mediaOf.values()].includes(media)) keys.push(key.media(media));
    const dependents = [...this.links].filter(([, link]) => link.vm === vm.id);
    const tree = this.trees.get(vm.id);
    const ownLink = this.links.get(vm.id);
    if (dependents.length === 0 || !tree) {
      await this.backend.commit(new Map(), keys);
      this.trees.delete(vm.id);
      this.links.delete(vm.id);
      this.baseCache.delete(vm.id);
      if (ownLink) await this.collect(ownLink.vm);
    } else {
      const keptId = `${vm.id}.kept${vm.createdAt}`;
      tree.prune(dependents.map(([, link]) => link.snapshot));
      const meta: VmMeta = { ...this.meta(vm), id: keptId, retired: true };
      this.savedNames.delete(vm.id);
      const put = new Map<string, Uint8Array>([[key.meta(keptId), json(meta)]]);
      for (const node of tree.list()) {
        const bytes = await this.backend.get(key.layer(vm.id, node.id));
        if (bytes) put.set(key.layer(keptId, node.id), bytes);
      }
      for (const [id, link] of dependents) this.links.set(id, { vm: keptId, snapshot: link.snapshot });
      for (const [id] of dependents) {
        const clone = this.hypervisor.get(id);
        const kept = this.retired.get(id);
        if (clone && this.persisted.has(id)) put.set(key.meta(id), json(this.meta(clone)));
        else if (kept) {
          kept.linked = this.links.get(id);
          put.set(key.meta(id), json(kept));
        }
      }
      try {
        await this.backend.commit(put, keys);
      } catch (e) {
        for (const [id, link] of dependents) this.links.set(id, link);
        throw e;
      }
      this.links.delete(vm.id);
      if (ownLink) this.links.set(keptId, ownLink);
      const base = this.baseCache.get(vm.id);
      this.baseCache.delete(vm.id);
      if (base) this.baseCache.set(keptId, base);
      this.trees.delete(vm.id);
      this.trees.set(keptId, tree);
      this.retired.set(keptId, meta);
      // A clone's definition written meanwhile by its own queue must name the new id too.
      for (const [id] of dependents) {
        if (this.hypervisor.get(id)) this.saveMeta(id).catch((e) => this.report(id, e));
      }
    }
    this.usageById.delete(vm.id);
    await this.refreshUsage(null);
  }

  /**
   * Prunes a kept (retired) VM to what linked clones still read, and deletes it once none does. Runs in
   * the LINKS queue, as dropVm does: two VMs of one chain deleted at once see each other's changes.
   */
  private async collect(vmId: string): Promise<void> {
    const meta = this.retired.get(vmId);
    if (!meta) return;
    const tree = this.trees.get(vmId);
    const keep = this.clonedSnapshots(vmId);
    if (keep.size === 0 || !tree) {
      await this.backend.commit(new Map(), [...(await this.backend.list(key.prefix(vmId))).keys()]);
      this.retired.delete(vmId);
      this.trees.delete(vmId);
      this.baseCache.delete(vmId);
      const link = this.links.get(vmId);
      this.links.delete(vmId);
      if (link) await this.collect(link.vm);
    } else {
      const removed = tree.prune(keep);
      if (removed.length === 0) return;
      meta.tree = tree.toJSON();
      await this.backend.commit(
        new Map([[key.meta(vmId), json(meta)]]),
        removed.map((node) => key.layer(vmId, node.id)),
      );
    }
    await this.refreshUsage(null);
  }

  /** Bytes of other VMs' snapshot layers a linked clone's disks read through. */
  private sharedBytes(vmId: string, sizes: ReadonlyMap<string, number>): number {
    let n = 0;
    for (let link = this.links.get(vmId), depth = 0; link && depth < 10_000; depth++) {
      const tree = this.trees.get(link.vm);
      if (!tree?.get(link.snapshot)) break;
      for (const node of tree.path(link.snapshot)) n += sizes.get(key.layer(link.vm, node.id)) ?? 0;
      link = this.links.get(link.vm);
    }
    return n;
  }

  // ---- export and import ----

  /** The whole VM (definition, media, disks, every snapshot) as one file. */
  exportVm(vmId: string, progress: Progress = () => {}): Promise<Uint8Array> {
    return this.queue(vmId, async () => {
      const vm = this.mustVm(vmId);
      progress(0, 1, 'saving the disks');
      await this.saveDisksNow(vmId);
      const tree = this.tree(vmId);
      const nodes = tree.list();
      const keys = await this.backend.list(key.prefix(vmId));
      const total = [...keys.values()].reduce((a, b) => a + b, 0);
      let done = 0;
      const read = async (k: string) => {
        const bytes = await this.backend.get(k);
        done += bytes?.length ?? 0;
        progress(done, total, 'reading from storage');
        return bytes;
      };
      const snapshots: { [id: string]: StateValue } = {};
      for (const node of nodes) {
        const machine = node.powerState === 'off' ? null : ((await read(key.machine(vmId, node.id))) ?? null);
        if (node.powerState !== 'off' && !machine) {
          throw new Error(`the machine state of snapshot "${node.name}" is missing from storage`);
        }
        // A linked clone's file is self-contained: its base goes under the snapshots at the top.
        const layer = node.parent === null ? overlayLayers(this.baseOf(vmId), node.layer) : node.layer;
        snapshots[node.id] = { machine, disk: await encodeLayer(layer) };
      }
      const state: StateValue = {
        format: EXPORT_FORMAT,
        version: EXPORT_VERSION,
        kind: 'vm',
        exportedAt: this.now(),
        vm: vmState(vm),
        media: mediaToState(vm.config.media),
        disk: (await this.fullDisk(vmId, await read(key.disk(vmId)))) ?? (await encodeLayer(new Map())),
        tree: tree.toJSON() as unknown as StateValue,
        snapshots,
      };
      progress(total, total, 'compressing');
      return encodeSnapshot(state);
    });
  }

  /** One snapshot as a file: the VM's definition and media, and the snapshot with its whole disk. */
  exportSnapshot(vmId: string, snapshotId: string, progress: Progress = () => {}): Promise<Uint8Array> {
    return this.queue(vmId, async () => {
      const vm = this.mustVm(vmId);
      const tree = this.tree(vmId);
      const node = tree.get(snapshotId);
      if (!node) throw new Error(`${vm.name} has no snapshot ${snapshotId}`);
      progress(0, 2, 'reading from storage');
      const machine =
        node.powerState === 'off' ? null : ((await this.backend.get(key.machine(vmId, node.id))) ?? null);
      if (node.powerState !== 'off' && !machine) {
        throw new Error(`the machine state of snapshot "${node.name}" is missing from storage`);
      }
      const disk = await encodeLayer(overlayLayers(this.baseOf(vmId), tree.diskAt(snapshotId)));
      const single: SnapshotTreeJson = {
        version: tree.toJSON().version,
        current: node.id,
        nextId: Number(node.id.slice(1)) + 1 || 2,
        nodes: [{ ...nodeJson(node), parent: null }],
      };
      progress(1, 2, 'compressing');
      const file = await encodeSnapshot({
        format: EXPORT_FORMAT,
        version: EXPORT_VERSION,
        kind: 'snapshot',
        exportedAt: this.now(),
        vm: vmState(vm),
        media: mediaToState(vm.config.media),
        disk,
        tree: single as unknown as StateValue,
        snapshots: { [node.id]: { machine, disk } },
      });
      progress(2, 2, 'done');
      return file;
    });
  }

  /**
   * A new VM from a snapshot: the same media (stored once, shared), the snapshot's whole disk as its own,
   * and that snapshot as its only one ("you are here"), so reverting to it resumes the machine there.
   * The clone owns its disks: changing either VM leaves the other alone.
   */
  async cloneSnapshot(vmId: string, snapshotId: string, progress: Progress = () => {}): Promise<VmRecord> {
    const vm = this.mustVm(vmId);
    const node = this.tree(vmId).get(snapshotId);
    if (!node) throw new Error(`${vm.name} has no snapshot ${snapshotId}`);
    const file = await this.exportSnapshot(vmId, snapshotId, progress);
    return this.importFile(file, `${vm.name} at "${node.name}"`, progress, `${vm.name}-${node.name}`);
  }

  /**
   * Creates a VM from an exported file (a VM, or a snapshot: then "you are here" is that snapshot, and
   * reverting to it resumes the machine). Everything is checked before anything is created; the VM gets
   * the exported name, or a free variant of it.
   */
  async importFile(
    bytes: Uint8Array,
    fileName: string,
    progress: Progress = () => {},
    /** The new VM's name (default: the exported one); a free variant of it is taken. */
    preferredName?: string,
  ): Promise<VmRecord> {
    progress(0, 4, 'checking the hash');
    const state = await readExportFile(bytes, fileName);
    progress(1, 4, 'checking the contents');
    const saved = isSavedMachine(state);
    const parts = saved
      ? await checkSavedMachine(state, fileName, this.now())
      : await checkExport(state, fileName);
    const name = this.freeName((preferredName ?? parts.name).trim().slice(0, 40) || parts.name);
    progress(2, 4, saved ? 'loading the saved machine' : 'creating the VM');
    let record: VmRecord;
    try {
      record = await this.hypervisor.createVm({ ...parts.config, name, media: parts.media }, parts.image, {
        console: parts.console,
        disk: parts.disk,
      });
    } catch (e) {
      // The worker's word on a saved machine (version, memory, devices) names the file it came from.
      throw saved ? new Error(`${fileName}: ${errorText(e)}`) : e;
    }
    // The 'added' event queued saving the definition; the snapshots go with it, in one transaction.
    const vmId = record.id;
    try {
      await this.queue(vmId, async () => {
        this.trees.set(vmId, parts.tree);
        const media = await encodeSnapshot(mediaToState(parts.media));
        this.mediaOf.set(vmId, mediaHash(media));
        const put = new Map<string, Uint8Array>([
          [key.meta(vmId), json(this.meta(record))],
          [key.disk(vmId), parts.disk],
        ]);
        if ((await this.backend.list(key.media(mediaHash(media)))).size === 0) {
          put.set(key.media(mediaHash(media)), media);
        }
        for (const [id, snap] of parts.snapshots) {
          put.set(key.layer(vmId, id), snap.disk);
          if (snap.machine) put.set(key.machine(vmId, id), snap.machine);
        }
        progress(3, 4, 'storing');
        await this.backend.commit(put);
        this.emit({ type: 'snapshots', vmId });
        await this.refreshUsage(vmId);
      });
    } catch (e) {
      this.hypervisor.deleteVm(vmId);
      throw e;
    }
    progress(4, 4, 'done');
    return record;
  }

  private freeName(base: string): string {
    const names = new Set(this.hypervisor.list().map((vm) => vm.name));
    if (!names.has(base)) return base;
    for (let i = 2; ; i++) if (!names.has(`${base}-${i}`)) return `${base}-${i}`;
  }

  private async saveDisksNow(vmId: string): Promise<void> {
    const disk = await this.hypervisor.saveDisks(vmId);
    if (disk && this.persisted.has(vmId)) {
      await this.backend.commit(new Map([[key.disk(vmId), await this.ownDisk(vmId, disk)]]));
    }
  }

  // ---- plumbing ----

  /** Counts a VM's bytes (its media included, even when shared) and the total (shared media once). */
  private async refreshUsage(vmId: string | null): Promise<void> {
    const all = await this.backend.list('');
    this.totalBytes = [...all.values()].reduce((a, b) => a + b, 0);
    if (vmId !== null && this.hypervisor.get(vmId)) {
      const usage: VmUsage = { definition: 0, disks: 0, snapshots: 0, total: 0, shared: 0 };
      const media = this.mediaOf.get(vmId);
      for (const [k, size] of all) {
        if (!k.startsWith(key.prefix(vmId)) && !(media && k === key.media(media))) continue;
        if (k.includes('/snap/')) usage.snapshots += size;
        else if (k === key.disk(vmId)) usage.disks += size;
        else usage.definition += size;
        usage.total += size;
      }
      this.usageById.set(vmId, usage);
    }
    for (const id of this.links.keys()) {
      const usage = this.usageById.get(id);
      if (usage) usage.shared = this.sharedBytes(id, all);
    }
    this.emit({ type: 'usage', vmId });
  }

  /** Runs `task` after every earlier operation on the same VM finished (whatever their outcome). */
  private queue<T>(vmId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(vmId) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => {});
    this.queues.set(vmId, settled);
    void settled.then(() => {
      if (this.queues.get(vmId) === settled) this.queues.delete(vmId);
    });
    return next;
  }

  /** Resolves once every queued operation has finished (tests, and before the page reloads). */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }

  private mustVm(vmId: string): VmRecord {
    const vm = this.hypervisor.get(vmId);
    if (!vm) throw new Error(`no VM with id ${vmId}`);
    return vm;
  }

  private async mustGet(k: string): Promise<Uint8Array> {
    const bytes = await this.backend.get(k);
    if (!bytes) throw new Error(`its record ${k} is missing`);
    return bytes;
  }

  private report(vmId: string | null, e: unknown): void {
    this.emit({ type: 'error', vmId, message: `storage: ${errorText(e)}` });
  }

  private emit(event: VmStoreEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

// ---- encoding ----

function nodeJson(node: SnapshotNode): SnapshotTreeJson['nodes'][number] {
  const { layer: _layer, ...rest } = node;
  void _layer;
  return rest;
}

function vmState(vm: VmRecord): StateValue {
  const { media: _media, name: _name, ...config } = vm.config;
  void _media;
  void _name;
  const out: { [field: string]: StateValue } = {
    name: vm.name,
    image: vm.image,
    createdAt: vm.createdAt,
    config: JSON.parse(JSON.stringify(config)) as StateValue,
  };
  if (vm.console) out.console = vm.console;
  return out;
}

/** Boot media as a state tree (typed arrays for the images). */
export function mediaToState(media: BootMedia): StateValue {
  return stripUndefined(media as unknown as StateValue);
}

function stripUndefined(value: StateValue): StateValue {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) {
    return value;
  }
  if (Array.isArray(value)) return value.map(stripUndefined);
  const out: { [field: string]: StateValue } = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = stripUndefined(v);
  return out;
}

/** Boot media back from its state tree; throws naming what is malformed. */
export function mediaFromState(state: StateValue): BootMedia {
  const s = state as Record<string, StateValue>;
  const bytes = (field: string): Uint8Array => {
    const v = s[field];
    if (!(v instanceof Uint8Array)) throw new Error(`the boot media has no ${field}`);
    return v;
  };
  const text = (field: string): string | undefined => {
    const v = s[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new Error(`the boot media's ${field} is not text`);
    return v;
  };
  if (!s || typeof s !== 'object') throw new Error('the boot media are missing');
  switch (s.kind) {
    case 'multiboot': {
      const modules = s.modules;
      if (modules !== undefined && !Array.isArray(modules))
        throw new Error('the boot media modules are malformed');
      return {
        kind: 'multiboot',
        kernel: bytes('kernel'),
        cmdline: text('cmdline'),
        modules: modules?.map((m, i) => {
          const mod = m as Record<string, StateValue>;
          if (!(mod?.data instanceof Uint8Array)) throw new Error(`boot module ${i + 1} has no data`);
          return { data: mod.data, string: typeof mod.string === 'string' ? mod.string : undefined };
        }),
      };
    }
    case 'linux':
      return {
        kind: 'linux',
        kernel: bytes('kernel'),
        initrd: s.initrd instanceof Uint8Array ? s.initrd : undefined,
        cmdline: text('cmdline'),
      };
    case 'disk':
      return { kind: 'disk', image: bytes('image') };
    case 'floppy':
      return { kind: 'floppy', image: bytes('image') };
    case 'saved':
      if (s.firmware !== 'bios' && s.firmware !== 'none')
        throw new Error('the saved machine names no known firmware');
      return {
        kind: 'saved',
        machine: bytes('machine'),
        firmware: s.firmware,
        serialMirror: typeof s.serialMirror === 'boolean' ? s.serialMirror : undefined,
        origin: text('origin') ?? 'a saved machine',
      };
    default:
      throw new Error(`the boot media are of an unknown kind "${String(s.kind)}"`);
  }
}

function parseMeta(bytes: Uint8Array | undefined, id: string): VmMeta {
  if (!bytes) throw new Error('its definition is missing');
  let meta: VmMeta;
  try {
    meta = JSON.parse(new TextDecoder().decode(bytes)) as VmMeta;
  } catch {
    throw new Error('its definition is not valid JSON');
  }
  if (meta?.format !== META_FORMAT) throw new Error('its definition is not a visor86 VM');
  if (meta.version !== META_VERSION)
    throw new Error(`its definition has unsupported version ${meta.version}`);
  if (meta.id !== id) throw new Error(`its definition names another id (${meta.id})`);
  if (typeof meta.name !== 'string' || !meta.config || !meta.tree)
    throw new Error('its definition is incomplete');
  return meta;
}

/** Reads an export file's container, with messages that name the file and what is wrong with it. */
async function readExportFile(bytes: Uint8Array, fileName: string): Promise<StateValue> {
  try {
    await verifySnapshot(bytes);
    return await decodeSnapshot(bytes);
  } catch (e) {
    throw new Error(fileProblem(fileName, e));
  }
}

/** A snapshot-file error rephrased for an export file the user picked. */
export function fileProblem(fileName: string, e: unknown): string {
  const message = errorText(e);
  if (!(e instanceof SnapshotFormatError)) return `${fileName}: ${message}`;
  let m: RegExpMatchArray | null;
  if ((m = message.match(/^not a visor86 snapshot: only (\d+) bytes/))) {
    return `${fileName} is not a visor86 file: it has only ${m[1]} bytes`;
  }
  if (message.includes('bad magic number')) {
    return `${fileName} is not a visor86 file (it does not start with the VISOR86S magic number)`;
  }
  if (
    (m = message.match(/^snapshot format version (\d+) is not supported \(this build reads version (\d+)\)/))
  ) {
    return `${fileName} has file format version ${m[1]}, which this build cannot read (it reads version ${m[2]})`;
  }
  if ((m = message.match(/^snapshot is truncated: (.*)$/))) return `${fileName} is truncated: ${m[1]}`;
  if (message.includes('SHA-256'))
    return `${fileName} is corrupted: its SHA-256 hash does not match its contents`;
  return `${fileName} is damaged: ${message.replace(/^snapshot /, '')}`;
}

interface ExportParts {
  name: string;
  image: string;
  console: 'serial' | 'vga' | undefined;
  config: Omit<VmConfig, 'media' | 'name'>;
  media: BootMedia;
  disk: Uint8Array;
  tree: SnapshotTree;
  snapshots: Map<string, { machine: Uint8Array | null; disk: Uint8Array }>;
}

/** Checks an export's state tree and every part inside it; throws naming the file and the problem. */
async function checkExport(state: StateValue, fileName: string): Promise<ExportParts> {
  const s = state as Record<string, StateValue>;
  const fail = (what: string): never => {
    throw new Error(`${fileName}: ${what}`);
  };
  if (!s || typeof s !== 'object') fail('the file holds no VM');
  if (s.format !== EXPORT_FORMAT) fail(`this is not a VM export (format "${String(s.format)}")`);
  if (s.version !== EXPORT_VERSION) {
    fail(`export version ${String(s.version)} is not supported (this build reads version ${EXPORT_VERSION})`);
  }
  if (s.kind !== 'vm' && s.kind !== 'snapshot') fail(`unknown export kind "${String(s.kind)}"`);
  const vm = s.vm as Record<string, StateValue>;
  if (!vm || typeof vm.name !== 'string' || typeof vm.config !== 'object' || vm.config === null) {
    fail('the VM definition is missing or incomplete');
  }
  const config = vm.config as unknown as Omit<VmConfig, 'media' | 'name'>;
  if (typeof config.memoryMiB !== 'number' || typeof config.diskMiB !== 'number') {
    fail('the VM definition has no memory or disk size');
  }
  let media: BootMedia;
  try {
    media = mediaFromState(s.media);
  } catch (e) {
    return fail(errorText(e));
  }
  if (!(s.disk instanceof Uint8Array)) fail('the disks are missing');
  const disk = s.disk as Uint8Array;
  const inner = async (bytes: Uint8Array, what: string) => {
    try {
      return await decodeSnapshot(bytes);
    } catch (e) {
      return fail(`${what} is damaged: ${errorText(e)}`);
    }
  };
  try {
    layerFromState(await inner(disk, 'the disk layer'));
  } catch (e) {
    fail(errorText(e));
  }
  const snapshots = new Map<string, { machine: Uint8Array | null; disk: Uint8Array }>();
  const layers = new Map<string, DiskLayer>();
  const list = (s.snapshots ?? {}) as Record<string, StateValue>;
  if (typeof list !== 'object' || Array.isArray(list)) fail('the snapshot list is malformed');
  for (const [id, value] of Object.entries(list)) {
    const snap = value as Record<string, StateValue>;
    if (!(snap?.disk instanceof Uint8Array)) fail(`snapshot ${id} has no disk layer`);
    try {
      layers.set(
        id,
        layerFromState(await inner(snap.disk as Uint8Array, `the disk layer of snapshot ${id}`)),
      );
    } catch (e) {
      fail(errorText(e));
    }
    const machine = snap.machine instanceof Uint8Array ? snap.machine : null;
    if (machine) {
      try {
        await verifySnapshot(machine);
      } catch (e) {
        fail(`the machine state of snapshot ${id} is damaged: ${errorText(e)}`);
      }
    }
    snapshots.set(id, { machine, disk: snap.disk as Uint8Array });
  }
  let tree: SnapshotTree;
  try {
    tree = SnapshotTree.fromJSON(s.tree, layers);
  } catch (e) {
    return fail(errorText(e));
  }
  for (const node of tree.list()) {
    const snap = snapshots.get(node.id);
    if (!snap) fail(`snapshot "${node.name}" has no data in the file`);
    if (node.powerState !== 'off' && !snap!.machine) fail(`snapshot "${node.name}" has no machine state`);
  }
  return {
    name: vm.name as string,
    image: typeof vm.image === 'string' ? vm.image : 'imported',
    console: vm.console === 'serial' || vm.console === 'vga' ? vm.console : undefined,
    config,
    media: media!,
    disk,
    tree: tree!,
    snapshots,
  };
}

// ---- machines saved by the command line ----

/** The document `visor86 run --save` writes (src/cli/snapshot.ts) and the version this build reads. */
const CLI_SAVE_FORMAT = 'visor86-snapshot';
const CLI_SAVE_VERSION = 1;
/** Pc.saveState()'s document: a machine state on its own. */
const MACHINE_FORMAT = 'visor86-machine';
/** The name of the one snapshot an imported saved machine gets. */
export const SAVED_SNAPSHOT_NAME = 'visor86 run --save';
const MIB = 1024 * 1024;

function isRecord(value: StateValue | undefined): value is { [field: string]: StateValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** True for a machine saved by `visor86 run --save`, or a bare Pc.saveState(), rather than a page export. */
function isSavedMachine(state: StateValue): state is { [field: string]: StateValue } {
  return isRecord(state) && (state.format === CLI_SAVE_FORMAT || state.format === MACHINE_FORMAT);
}

/** "hard disk 0", "floppy drive A" for a machine state's media slot (disk0-3, floppy0-1). */
function slotText(slot: string): string {
  if (slot.startsWith('disk')) return `hard disk ${slot.slice(4)}`;
  if (slot.startsWith('floppy')) return `floppy drive ${'AB'[Number(slot.slice(6))] ?? slot.slice(6)}`;
  return slot;
}

const baseName = (path: string) => path.split(/[\\/]/).pop() || path;

/**
 * A machine saved by the command line as the parts of a VM: the machine becomes the VM's boot medium
 * ('saved': powering on resumes it) and its one snapshot, "you are here", dated when it was saved, so
 * reverting to it resumes the machine too. Only a machine that uses no disk or floppy image is accepted:
 * those images stay on the computer that saved it (the file names them by path and hash only).
 */
async function checkSavedMachine(
  s: { [field: string]: StateValue },
  fileName: string,
  importedAt: number,
): Promise<ExportParts> {
  const fail = (what: string): never => {
    throw new Error(`${fileName}: ${what}`);
  };
  const cli = s.format === CLI_SAVE_FORMAT;
  if (cli && s.version !== CLI_SAVE_VERSION) {
    fail(
      `this machine saved by visor86 run has version ${String(s.version)}, which this build cannot read ` +
        `(it reads version ${CLI_SAVE_VERSION})`,
    );
  }
  const machine = cli ? s.machine : s;
  if (!isRecord(machine) || machine.format !== MACHINE_FORMAT) fail('the file holds no machine state');
  const m = machine as { [field: string]: StateValue };
  const config = cli && isRecord(s.config) ? s.config : null;
  if (cli && !config) fail("the saved machine's configuration is missing");

  // Disks and floppies: named by path in the file, their contents left on the other computer.
  const refs = config && isRecord(config.media) ? config.media : {};
  if (!isRecord(m.media)) fail("the machine state's media are malformed");
  const media = m.media as { [slot: string]: StateValue };
  const used = new Set<string>([
    ...Object.keys(refs),
    ...Object.keys(media).filter((k) => media[k] !== null),
  ]);
  if (used.size > 0) {
    const list = [...used].map((slot) => {
      const ref = refs[slot];
      return isRecord(ref) && typeof ref.path === 'string'
        ? `${slotText(slot)} (${ref.path})`
        : slotText(slot);
    });
    fail(
      `this file holds a machine saved by the command line (visor86 run --save) that uses ${list.join(', ')}; ` +
        'disk and floppy images stay on the computer that saved it, so the page imports only a machine ' +
        'without them (a kernel booted directly, with its initramfs); export a VM or snapshot from a page instead',
    );
  }

  const bytes = m.memoryBytes;
  if (typeof bytes !== 'number' || bytes <= 0 || bytes % MIB !== 0)
    fail("the machine state's RAM size is malformed");
  const memoryMiB = (bytes as number) / MIB;
  if (memoryMiB < 2 || memoryMiB > 2048) {
    fail(`the saved machine has ${memoryMiB} MiB of RAM; the page runs VMs of 2 to 2048 MiB`);
  }
  if (config && config.memoryMiB !== memoryMiB) {
    fail(
      `the file is inconsistent: its configuration says ${String(config.memoryMiB)} MiB of RAM, its machine ${memoryMiB} MiB`,
    );
  }
  const firmware = m.firmware;
  if (firmware !== 'bios' && firmware !== 'none')
    fail(`the machine state names unknown firmware "${String(firmware)}"`);

  // How it was booted, for the snapshot's description and the VM's media line.
  let origin: string;
  const kernel = config && isRecord(config.kernel) ? config.kernel : null;
  if (kernel && typeof kernel.path === 'string') {
    const initrd = typeof kernel.initrd === 'string' ? ` + ${baseName(kernel.initrd)}` : '';
    const append = typeof kernel.append === 'string' && kernel.append ? `, ${kernel.append}` : '';
    origin = `kernel ${baseName(kernel.path)}${initrd}${append}`;
  } else if (firmware === 'bios') origin = 'BIOS, no disks';
  else origin = cli ? 'no firmware' : 'a machine state';

  const created = cli && typeof s.created === 'string' ? Date.parse(s.created) : NaN;
  const savedAt = Number.isFinite(created) ? created : importedAt;
  const container = await encodeSnapshot(m);
  const tree = new SnapshotTree();
  const node = tree.take({
    name: cli ? SAVED_SNAPSHOT_NAME : 'saved machine',
    description:
      `Saved by ${cli ? 'visor86 run --save' : 'Pc.saveState'} on ${new Date(savedAt).toISOString()} ` +
      `(${origin}). Reverting here, or powering the VM on, resumes the machine where it was saved.`,
    powerState: 'running',
    machineBytes: container.length,
    liveDisk: emptyLayer(),
    now: savedAt,
  });
  const disk = await encodeLayer(emptyLayer());
  const stem = baseName(fileName)
    .replace(/\.[^.]*$/, '')
    .trim();
  return {
    name: stem.slice(0, 40) || 'saved machine',
    image: fileName,
    console: 'serial',
    config: { memoryMiB, diskMiB: 0, pace: true },
    media: {
      kind: 'saved',
      machine: container,
      firmware: firmware as 'bios' | 'none',
      serialMirror: config && typeof config.serialMirror === 'boolean' ? config.serialMirror : undefined,
      origin,
    },
    disk,
    tree,
    snapshots: new Map([[node.id, { machine: container, disk: await encodeLayer(node.layer) }]]),
  };
}

/** A file name for an export: the VM's (and snapshot's) name, made safe, with the .visor86 extension. */
export function exportFileName(vmName: string, snapshotName?: string): string {
  const clean = (s: string) => s.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'vm';
  return `${clean(vmName)}${snapshotName ? `-${clean(snapshotName)}` : ''}${EXPORT_EXTENSION}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
