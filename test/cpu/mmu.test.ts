/**
 * The TLB's invalidation (src/cpu/mmu.ts, SDM Vol. 3A 4.10.4): a CR3 load drops every non-global
 * translation and, with CR4.PGE, keeps the global ones; INVLPG drops one page; a full flush drops all. The
 * TLB clears only the entries filled since the last flush, so these tests fill many entries, rewrite the page
 * tables behind the TLB's back, and check which translations each kind of flush leaves.
 */
import { describe, expect, it } from 'vitest';
import { createPc } from '../../src/machine/pc.ts';
import { CR0_PG, CR0_PE } from '../../src/cpu/constants.ts';
import { CR4_PGE } from '../../src/cpu/constants.ts';
import { TLB_FILLED_MAX } from '../../src/cpu/paging.ts';

const PAGE_DIRECTORY = 0x10000;
const PAGE_TABLE = 0x11000;
/** Linear base of the 1024 pages under test (page-directory entry 1). */
const LINEAR = 0x400000;
const OLD_FRAMES = 0x100000;
const NEW_FRAMES = 0x500000;
const PTE_P = 1;
const PTE_RW = 2;
const PTE_G = 0x100;

/** Even pages are global. */
const isGlobal = (k: number) => k % 2 === 0;

function pagedPc() {
  const pc = createPc({ memoryMiB: 16 });
  const mem = pc.memory;
  mem.write32(PAGE_DIRECTORY + 4, PAGE_TABLE | PTE_P | PTE_RW);
  const cpu = pc.cpu;
  const map = (frames: number) => {
    for (let k = 0; k < 1024; k++) {
      mem.write32(PAGE_TABLE + 4 * k, (frames + k * 0x1000) | PTE_P | PTE_RW | (isGlobal(k) ? PTE_G : 0));
    }
  };
  map(OLD_FRAMES);
  cpu.cr3 = PAGE_DIRECTORY;
  cpu.cr4 = CR4_PGE;
  cpu.cr0 |= CR0_PE | CR0_PG;
  cpu.mmu.configure();
  cpu.mmu.flush(true);
  const frameOf = (k: number) =>
    (cpu.mmu.translate(LINEAR + k * 0x1000 + 0x123, false) - 0x123 - OLD_FRAMES) >>> 12;
  const touchAll = () => {
    for (let k = 0; k < 1024; k++) cpu.mmu.translate(LINEAR + k * 0x1000, false);
  };
  return { pc, cpu, map, frameOf, touchAll };
}

/** Frame numbers relative to OLD_FRAMES: k for the old mapping, k + 0x400 for the new. */
const NEW = (NEW_FRAMES - OLD_FRAMES) >>> 12;

describe('TLB invalidation', () => {
  it('a CR3 flush drops non-global pages and keeps global ones; a full flush drops all', () => {
    const { cpu, map, frameOf, touchAll } = pagedPc();
    touchAll();
    map(NEW_FRAMES); // no invalidation yet: the TLB still holds the old frames
    for (let k = 0; k < 1024; k++) expect(frameOf(k)).toBe(k);
    cpu.mmu.flush(false);
    for (let k = 0; k < 1024; k++) expect(frameOf(k)).toBe(isGlobal(k) ? k : k + NEW);
    cpu.mmu.flush(true);
    for (let k = 0; k < 1024; k++) expect(frameOf(k)).toBe(k + NEW);
  });

  it('keeps global pages across repeated CR3 flushes, and INVLPG drops one of them', () => {
    const { cpu, map, frameOf, touchAll } = pagedPc();
    touchAll();
    map(NEW_FRAMES);
    for (let round = 0; round < 3; round++) {
      cpu.mmu.flush(false);
      touchAll(); // refills the non-global slots between flushes, as a process does
    }
    for (let k = 0; k < 1024; k++) expect(frameOf(k)).toBe(isGlobal(k) ? k : k + NEW);
    cpu.mmu.invalidatePage(LINEAR + 6 * 0x1000);
    expect(frameOf(6)).toBe(6 + NEW);
    expect(frameOf(8)).toBe(8);
    // The slot INVLPG emptied and the walk refilled is still dropped by the next flush with the rest.
    map(OLD_FRAMES);
    cpu.mmu.flush(false);
    expect(frameOf(6)).toBe(isGlobal(6) ? 6 + NEW : 6);
    expect(frameOf(7)).toBe(7);
    expect(frameOf(8)).toBe(8);
  });

  it('with CR4.PGE clear a CR3 flush drops global pages too', () => {
    const { cpu, map, frameOf, touchAll } = pagedPc();
    touchAll();
    map(NEW_FRAMES);
    cpu.cr4 = 0;
    cpu.mmu.flush(false);
    for (let k = 0; k < 1024; k++) expect(frameOf(k)).toBe(k + NEW);
  });

  it('a page that comes to hold compiled code loses its fast write rights in every entry mapping it', () => {
    const { cpu } = pagedPc();
    const k = 5;
    // Written once, so the walk sets the dirty bits and the entries get write rights.
    for (const page of [k, k + 1]) cpu.mmu.translate(LINEAR + page * 0x1000, true);
    const entry = (LINEAR >>> 12) + k;
    const tlb = cpu.mmu.tlb;
    expect(tlb[entry] & 0x2).not.toBe(0); // supervisor write, on the fast path
    expect(tlb[entry] & ~0xfff).toBe(OLD_FRAMES + k * 0x1000); // the physical page beside the bits
    cpu.mmu.protectCodePage((OLD_FRAMES >>> 12) + k);
    expect(tlb[entry] & 0xa).toBe(0);
    expect(tlb[entry] & 0x20).not.toBe(0); // moved to the code-write position
    expect(tlb[entry] & ~0xfff).toBe(OLD_FRAMES + k * 0x1000);
    expect(tlb[entry + 1] & 0x2).not.toBe(0); // its neighbour keeps them
  });

  it('drops every entry, and still translates, once more pages were filled than the list holds', () => {
    const { cpu } = pagedPc();
    // Paging off: every linear page is its own frame, and each new page takes a place in the filled list.
    cpu.cr0 &= ~0x80000000;
    cpu.mmu.configure();
    cpu.mmu.flush(true);
    const pages = TLB_FILLED_MAX + 10;
    for (let page = 0; page < pages; page++) cpu.mmu.translate(page * 0x1000, false);
    // The first pages were dropped when the list filled up; the last ones are there.
    expect(cpu.mmu.tlb[0]).toBe(0);
    expect(cpu.mmu.tlb[pages - 1]).toBe((pages - 1) * 0x1000); // beyond RAM: an entry without rights
    expect(cpu.mmu.translate(0x1234, false)).toBe(0x1234);
    expect(cpu.mmu.tlb[1] & 0x1).not.toBe(0);
  });
});
