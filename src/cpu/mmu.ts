/**
 * Linear-to-physical translation: 32-bit paging with 4 KiB and 4 MiB (CR4.PSE) pages, CR0.WP, user/supervisor
 * and read/write checks, accessed/dirty bits, #PF with CR2 and its error code, and a TLB flushed by CR3 loads
 * and INVLPG that keeps global pages (CR4.PGE). Intel SDM Vol. 3A, 4.3 "32-bit paging", 4.7 "Page-fault
 * exceptions", 4.10 "Caching translation information".
 *
 * The TLB is one Int32Array indexed by the linear page number (all 2^20 of them, as v86 keeps it): an entry
 * is the physical page's base address with the TLB_* permission bits in its low 12 bits, 0 when there is
 * none. It serves paging-off mode too (identity translation, A20 applied), so every access takes the same
 * fast path: one load, the permission bit, then straight into the RAM array. Pages that are not plain RAM
 * (MMIO, unmapped) never get permission bits, so their accesses always take the slow path through
 * PhysicalMemory.
 */
import type { Cpu } from './cpu.ts';
import { CR0_PG, CR0_WP, CR4_PGE, CR4_PSE, EXC_PF } from './constants.ts';
import { STATE_READ_BIT, TLB_BASE } from './layout.ts';
import {
  TLB_READ_SUPER,
  TLB_WRITE_SUPER,
  TLB_READ_USER,
  TLB_WRITE_USER,
  TLB_GLOBAL,
  TLB_WRITE_BITS,
  TLB_CODE_WRITE_BITS,
  TLB_PAGES,
  TLB_FILLED_MAX,
  TLB_PHYS,
  PTE_P,
  PTE_RW,
  PTE_US,
  PTE_A,
  PTE_D,
  PDE_PS,
  PTE_G,
  PF_P,
  PF_W,
  PF_U,
} from './paging.ts';

/** Permission bits with the fast write rights moved to the code-write positions. */
function codeBits(bits: number): number {
  return (bits & ~TLB_WRITE_BITS) | ((bits & TLB_WRITE_BITS) << 4);
}

export class Mmu {
  /** True when CR0.PG is set. */
  paging = false;
  /**
   * By linear page number: the physical address of the page's first byte (an index into RAM when the page is
   * RAM) | TLB_* permission bits (none for non-RAM pages, which always go the slow way); 0 = no entry. Read
   * in place by the interpreter's and compiled code's fast paths (decoded.ts, jit/).
   */
  readonly tlb: Int32Array;
  /**
   * The pages filled since the last flush (each once, `listed` marks them), so a flush clears those instead
   * of the whole table: Linux loads CR3 twice for every pipe write that wakes the reader, and a process
   * touches a few dozen pages in between. Full (TLB_FILLED_MAX), it drops every entry, as a TLB may.
   */
  private readonly filled = new Int32Array(TLB_FILLED_MAX);
  private filledCount = 0;
  private readonly listed = new Uint8Array(TLB_PAGES);
  /** The permission bit a data read / write needs now: depends on CPL and systemAccess (see needBit). */
  readBit = TLB_READ_SUPER;
  writeBit = TLB_WRITE_SUPER;
  /** readBit and writeBit again, in the state area (layout.ts STATE_READ_BIT), for WebAssembly regions. */
  private readonly accessBits: Int32Array;
  private system = false;
  readonly ram: Uint8Array;
  readonly ram32: Int32Array;

  constructor(private readonly cpu: Cpu) {
    // In the machine's memory buffer beside the CPU's state (layout.ts), where WebAssembly regions read it.
    const area = cpu.stateInMemory ? cpu.memory.buffer : null;
    this.tlb = area !== null ? new Int32Array(area, TLB_BASE, TLB_PAGES) : new Int32Array(TLB_PAGES);
    this.accessBits = area !== null ? new Int32Array(area, STATE_READ_BIT, 2) : new Int32Array(2);
    this.ram = cpu.memory.ram;
    this.ram32 = new Int32Array(this.ram.buffer, this.ram.byteOffset, this.ram.byteLength >> 2);
    this.updateAccessBits();
  }

  /** Set for accesses the CPU makes on its own behalf (descriptor tables, TSS): always supervisor. */
  get systemAccess(): boolean {
    return this.system;
  }
  set systemAccess(on: boolean) {
    this.system = on;
    this.updateAccessBits();
  }

  /** Recomputes readBit/writeBit; the CPU calls it whenever CPL changes. */
  updateAccessBits(): void {
    const user = this.cpu.cpl === 3 && !this.system;
    this.readBit = user ? TLB_READ_USER : TLB_READ_SUPER;
    this.writeBit = user ? TLB_WRITE_USER : TLB_WRITE_SUPER;
    this.accessBits[0] = this.readBit;
    this.accessBits[1] = this.writeBit;
  }

  /** Called when CR0, CR3 or CR4 change. */
  configure(): void {
    this.paging = (this.cpu.cr0 & CR0_PG) !== 0;
  }

  /** Drops cached translations; global pages survive unless `all` (or CR4.PGE is clear). */
  flush(all: boolean): void {
    if (!all && (this.cpu.cr4 & CR4_PGE) !== 0 && this.paging) {
      const tlb = this.tlb;
      const filled = this.filled;
      let kept = 0;
      for (let k = 0; k < this.filledCount; k++) {
        const page = filled[k];
        if ((tlb[page] & TLB_GLOBAL) !== 0) filled[kept++] = page;
        else {
          tlb[page] = 0;
          this.listed[page] = 0;
        }
      }
      this.filledCount = kept;
    } else this.dropAll();
    this.cpu.forgetCodePage();
  }

  /**
   * Drops every entry: for flush, and when the filled list is full (then the page tables have not changed,
   * so the CPU's cached code page stays right, and this may run in the middle of an instruction's fetch).
   */
  private dropAll(): void {
    const tlb = this.tlb;
    for (let k = 0; k < this.filledCount; k++) {
      tlb[this.filled[k]] = 0;
      this.listed[this.filled[k]] = 0;
    }
    this.filledCount = 0;
  }

  /** INVLPG: drops the translation of one linear page, global or not. */
  invalidatePage(linear: number): void {
    this.tlb[linear >>> 12] = 0;
    this.cpu.forgetCodePage();
  }

  private needBit(write: boolean): number {
    return write ? this.writeBit : this.readBit;
  }

  /** Translates `linear` for an access, filling the TLB; raises #PF. Returns the physical address. */
  translate(linear: number, write: boolean): number {
    const entry = this.tlb[linear >>> 12];
    const need = write ? this.writeBit | (this.writeBit << 4) : this.readBit;
    if ((entry & need) !== 0) return ((entry & TLB_PHYS) | (linear & 0xfff)) >>> 0;
    return this.fill(linear, write);
  }

  /**
   * The physical page base a read of `linear` would use if the TLB already allows it, else -1. No walk, no
   * fault, no side effect: the JIT's dispatcher uses it to find the block at EIP.
   */
  probeRead(linear: number): number {
    const entry = this.tlb[linear >>> 12];
    return (entry & this.readBit) !== 0 ? entry & TLB_PHYS : -1;
  }

  /**
   * A page now holds compiled code: no TLB entry may keep fast-path write rights to it (they move to the
   * code-write bits; fill() does the same for entries made later).
   */
  protectCodePage(physPage: number): void {
    const base = physPage << 12;
    const tlb = this.tlb;
    // Every entry in use is in the filled list.
    for (let k = 0; k < this.filledCount; k++) {
      const page = this.filled[k];
      const entry = tlb[page];
      if ((entry & TLB_PHYS) === base && (entry & TLB_WRITE_BITS) !== 0) tlb[page] = codeBits(entry);
    }
  }

  /**
   * Slow path of a write whose TLB entry holds only code-write rights: the page held compiled code when the
   * entry was made. Returns the physical address to write through PhysicalMemory (which drops the page's
   * blocks), giving the entry its fast rights back if the page no longer holds code; -1 when the entry does
   * not allow the write (then the caller walks).
   */
  private codePageWrite(linear: number): number {
    const page = linear >>> 12;
    const entry = this.tlb[page];
    if ((entry & (this.writeBit << 4)) === 0) return -1;
    if (!this.cpu.memory.codePages[(entry & TLB_PHYS) >>> 12]) {
      this.tlb[page] = (entry & ~TLB_CODE_WRITE_BITS) | ((entry & TLB_CODE_WRITE_BITS) >> 4);
    }
    return ((entry & TLB_PHYS) | (linear & 0xfff)) >>> 0;
  }

  /** Slow path: walks (or, with paging off, applies A20), checks, caches, returns the physical address. */
  private fill(linear: number, write: boolean): number {
    const user = this.cpu.cpl === 3 && !this.systemAccess;
    let physPage: number;
    let info: number;
    if (this.paging === false) {
      physPage = (linear & this.cpu.memory.a20Mask & ~0xfff) >>> 0;
      info = TLB_READ_SUPER | TLB_WRITE_SUPER | TLB_READ_USER | TLB_WRITE_USER;
    } else {
      const walked = this.walk(linear, write, user);
      physPage = this.walkPhys;
      info = walked;
    }
    const page = linear >>> 12;
    if (this.listed[page] === 0) {
      if (this.filledCount === TLB_FILLED_MAX) this.dropAll();
      this.listed[page] = 1;
      this.filled[this.filledCount++] = page;
    }
    // Only plain RAM gets fast-path rights; MMIO and holes keep no bits (always slow). A page holding
    // compiled code gets no fast write rights (see protectCodePage).
    const mem = this.cpu.memory;
    if (!mem.isRam(physPage) || physPage + 0x1000 > this.ram.length) info = 0;
    else if (mem.codePages[physPage >>> 12]) info = codeBits(info);
    this.tlb[page] = physPage | info;
    return (physPage | (linear & 0xfff)) >>> 0;
  }

  /** Physical page found by the last walk. */
  private walkPhys = 0;

  /** Walks the page tables (setting A/D bits); returns the permission bits to cache. */
  private walk(linear: number, write: boolean, user: boolean): number {
    const cpu = this.cpu;
    const mem = cpu.memory;
    const pdeAddress = ((cpu.cr3 & ~0xfff) | ((linear >>> 20) & 0xffc)) >>> 0;
    const pde = mem.read32(pdeAddress);
    if (!(pde & PTE_P)) this.pageFault(linear, 0, write, user);
    const wp = (cpu.cr0 & CR0_WP) !== 0;
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
      this.walkPhys = ((pde & 0xffc00000) | (linear & 0x3ff000)) >>> 0;
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
      this.walkPhys = (pte & ~0xfff) >>> 0;
      global = (pte & PTE_G) !== 0;
      dirty = (newPte & PTE_D) !== 0;
    }
    this.walkPhys = (this.walkPhys & mem.a20Mask) >>> 0;
    // Writes are cached only once the dirty bit is set, so the first write to a clean page still walks.
    let info = TLB_READ_SUPER;
    if (allowUser) info |= TLB_READ_USER;
    if (dirty) {
      if (allowWrite || !wp) info |= TLB_WRITE_SUPER;
      if (allowWrite && allowUser) info |= TLB_WRITE_USER;
    }
    if (global && cpu.cr4 & CR4_PGE) info |= TLB_GLOBAL;
    return info;
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

  // ---- Linear accessors used by the CPU: entry with the permission bit → RAM; anything else → slow path ----

  readLinear8(linear: number): number {
    const entry = this.tlb[linear >>> 12];
    if ((entry & this.needBit(false)) !== 0) return this.ram[(entry & TLB_PHYS) + (linear & 0xfff)];
    return this.cpu.memory.read8(this.fill(linear, false));
  }

  fetchLinear8(linear: number): number {
    return this.readLinear8(linear);
  }

  readLinear16(linear: number): number {
    const off = linear & 0xfff;
    if (off === 0xfff) return this.readLinear8(linear) | (this.readLinear8((linear + 1) | 0) << 8);
    const entry = this.tlb[linear >>> 12];
    if ((entry & this.needBit(false)) !== 0) {
      const a = (entry & TLB_PHYS) + off;
      return this.ram[a] | (this.ram[a + 1] << 8);
    }
    return this.cpu.memory.read16(this.fill(linear, false));
  }

  readLinear32(linear: number): number {
    const off = linear & 0xfff;
    if (off > 0xffc) return this.readLinear16(linear) | (this.readLinear16((linear + 2) | 0) << 16);
    const entry = this.tlb[linear >>> 12];
    if ((entry & this.needBit(false)) !== 0) {
      const a = (entry & TLB_PHYS) + off;
      if ((a & 3) === 0) return this.ram32[a >> 2];
      const ram = this.ram;
      return ram[a] | (ram[a + 1] << 8) | (ram[a + 2] << 16) | (ram[a + 3] << 24);
    }
    return this.cpu.memory.read32(this.fill(linear, false));
  }

  writeLinear8(linear: number, value: number): void {
    const entry = this.tlb[linear >>> 12];
    if ((entry & this.needBit(true)) !== 0) this.ram[(entry & TLB_PHYS) + (linear & 0xfff)] = value;
    else this.cpu.memory.write8(this.writeTarget(linear), value);
  }

  /** Physical address for a write that missed the fast path: through the code-write rights, else a walk. */
  private writeTarget(linear: number): number {
    const phys = this.codePageWrite(linear);
    return phys >= 0 ? phys : this.fill(linear, true);
  }

  writeLinear16(linear: number, value: number): void {
    const off = linear & 0xfff;
    if (off === 0xfff) {
      this.writeSplit(linear, value, 2);
      return;
    }
    const entry = this.tlb[linear >>> 12];
    if ((entry & this.needBit(true)) !== 0) {
      const a = (entry & TLB_PHYS) + off;
      this.ram[a] = value;
      this.ram[a + 1] = value >> 8;
      return;
    }
    this.cpu.memory.write16(this.writeTarget(linear), value);
  }

  writeLinear32(linear: number, value: number): void {
    const off = linear & 0xfff;
    if (off > 0xffc) {
      this.writeSplit(linear, value, 4);
      return;
    }
    const entry = this.tlb[linear >>> 12];
    if ((entry & this.needBit(true)) !== 0) {
      const a = (entry & TLB_PHYS) + off;
      if ((a & 3) === 0) {
        this.ram32[a >> 2] = value;
        return;
      }
      const ram = this.ram;
      ram[a] = value;
      ram[a + 1] = value >> 8;
      ram[a + 2] = value >> 16;
      ram[a + 3] = value >> 24;
      return;
    }
    this.cpu.memory.write32(this.writeTarget(linear), value);
  }

  /**
   * A write that crosses a page boundary: both pages are checked before either is written. A fault on the
   * second page reports (in CR2) the first byte of the write on that page, as a split access does.
   */
  private writeSplit(linear: number, value: number, length: number): void {
    const mem = this.cpu.memory;
    const a = this.translate(linear, true);
    const b = this.translate(((linear | 0xfff) + 1) | 0, true);
    for (let i = 0; i < length; i++) {
      const byteLinear = (linear + i) | 0;
      const phys = (byteLinear ^ linear) & ~0xfff ? (b & ~0xfff) | (byteLinear & 0xfff) : a + i;
      mem.write8(phys, value >> (i * 8));
    }
  }

  /** Raises the #PF a write of `length` bytes at `linear` would raise, without writing. */
  checkWritable(linear: number, length: number): void {
    if (this.paging === false) return;
    this.translate(linear, true);
    if (((linear & 0xfff) + length - 1) >> 12) this.translate(((linear | 0xfff) + 1) | 0, true);
  }
}
