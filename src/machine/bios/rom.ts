/**
 * The 64 KiB BIOS ROM at F000:0000, assembled at start-up by a tiny 16-bit code emitter (no external
 * assembler at run time). The ROM holds little code: each interrupt vector points to a stub of a dozen bytes
 * that writes AL to the hypercall port (with DX saved on the stack) and lets the TypeScript service do the
 * work; see hypercall.ts for the calling convention. The rest is data the guest may read: the reset vector,
 * the diskette parameter table, the system configuration table, the BIOS date and model byte.
 *
 * Entry points sit at the addresses of the IBM PC/AT BIOS (IBM AT Technical Reference, ROM BIOS listing;
 * SeaBIOS keeps the same ones) because old software jumps to them directly: F000:E05B POST, F000:E3FE
 * INT 13h, F000:E82E INT 16h, F000:E987 INT 09h, F000:EFC7 diskette parameters, F000:F065 INT 10h, and so on.
 * Each of them is a jump to the stub body, which lives in the free space below 0xE000.
 */
import { BIOS_STACK_TOP, BOOT_SECTOR_ADDRESS, HYPERCALL_PORT, ROM_SEGMENT, ROM_SIZE } from './layout.ts';

// ---- Services a hypercall site asks for ----
export const SVC_POST = 1;
export const SVC_IRQ0 = 2;
export const SVC_IRQ1 = 3;
export const SVC_IRQ6 = 4;
export const SVC_IRQ8 = 5;
export const SVC_IRQ_MASTER = 6;
export const SVC_IRQ_SLAVE = 7;
export const SVC_INT10 = 8;
export const SVC_INT11 = 9;
export const SVC_INT12 = 10;
export const SVC_INT13 = 11;
export const SVC_INT14 = 12;
export const SVC_INT15 = 13;
export const SVC_INT16 = 14;
export const SVC_INT17 = 15;
export const SVC_INT18 = 16;
export const SVC_INT19 = 17;
export const SVC_INT1A = 18;

/** A site is `service << 1 | POLL` when it is the retry of a waiting service, `service << 1` otherwise. */
export const SITE_POLL = 1;

// ---- Fixed entry points (offsets in segment F000) ----
export const ENTRY_POST = 0xe05b;
export const ENTRY_NMI = 0xe2c3;
export const ENTRY_INT13 = 0xe3fe;
export const ENTRY_INT19 = 0xe6f2;
export const ROM_CONFIG_TABLE = 0xe6f5;
export const ENTRY_INT14 = 0xe739;
export const ENTRY_INT16 = 0xe82e;
export const ENTRY_INT09 = 0xe987;
export const ENTRY_INT13_FLOPPY = 0xec59;
export const ENTRY_INT0E = 0xef57;
export const ROM_DISKETTE_PARAMS = 0xefc7;
export const ENTRY_INT17 = 0xefd2;
export const ENTRY_INT10 = 0xf065;
export const ENTRY_INT12 = 0xf841;
export const ENTRY_INT11 = 0xf84d;
export const ENTRY_INT15 = 0xf859;
export const ENTRY_INT1A = 0xfe6e;
export const ENTRY_INT08 = 0xfea5;
export const ENTRY_DUMMY_IRET = 0xff53;
export const ENTRY_INT05 = 0xff54;
export const ENTRY_RESET = 0xfff0;
export const ROM_DATE = 0xfff5;
export const ROM_MODEL = 0xfffe;

/** Bodies that have no fixed address of their own. */
export interface RomEntries {
  int18: number;
  int70: number;
  irqMaster: number;
  irqSlave: number;
}

/** IBM model byte 0xFC = PC/AT and compatibles; submodel 0x01. */
export const MODEL_AT = 0xfc;
export const SUBMODEL = 0x01;
const BIOS_DATE = '01/01/26';

/**
 * The diskette parameter table (INT 1Eh) for a 1.44 MB drive: step rate/head unload, head load/DMA, motor
 * off delay (ticks), bytes per sector (2 = 512), sectors per track, gap length, data length, format gap,
 * format fill byte, head settle (ms), motor start (1/8 s).
 */
const DISKETTE_PARAMS = [0xaf, 0x02, 0x25, 0x02, 18, 0x1b, 0xff, 0x6c, 0xf6, 0x0f, 0x08];

/**
 * INT 15h AH=C0h system configuration table: length, model, submodel, BIOS revision, feature bytes 1-5.
 * Feature byte 1: 0x40 second 8259, 0x20 RTC, 0x10 INT 09h calls INT 15h/4Fh, 0x04 EBDA allocated.
 * Feature byte 2: 0x40 INT 16h/09h (extended keyboard functions) supported.
 */
const CONFIG_TABLE = [8, 0, MODEL_AT, SUBMODEL, 0, 0x74, 0x40, 0, 0, 0];

// ---- Opcodes the stubs use (Intel SDM Vol. 2, one-byte opcode map) ----
const OP_PUSH_AX = 0x50;
const OP_PUSH_DX = 0x52;
const OP_POP_AX = 0x58;
const OP_POP_DX = 0x5a;
const OP_JC = 0x72;
const OP_JNC = 0x73;
const OP_MOV_SREG_RM16 = 0x8e;
const OP_XOR_RM16_R16 = 0x31;
const OP_MOV_AL_IMM8 = 0xb0;
const OP_MOV_AH_IMM8 = 0xb4;
const OP_MOV_DX_IMM16 = 0xba;
const OP_MOV_SP_IMM16 = 0xbc;
const OP_INT = 0xcd;
const OP_IRET = 0xcf;
const OP_IN_AL_IMM8 = 0xe4;
const OP_OUT_IMM8_AL = 0xe6;
const OP_JMP_NEAR = 0xe9;
const OP_JMP_FAR = 0xea;
const OP_JMP_SHORT = 0xeb;
const OP_OUT_DX_AL = 0xee;
const OP_HLT = 0xf4;
const OP_STC = 0xf9;
const OP_CLI = 0xfa;
const OP_STI = 0xfb;
const OP_CLD = 0xfc;
/** ModRM bytes for register operands: AX,AX and the segment register moves from AX. */
const MODRM_AX_AX = 0xc0;
const MODRM_ES_AX = 0xc0;
const MODRM_SS_AX = 0xd0;
const MODRM_DS_AX = 0xd8;

const PIC_MASTER_COMMAND = 0x20;
const PIC_EOI = 0x20;
const KBC_DATA = 0x60;
const INT_KEYBOARD_INTERCEPT_AH = 0x4f;

/** A jump target that may be bound after the jumps to it were emitted. */
interface Label {
  at: number;
  fixups: number[];
}

/** Emits 16-bit code and data into the ROM image, refusing to overwrite bytes already placed. */
class RomAssembler {
  readonly image = new Uint8Array(ROM_SIZE);
  private readonly used = new Uint8Array(ROM_SIZE);
  /** Hypercall sites: the offset just after each OUT DX,AL, mapped to its site code. */
  readonly sites = new Map<number, number>();
  pos = 0;

  at(offset: number): this {
    this.pos = offset;
    return this;
  }

  bytes(...values: number[]): this {
    for (const v of values) {
      if (this.pos >= ROM_SIZE) throw new Error('bios rom: image overflow');
      if (this.used[this.pos]) throw new Error(`bios rom: byte at ${this.pos.toString(16)} placed twice`);
      this.used[this.pos] = 1;
      this.image[this.pos++] = v & 0xff;
    }
    return this;
  }

  word(value: number): this {
    return this.bytes(value, value >> 8);
  }

  text(s: string): this {
    for (let i = 0; i < s.length; i++) this.bytes(s.charCodeAt(i));
    return this;
  }

  label(): Label {
    return { at: -1, fixups: [] };
  }

  bind(label: Label): this {
    label.at = this.pos;
    for (const f of label.fixups) this.patchRel8(f, label.at);
    return this;
  }

  /** A short conditional or unconditional jump (rel8). */
  jump(opcode: number, label: Label): this {
    this.bytes(opcode, 0);
    const field = this.pos - 1;
    if (label.at >= 0) this.patchRel8(field, label.at);
    else label.fixups.push(field);
    return this;
  }

  private patchRel8(field: number, target: number): void {
    const rel = target - (field + 1);
    if (rel < -128 || rel > 127) throw new Error('bios rom: short jump out of range');
    this.image[field] = rel & 0xff;
  }

  jmpNear(target: number): this {
    this.bytes(OP_JMP_NEAR);
    return this.word(target - (this.pos + 2));
  }

  jmpFar(segment: number, offset: number): this {
    return this.bytes(OP_JMP_FAR).word(offset).word(segment);
  }

  int(vector: number): this {
    return this.bytes(OP_INT, vector);
  }

  /** `push dx; mov dx, HYPERCALL_PORT`: every hypercall sequence starts so (the service finds DX on the stack). */
  enterHypercall(): this {
    return this.bytes(OP_PUSH_DX, OP_MOV_DX_IMM16).word(HYPERCALL_PORT);
  }

  /** `out dx, al`, recorded as a hypercall site. */
  hypercall(site: number): this {
    this.bytes(OP_OUT_DX_AL);
    this.sites.set(this.pos, site);
    return this;
  }

  /** Sends a non-specific EOI to the master PIC: `push ax; mov al, 20h; out 20h, al; pop ax`. */
  eoiMaster(): this {
    return this.bytes(OP_PUSH_AX, OP_MOV_AL_IMM8, PIC_EOI, OP_OUT_IMM8_AL, PIC_MASTER_COMMAND, OP_POP_AX);
  }
}

/**
 * A service stub: the service runs at the first site; while it answers "wait" (live CF=1) the stub halts
 * with interrupts on and asks again at the poll site, until the service says done (CF=0).
 *
 *   push dx / mov dx, PORT / out dx, al / jnc done
 *   wait: sti / hlt / cli / out dx, al (poll) / jc wait
 *   done: pop dx / iret
 */
function serviceStub(a: RomAssembler, service: number): number {
  const start = a.pos;
  const wait = a.label();
  const done = a.label();
  a.enterHypercall()
    .hypercall(service << 1)
    .jump(OP_JNC, done);
  a.bind(wait)
    .bytes(OP_STI, OP_HLT, OP_CLI)
    .hypercall((service << 1) | SITE_POLL)
    .jump(OP_JC, wait);
  a.bind(done).bytes(OP_POP_DX, OP_IRET);
  return start;
}

/** A hardware interrupt stub whose service also sends the EOI: `push dx / ... / out / pop dx / iret`. */
function irqStub(a: RomAssembler, service: number): number {
  const start = a.pos;
  a.enterHypercall()
    .hypercall(service << 1)
    .bytes(OP_POP_DX, OP_IRET);
  return start;
}

export interface RomImage {
  image: Uint8Array;
  /** Hypercall sites: ROM offset after the OUT instruction -> site code (service << 1 | SITE_POLL). */
  sites: ReadonlyMap<number, number>;
  entries: RomEntries;
}

/** Assembles the ROM. Pure: the same image every time. */
export function buildRom(): RomImage {
  const a = new RomAssembler();
  a.at(0x0100);

  // POST: a stack, the TypeScript POST, then boot (INT 19h).
  const post = a.pos;
  a.bytes(OP_CLI, OP_CLD, OP_XOR_RM16_R16, MODRM_AX_AX, OP_MOV_SREG_RM16, MODRM_SS_AX)
    .bytes(OP_MOV_SP_IMM16)
    .word(BIOS_STACK_TOP)
    .enterHypercall()
    .hypercall(SVC_POST << 1)
    .bytes(OP_POP_DX, OP_STI)
    .int(0x19);

  // INT 19h: load the boot sector (the service sets DL and answers CF=1 when nothing is bootable).
  const int19 = a.pos;
  const noBoot = a.label();
  a.enterHypercall()
    .hypercall(SVC_INT19 << 1)
    .bytes(OP_POP_DX)
    .jump(OP_JC, noBoot)
    .bytes(OP_CLI, OP_XOR_RM16_R16, MODRM_AX_AX)
    .bytes(OP_MOV_SREG_RM16, MODRM_DS_AX, OP_MOV_SREG_RM16, MODRM_ES_AX, OP_MOV_SREG_RM16, MODRM_SS_AX)
    .bytes(OP_MOV_SP_IMM16)
    .word(BIOS_STACK_TOP)
    .bytes(OP_STI)
    .jmpFar(0, BOOT_SECTOR_ADDRESS);
  a.bind(noBoot).int(0x18);

  // INT 18h: boot failure. The service prints why; then wait forever with interrupts on.
  const int18 = a.pos;
  const forever = a.label();
  a.enterHypercall()
    .hypercall(SVC_INT18 << 1)
    .bytes(OP_POP_DX, OP_STI);
  a.bind(forever).bytes(OP_HLT).jump(OP_JMP_SHORT, forever);

  // INT 08h (IRQ0): the service counts the tick; then INT 1Ch and the EOI, in that order (AT BIOS).
  const int08 = a.pos;
  a.enterHypercall()
    .hypercall(SVC_IRQ0 << 1)
    .bytes(OP_POP_DX)
    .int(0x1c)
    .eoiMaster()
    .bytes(OP_IRET);

  // INT 09h (IRQ1): read the scan code, offer it to INT 15h/4Fh, and if CF is still set, translate it.
  const int09 = a.pos;
  const skipKey = a.label();
  a.bytes(OP_PUSH_AX, OP_IN_AL_IMM8, KBC_DATA, OP_MOV_AH_IMM8, INT_KEYBOARD_INTERCEPT_AH, OP_STC)
    .int(0x15)
    .jump(OP_JNC, skipKey)
    .enterHypercall()
    .hypercall(SVC_IRQ1 << 1)
    .bytes(OP_POP_DX);
  a.bind(skipKey).eoiMaster().bytes(OP_POP_AX, OP_IRET);

  const int0e = irqStub(a, SVC_IRQ6);
  const int70 = irqStub(a, SVC_IRQ8);
  const irqMaster = irqStub(a, SVC_IRQ_MASTER);
  const irqSlave = irqStub(a, SVC_IRQ_SLAVE);

  // The software interrupt services, each behind its AT entry point (INT 40h, the floppy-only INT 13h that
  // DOS moves aside, shares the INT 13h body: one handler serves floppies and hard disks).
  const int13 = serviceStub(a, SVC_INT13);
  const jumps: Array<[number, number]> = [
    [ENTRY_POST, post],
    [ENTRY_INT19, int19],
    [ENTRY_INT08, int08],
    [ENTRY_INT09, int09],
    [ENTRY_INT0E, int0e],
    [ENTRY_INT13, int13],
    [ENTRY_INT13_FLOPPY, int13],
    [ENTRY_INT10, serviceStub(a, SVC_INT10)],
    [ENTRY_INT11, serviceStub(a, SVC_INT11)],
    [ENTRY_INT12, serviceStub(a, SVC_INT12)],
    [ENTRY_INT14, serviceStub(a, SVC_INT14)],
    [ENTRY_INT15, serviceStub(a, SVC_INT15)],
    [ENTRY_INT16, serviceStub(a, SVC_INT16)],
    [ENTRY_INT17, serviceStub(a, SVC_INT17)],
    [ENTRY_INT1A, serviceStub(a, SVC_INT1A)],
  ];
  // Fixed entry points: a near jump to each body.
  for (const [entry, body] of jumps) a.at(entry).jmpNear(body);

  a.at(ENTRY_NMI).bytes(OP_IRET);
  a.at(ENTRY_DUMMY_IRET).bytes(OP_IRET);
  a.at(ENTRY_INT05).bytes(OP_IRET);
  a.at(ROM_DISKETTE_PARAMS).bytes(...DISKETTE_PARAMS);
  a.at(ROM_CONFIG_TABLE).bytes(...CONFIG_TABLE);
  a.at(ENTRY_RESET).jmpFar(ROM_SEGMENT, ENTRY_POST);
  a.at(ROM_DATE).text(BIOS_DATE);
  a.at(ROM_MODEL).bytes(MODEL_AT, SUBMODEL);

  return { image: a.image, sites: a.sites, entries: { int18, int70, irqMaster, irqSlave } };
}
