/**
 * Linear-to-physical translation: 32-bit paging with 4 KiB and 4 MiB (CR4.PSE) pages, CR0.WP, user/supervisor
 * and read/write checks, accessed/dirty bits, #PF with CR2 and its error code, and a TLB flushed by CR3 loads
 * and INVLPG that keeps global pages (CR4.PGE). Intel SDM Vol. 3A, 4.3 "32-bit paging", 4.7 "Page-fault
 * exceptions", 4.10 "Caching translation information".
 *
 * The TLB is one entry per 4 KiB linear page (a typed array indexed by page number), with the pages that hold
 * an entry listed so that a flush touches only those.
 */
import type { Cpu } from './cpu.ts';
import { CR0_PG, CR0_WP, EXC_PF } from './constants.ts';

/** TLB info bits: which kinds of access the cached translation already allows without a walk. */
const TLB_READ_SUPER = 1;
const TLB_WRITE_SUPER = 2;
const TLB_READ_USER = 4;
const TLB_WRITE_USER = 8;
const TLB_GLOBAL = 16;

/** Page-table entry bits. */
const PTE_P = 1 << 0;
const PTE_RW = 1 << 1;
const PTE_US = 1 << 2;
const PTE_A = 1 << 5;
const PTE_D = 1 << 6;
const PDE_PS = 1 << 7;
const PTE_G = 1 << 8;

/** #PF error code bits. */
const PF_P = 1;
const PF_W = 2;
const PF_U = 4;

const CR4_PSE = 1 << 4;
const CR4_PGE = 1 << 7;

/** How many distinct pages the TLB remembers before a flush clears the whole table. */
const TLB_LIST_CAPACITY = 16384;

export class Mmu {
  /** True when CR0.PG is set; mirrors CR0 so the fast paths test one field. */
  paging = false;
  private readonly tlbInfo = new Uint8Array(1 << 20);
  private readonly tlbPhys = new Int32Array(1 << 20);
  private readonly tlbList = new Int32Array(TLB_LIST_CAPACITY);
  private tlbCount = 0;
  private tlbOverflow = false;
  /** Set for accesses the CPU makes on its own behalf (descriptor tables, TSS): always supervisor. */
  systemAccess = false;

  constructor(private readonly cpu: Cpu) {}

  /** Called when CR0, CR3 or CR4 change. */
  configure(): void {
    this.paging = (this.cpu.cr0 & CR0_PG) !== 0;
  }

  /** Drops cached translations; global pages survive unless `all` (or CR4.PGE is clear). */
  flush(all: boolean): void {
    const keepGlobal = !all && (this.cpu.cr4 & CR4_PGE) !== 0;
    if (this.tlbOverflow) {
      if (keepGlobal) {
        const info = this.tlbInfo;
        for (let i = 0; i < info.length; i++) if (!(info[i] & TLB_GLOBAL)) info[i] = 0;
      } else {
        this.tlbInfo.fill(0);
      }
      this.tlbOverflow = false;
      this.tlbCount = 0;
      if (keepGlobal) this.rebuildListFromGlobals();
      return;
    }
    let kept = 0;
    for (let i = 0; i < this.tlbCount; i++) {
      const page = this.tlbList[i];
      if (keepGlobal && this.tlbInfo[page] & TLB_GLOBAL) this.tlbList[kept++] = page;
      else this.tlbInfo[page] = 0;
    }
    this.tlbCount = kept;
  }

  private rebuildListFromGlobals(): void {
    const info = this.tlbInfo;
    for (let page = 0; page < info.length; page++) {
      if (info[page] === 0) continue;
      if (this.tlbCount === TLB_LIST_CAPACITY) {
        this.tlbOverflow = true;
        return;
      }
      this.tlbList[this.tlbCount++] = page;
    }
  }

  /** INVLPG: drops the translation of one linear page, global or not. */
  invalidatePage(linear: number): void {
    this.tlbInfo[linear >>> 12] = 0;
  }

  private isUser(): boolean {
    return this.cpu.cpl === 3 && !this.systemAccess;
  }

  /**
   * Walks the page tables for `linear`, setting accessed/dirty bits, caching the result, and returning the
   * physical address. Raises #PF on a missing page or a protection violation.
   */
  translate(linear: number, write: boolean): number {
    const user = this.isUser();
    const page = linear >>> 12;
    const info = this.tlbInfo[page];
    const need = user ? (write ? TLB_WRITE_USER : TLB_READ_USER) : write ? TLB_WRITE_SUPER : TLB_READ_SUPER;
    if (info & need) return this.tlbPhys[page] | (linear & 0xfff);
    return this.walk(linear, write, user);
  }

  private walk(linear: number, write: boolean, user: boolean): number {
    const cpu = this.cpu;
    const mem = cpu.memory;
    const pdeAddress = ((cpu.cr3 & ~0xfff) | ((linear >>> 20) & 0xffc)) >>> 0;
    const pde = mem.read32(pdeAddress);
    if (!(pde & PTE_P)) this.pageFault(linear, 0, write, user);
    const wp = (cpu.cr0 & CR0_WP) !== 0;
    let physPage: number;
    let allowUser: boolean;
    let allowWrite: boolean;
    let global: boolean;
    let dirty: boolean;
    if (pde & PDE_PS && cpu.cr4 & CR4_PSE) {
      // 4 MiB page: the PDE maps it directly.
      allowUser = (pde & PTE_US) !== 0;
      allowWrite = (pde & PTE_RW) !== 0;
      this.checkAccess(linear, write, user, allowUser, allowWrite, wp);
      let newPde = pde | PTE_A;
      if (write) newPde |= PTE_D;
      if (newPde !== pde) mem.write32(pdeAddress, newPde);
      physPage = ((pde & 0xffc00000) | (linear & 0x3ff000)) >>> 0;
      global = (pde & PTE_G) !== 0;
      dirty = (newPde & PTE_D) !== 0;
    } else {
      const pteAddress = ((pde & ~0xfff) | ((linear >>> 10) & 0xffc)) >>> 0;
      const pte = mem.read32(pteAddress);
      if (!(pte & PTE_P)) this.pageFault(linear, 0, write, user);
      allowUser = (pde & PTE_US) !== 0 && (pte & PTE_US) !== 0;
      allowWrite = (pde & PTE_RW) !== 0 && (pte & PTE_RW) !== 0;
      this.checkAccess(linear, write, user, allowUser, allowWrite, wp);
      if (!(pde & PTE_A)) mem.write32(pdeAddress, pde | PTE_A);
      let newPte = pte | PTE_A;
      if (write) newPte |= PTE_D;
      if (newPte !== pte) mem.write32(pteAddress, newPte);
      physPage = (pte & ~0xfff) >>> 0;
      global = (pte & PTE_G) !== 0;
      dirty = (newPte & PTE_D) !== 0;
    }
    // Cache what this translation allows. Writes are cached only once the dirty bit is set, so that the
    // first write to a clean page still walks and sets it.
    let info = TLB_READ_SUPER;
    if (allowUser) info |= TLB_READ_USER;
    if (dirty) {
      if (allowWrite || !wp) info |= TLB_WRITE_SUPER;
      if (allowWrite && allowUser) info |= TLB_WRITE_USER;
    }
    if (global && cpu.cr4 & CR4_PGE) info |= TLB_GLOBAL;
    const page = linear >>> 12;
    if (this.tlbInfo[page] === 0) {
      if (this.tlbCount < TLB_LIST_CAPACITY) this.tlbList[this.tlbCount++] = page;
      else this.tlbOverflow = true;
    }
    this.tlbInfo[page] = info;
    this.tlbPhys[page] = physPage | 0;
    return (physPage | (linear & 0xfff)) >>> 0;
  }

  private checkAccess(
    linear: number,
    write: boolean,
    user: boolean,
    allowUser: boolean,
    allowWrite: boolean,
    wp: boolean,
  ): void {
    if (user) {
      if (!allowUser || (write && !allowWrite)) this.pageFault(linear, PF_P, write, user);
    } else if (write && !allowWrite && wp) {
      this.pageFault(linear, PF_P, write, user);
    }
  }

  private pageFault(linear: number, present: number, write: boolean, user: boolean): never {
    this.cpu.cr2 = linear | 0;
    this.cpu.raiseError(EXC_PF, present | (write ? PF_W : 0) | (user ? PF_U : 0));
  }

  // ---- Linear accessors used by the CPU. ----

  readLinear8(linear: number): number {
    if (!this.paging) return this.cpu.memory.read8(linear);
    return this.cpu.memory.read8(this.translate(linear, false));
  }
  fetchLinear8(linear: number): number {
    return this.readLinear8(linear);
  }
  readLinear16(linear: number): number {
    if (!this.paging) return this.cpu.memory.read16(linear);
    if ((linear & 0xfff) === 0xfff) return this.readLinear8(linear) | (this.readLinear8(linear + 1) << 8);
    return this.cpu.memory.read16(this.translate(linear, false));
  }
  readLinear32(linear: number): number {
    if (!this.paging) return this.cpu.memory.read32(linear);
    if ((linear & 0xfff) > 0xffc) {
      const mem = this.cpu.memory;
      const a = this.translate(linear, false);
      const b = this.translate((linear + 3) | 0, false);
      let v = 0;
      for (let i = 0; i < 4; i++) {
        const byteLinear = (linear + i) | 0;
        const phys = (byteLinear ^ linear) & ~0xfff ? (b & ~0xfff) | (byteLinear & 0xfff) : a + i;
        v |= mem.read8(phys) << (i * 8);
      }
      return v;
    }
    return this.cpu.memory.read32(this.translate(linear, false));
  }
  writeLinear8(linear: number, value: number): void {
    if (!this.paging) this.cpu.memory.write8(linear, value);
    else this.cpu.memory.write8(this.translate(linear, true), value);
  }
  writeLinear16(linear: number, value: number): void {
    if (!this.paging) this.cpu.memory.write16(linear, value);
    else if ((linear & 0xfff) === 0xfff) this.writeSplit(linear, value, 2);
    else this.cpu.memory.write16(this.translate(linear, true), value);
  }
  writeLinear32(linear: number, value: number): void {
    if (!this.paging) this.cpu.memory.write32(linear, value);
    else if ((linear & 0xfff) > 0xffc) this.writeSplit(linear, value, 4);
    else this.cpu.memory.write32(this.translate(linear, true), value);
  }

  /** A write that crosses a page boundary: both pages are checked before either is written. */
  private writeSplit(linear: number, value: number, length: number): void {
    const mem = this.cpu.memory;
    const a = this.translate(linear, true);
    const b = this.translate((linear + length - 1) | 0, true);
    for (let i = 0; i < length; i++) {
      const byteLinear = (linear + i) | 0;
      const phys = (byteLinear ^ linear) & ~0xfff ? (b & ~0xfff) | (byteLinear & 0xfff) : a + i;
      mem.write8(phys, value >> (i * 8));
    }
  }

  /** Raises the #PF a write of `length` bytes at `linear` would raise, without writing. */
  checkWritable(linear: number, length: number): void {
    if (!this.paging) return;
    this.translate(linear, true);
    if (((linear & 0xfff) + length - 1) >> 12) this.translate((linear + length - 1) | 0, true);
  }
}
