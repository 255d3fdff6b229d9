/**
 * The hypercall calling convention between the ROM stubs and the TypeScript services.
 *
 * A stub does `push dx; mov dx, HYPERCALL_PORT; out dx, al`. The port handler identifies the stub by where
 * the OUT was executed (CS base + IP, which must be inside the ROM: writes from anywhere else are ignored), so
 * no register carries a function number and the guest's registers reach the service intact:
 *
 * - on entry the caller's DX is fetched from the top of the stack into DX, so the service reads and writes
 *   every general register in place (cpu.reg8/reg16/reg32);
 * - on exit the service's DX goes back to the stack slot (the stub's `pop dx` returns it), DX is loaded with
 *   the port again for a possible retry, and the live CF tells the stub what to do next: CF=0 done, CF=1
 *   wait (`sti; hlt`, then ask again at the stub's poll site) or, for INT 19h, "nothing to boot";
 * - the caller's FLAGS image sits in the interrupt frame at SS:SP+6 ([DX][IP][CS][FLAGS]); services return CF
 *   and ZF there, leaving IF and the rest as the caller had them.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { SS } from '../../cpu/constants.ts';
import { FLAG_CF, FLAG_ZF } from '../../cpu/flags.ts';
import type { PhysicalMemory } from '../../cpu/memory.ts';
import { HYPERCALL_PORT } from './layout.ts';

// Indexes into cpu.reg8 (little-endian views of EAX..EBX) and cpu.reg16 (register number * 2).
export const AL = 0;
export const AH = 1;
export const CL = 4;
export const CH = 5;
export const DL = 8;
export const DH = 9;
export const BL = 12;
export const BH = 13;
export const AX = 0;
export const CX = 2;
export const DX = 4;
export const BX = 6;
export const SP = 8;
export const BP = 10;
export const SI = 12;
export const DI = 14;

/** What a service tells its stub through the live CF. */
export const DONE = 0;
/** Not done yet: halt until an interrupt (or the wait timer) and ask again. */
export const WAIT_HALT = FLAG_CF;
/** INT 19h only: no bootable device. */
export const FAILED = FLAG_CF;

/** Offset of the FLAGS image from SS:SP inside a service stub: saved DX, IP, CS, FLAGS. */
const FRAME_FLAGS = 6;

/** The hypercall in progress: DX shuffling and the caller's FLAGS image. Allocated once per BIOS. */
export class BiosCall {
  private sp = 0;

  constructor(private readonly cpu: Cpu) {}

  /** Loads the caller's DX (saved by the stub) into DX. */
  enter(): void {
    this.sp = this.cpu.getSp();
    this.cpu.reg16[DX] = this.cpu.read16(SS, this.sp);
  }

  /** Hands DX back through the stack and sets the live flags the stub tests. */
  leave(live: number): void {
    const cpu = this.cpu;
    cpu.write16(SS, this.sp, cpu.reg16[DX]);
    cpu.reg16[DX] = HYPERCALL_PORT;
    cpu.setFlags(live, FLAG_CF);
  }

  /** After a guest fault inside a service: the stub will re-execute the OUT, which needs the port in DX. */
  abandon(): void {
    this.cpu.reg16[DX] = HYPERCALL_PORT;
  }

  /** Sets or clears CF in the caller's FLAGS (returned by the stub's IRET). */
  setCarry(on: boolean): void {
    this.setFrameFlag(FLAG_CF, on);
  }

  setZero(on: boolean): void {
    this.setFrameFlag(FLAG_ZF, on);
  }

  private setFrameFlag(flag: number, on: boolean): void {
    const offset = this.cpu.spOffset(FRAME_FLAGS);
    const flags = this.cpu.read16(SS, offset);
    this.cpu.write16(SS, offset, on ? flags | flag : flags & ~flag);
  }

  /** Sets AH to a status code and CF to (status != 0), the INT 13h/15h convention. */
  status(code: number): void {
    this.cpu.reg8[AH] = code;
    this.setCarry(code !== 0);
  }
}

/**
 * The caller's memory: real-mode seg:offset pairs and linear addresses go through the CPU's MMU, so a
 * caller in V86 mode under a paging monitor reads and writes its own pages.
 */
export class GuestMemory {
  constructor(
    private readonly cpu: Cpu,
    private readonly memory: PhysicalMemory,
  ) {}

  /** Linear address of segment:offset (16-bit offset, real-mode style). */
  static linear(segment: number, offset: number): number {
    return ((segment & 0xffff) << 4) + (offset & 0xffff);
  }

  /** Linear address of offset in segment register `seg` as currently loaded. */
  at(seg: number, offset: number): number {
    return (this.cpu.segBase[seg] + (offset & 0xffff)) >>> 0;
  }

  read8(linear: number): number {
    return this.cpu.mmu.readLinear8(linear | 0);
  }
  read16(linear: number): number {
    return this.cpu.mmu.readLinear16(linear | 0);
  }
  read32(linear: number): number {
    return this.cpu.mmu.readLinear32(linear | 0) >>> 0;
  }
  write8(linear: number, value: number): void {
    this.cpu.mmu.writeLinear8(linear | 0, value);
  }
  write16(linear: number, value: number): void {
    this.cpu.mmu.writeLinear16(linear | 0, value);
  }
  write32(linear: number, value: number): void {
    this.cpu.mmu.writeLinear32(linear | 0, value);
  }

  readBytes(linear: number, into: Uint8Array, length: number): void {
    const mmu = this.cpu.mmu;
    for (let i = 0; i < length; i++) into[i] = mmu.readLinear8((linear + i) | 0);
  }

  writeBytes(linear: number, from: Uint8Array, length: number): void {
    const mmu = this.cpu.mmu;
    for (let i = 0; i < length; i++) mmu.writeLinear8((linear + i) | 0, from[i]);
    this.memory.writeGeneration++;
  }
}
