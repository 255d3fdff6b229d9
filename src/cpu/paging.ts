/**
 * The bits of 32-bit paging (Intel SDM Vol. 3A, 4.3, Figures 4-4 and 4-12: page-table entries, #PF error
 * codes) and of the MMU's TLB entries. A module without imports, so that the bundler puts the values in place
 * of the names in the MMU's hot paths (it does not inline the constants of a module that imports anything).
 */

/** Permission bits of a TLB entry: the access kinds it allows without a walk. */
export const TLB_READ_SUPER = 1;
export const TLB_WRITE_SUPER = 2;
export const TLB_READ_USER = 4;
export const TLB_WRITE_USER = 8;
export const TLB_GLOBAL = 16;

/**
 * Write rights of a page that holds compiled code (see jit/): moved up out of the fast path's reach, so every
 * write to the page takes the slow path, which tells the JIT (through PhysicalMemory) to drop the page's
 * blocks. The slow path uses them to skip the page walk.
 */
export const TLB_CODE_WRITE_SUPER = TLB_WRITE_SUPER << 4;
export const TLB_CODE_WRITE_USER = TLB_WRITE_USER << 4;
export const TLB_WRITE_BITS = TLB_WRITE_SUPER | TLB_WRITE_USER;
export const TLB_CODE_WRITE_BITS = TLB_CODE_WRITE_SUPER | TLB_CODE_WRITE_USER;

/** Entries of the TLB: one per linear page. */
export const TLB_PAGES = 1 << 20;
/** The physical page base in an entry (the permission bits are below it). */
export const TLB_PHYS = ~0xfff;
/**
 * Entries filled between flushes at most (a 32 MiB working set); then all are dropped. Linux's CR3 loads
 * flush far more often than that.
 */
export const TLB_FILLED_MAX = 8192;

/** Page-table entry bits. */
export const PTE_P = 1 << 0;
export const PTE_RW = 1 << 1;
export const PTE_US = 1 << 2;
export const PTE_A = 1 << 5;
export const PTE_D = 1 << 6;
export const PDE_PS = 1 << 7;
export const PTE_G = 1 << 8;

/** #PF error code bits. */
export const PF_P = 1;
export const PF_W = 2;
export const PF_U = 4;
