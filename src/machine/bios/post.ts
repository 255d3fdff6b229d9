/**
 * Power-on self test, run in TypeScript from the ROM's POST stub at every reset: it builds the interrupt
 * vector table, the BDA and the EBDA, programs the devices the way an AT BIOS leaves them (IBM PC/AT
 * Technical Reference, "POST"; SeaBIOS does the same steps) and prints the banner. The stub then executes
 * INT 19h. Nothing is remembered between runs: a reset (triple fault, Ctrl-Alt-Del, port 0x92 or 0xCF9)
 * rebuilds everything from the board.
 */
import type { Bios } from './index.ts';
import {
  FDC_CMD_SENSE_INTERRUPT,
  FDC_CMD_SPECIFY,
  FDC_DOR_DMA_GATE,
  FDC_DOR_NRESET,
  FDC_MSR_DIO,
  FDC_MSR_RQM,
  FDC_REG_DIR_CCR,
  FDC_REG_DOR,
  FDC_REG_FIFO,
  FDC_REG_MSR_DSR,
} from '../../devices/floppy-82077aa-constants.ts';
import { FDC_RATE_1M, FDC_RATE_250K, FDC_RATE_500K } from '../../devices/floppy-82077aa-drive.ts';
import {
  BASE_MEMORY_KB,
  BDA_BASE,
  BDA_COM_PORTS,
  BDA_COM_TIMEOUT,
  BDA_DISK_COUNT,
  BDA_EBDA_SEGMENT,
  BDA_EQUIPMENT,
  BDA_FLOPPY_MEDIA_STATE,
  BDA_FLOPPY_RATE,
  BDA_KBD_BUFFER_END,
  BDA_KBD_BUFFER_START,
  BDA_KBD_FLAGS3,
  BDA_KBD_HEAD,
  BDA_KBD_TAIL,
  BDA_LPT_TIMEOUT,
  BDA_MEMORY_SIZE_KB,
  BDA_RESET_FLAG,
  BDA_SIZE,
  BDA_TICKS,
  EBDA_BASE,
  EBDA_FDPT0,
  EBDA_FDPT1,
  EBDA_SEGMENT,
  EBDA_SIZE_KB,
  IVT_BASE,
  IVT_ENTRIES,
  KBD_BUFFER_END,
  KBD_BUFFER_START,
  ROM_SEGMENT,
} from './layout.ts';
import {
  ENTRY_DUMMY_IRET,
  ENTRY_INT05,
  ENTRY_INT08,
  ENTRY_INT09,
  ENTRY_INT0E,
  ENTRY_INT10,
  ENTRY_INT11,
  ENTRY_INT12,
  ENTRY_INT13,
  ENTRY_INT13_FLOPPY,
  ENTRY_INT14,
  ENTRY_INT15,
  ENTRY_INT16,
  ENTRY_INT17,
  ENTRY_INT19,
  ENTRY_INT1A,
  ENTRY_NMI,
  ROM_DISKETTE_PARAMS,
} from './rom.ts';
import { biosGeometry, floppyType } from './disk.ts';
import { KF3_ENHANCED } from './keyboard.ts';
import { SystemServices } from './system.ts';

/** POST progress codes on port 0x80, for whoever watches the POST card. */
const PORT_POST_CODE = 0x80;
const POST_START = 0x01;
const POST_DONE = 0x00;

// Equipment word (INT 11h) bits.
const EQUIP_FLOPPY = 0x0001;
const EQUIP_FPU = 0x0002;
const EQUIP_FLOPPY_COUNT_SHIFT = 6;
const EQUIP_SERIAL_COUNT_SHIFT = 9;

// CMOS configuration bytes (IBM AT Technical Reference, CMOS RAM map).
const CMOS_FLOPPY_TYPES = 0x10;
const CMOS_DISK_TYPES = 0x12;
const CMOS_EQUIPMENT = 0x14;
const CMOS_DISK_TYPE_EXTENDED = 0x0f;

// 8237 DMA: master clear, and channel 4 in cascade mode, unmasked (it carries channels 0-3).
const DMA1_MASTER_CLEAR = 0x0d;
const DMA2_MASTER_CLEAR = 0xda;
const DMA2_MODE = 0xd6;
const DMA2_SINGLE_MASK = 0xd4;
const DMA_MODE_CASCADE_CH4 = 0xc0;

// 8259A pair: ICW1 edge/cascade/ICW4, vectors 08h and 70h, slave on IR2, 8086 mode.
const PIC_MASTER_COMMAND = 0x20;
const PIC_MASTER_DATA = 0x21;
const PIC_SLAVE_COMMAND = 0xa0;
const PIC_SLAVE_DATA = 0xa1;
const PIC_ICW1 = 0x11;
const PIC_MASTER_VECTOR = 0x08;
const PIC_SLAVE_VECTOR = 0x70;
const PIC_MASTER_CASCADE = 0x04;
const PIC_SLAVE_ID = 0x02;
const PIC_ICW4_8086 = 0x01;
/** Unmasked: IRQ0 timer, IRQ1 keyboard, IRQ2 cascade, IRQ6 floppy. */
const PIC_MASTER_MASK = 0xb8;
const PIC_SLAVE_MASK = 0xff;

// 8254: counter 0, low then high byte, mode 3, count 0 (65536): 18.2 Hz.
const PIT_CONTROL = 0x43;
const PIT_COUNTER0 = 0x40;
const PIT_CH0_MODE3 = 0x36;

// 8042: self test, then the command byte: IRQ1, system flag, aux disabled, set-1 translation.
const KBC_DATA = 0x60;
const KBC_STATUS = 0x64;
const KBC_STATUS_OBF = 0x01;
const KBC_SELF_TEST = 0xaa;
const KBC_WRITE_COMMAND_BYTE = 0x60;
const KBC_COMMAND_BYTE = 0x65;

// 16550: 9600 baud (divisor 12), 8 data bits, no parity, 1 stop bit, DTR and RTS on, interrupts off.
const UART_LCR = 3;
const UART_MCR = 4;
const UART_IER = 1;
const LCR_DLAB = 0x80;
const LCR_8N1 = 0x03;
const DIVISOR_9600 = 12;
const MCR_DTR_RTS = 0x03;

// 82077AA: leave reset with DMA and IRQ enabled, collect the four polling statuses, SPECIFY.
const FDC_BASE = 0x3f0;
const FDC_SPECIFY_SRT_HUT = 0xaf;
const FDC_SPECIFY_HLT_DMA = 0x02;
const FDC_RESET_SENSES = 4;
/** BDA 0x490 media state: bits 7-6 data rate, bit 4 media established, 7 = "other/1.44M" drive. */
const MEDIA_ESTABLISHED = 0x17;
const RATE_BITS: ReadonlyMap<number, number> = new Map([
  [FDC_RATE_500K, 0x00],
  [FDC_RATE_250K, 0x80],
  [FDC_RATE_1M, 0xc0],
]);

const LPT_TIMEOUT_DEFAULT = 0x14;
const COM_TIMEOUT_DEFAULT = 0x01;

export function runPost(bios: Bios): void {
  const pc = bios.pc;
  const ports = pc.ports;
  ports.out8(PORT_POST_CODE, POST_START);
  setUpVectors(bios);
  setUpDataAreas(bios);
  setUpDma(bios);
  setUpFloppy(bios);
  setUpTimer(bios);
  setUpKeyboard(bios);
  setUpSerial(bios);
  setUpCmos(bios);
  bios.video.setMode(3);
  setUpPic(bios);
  pc.memory.write32(BDA_TICKS, SystemServices.ticksFor(bios.system.secondsSinceMidnight()));
  const ramKiB = pc.memory.ramSize / 1024;
  bios.video.print(`visor86 BIOS, ${ramKiB} KiB RAM\r\n`);
  ports.out8(PORT_POST_CODE, POST_DONE);
}

/** The base ports of the board's serial ports, COM1 first (at most four fit the BDA). */
function comPorts(bios: Bios): number[] {
  return bios.pc.uarts.slice(0, 4).map((uart) => uart.portRanges[0].start);
}

function setUpVectors(bios: Bios): void {
  const mem = bios.pc.memory;
  const set = (vector: number, segment: number, offset: number) => {
    mem.write16(IVT_BASE + vector * 4, offset);
    mem.write16(IVT_BASE + vector * 4 + 2, segment);
  };
  const rom = (vector: number, offset: number) => set(vector, ROM_SEGMENT, offset);
  for (let v = 0; v < IVT_ENTRIES; v++) rom(v, ENTRY_DUMMY_IRET);
  for (let v = 0x60; v <= 0x67; v++) set(v, 0, 0); // reserved for user programs
  const e = bios.rom.entries;
  rom(0x02, ENTRY_NMI);
  rom(0x05, ENTRY_INT05);
  rom(0x08, ENTRY_INT08);
  rom(0x09, ENTRY_INT09);
  for (const v of [0x0a, 0x0b, 0x0c, 0x0d, 0x0f]) rom(v, e.irqMaster);
  rom(0x0e, ENTRY_INT0E);
  rom(0x10, ENTRY_INT10);
  rom(0x11, ENTRY_INT11);
  rom(0x12, ENTRY_INT12);
  rom(0x13, ENTRY_INT13);
  rom(0x14, ENTRY_INT14);
  rom(0x15, ENTRY_INT15);
  rom(0x16, ENTRY_INT16);
  rom(0x17, ENTRY_INT17);
  rom(0x18, e.int18);
  rom(0x19, ENTRY_INT19);
  rom(0x1a, ENTRY_INT1A);
  set(0x1d, 0, 0); // no video parameter table
  rom(0x1e, ROM_DISKETTE_PARAMS);
  set(0x1f, 0, 0); // no graphics character table
  rom(0x40, ENTRY_INT13_FLOPPY);
  set(0x41, EBDA_SEGMENT, EBDA_FDPT0);
  set(0x43, 0, 0);
  set(0x46, EBDA_SEGMENT, EBDA_FDPT1);
  rom(0x70, e.int70);
  for (let v = 0x71; v <= 0x77; v++) rom(v, e.irqSlave);
}

function setUpDataAreas(bios: Bios): void {
  const pc = bios.pc;
  const mem = pc.memory;
  // The warm-boot flag a guest (or Ctrl-Alt-Del) left before the reset survives for the booted system.
  const resetFlag = mem.read16(BDA_RESET_FLAG);
  for (let i = 0; i < BDA_SIZE; i++) mem.write8(BDA_BASE + i, 0);
  mem.write16(BDA_RESET_FLAG, resetFlag);
  for (let i = 0; i < EBDA_SIZE_KB * 1024; i++) mem.write8(EBDA_BASE + i, 0);
  mem.write8(EBDA_BASE, EBDA_SIZE_KB);

  comPorts(bios).forEach((port, i) => mem.write16(BDA_COM_PORTS + i * 2, port));
  mem.write16(BDA_EBDA_SEGMENT, EBDA_SEGMENT);
  mem.write16(BDA_MEMORY_SIZE_KB, BASE_MEMORY_KB);
  mem.write16(BDA_KBD_HEAD, KBD_BUFFER_START);
  mem.write16(BDA_KBD_TAIL, KBD_BUFFER_START);
  mem.write16(BDA_KBD_BUFFER_START, KBD_BUFFER_START);
  mem.write16(BDA_KBD_BUFFER_END, KBD_BUFFER_END);
  mem.write8(BDA_KBD_FLAGS3, KF3_ENHANCED);
  for (let i = 0; i < 3; i++) mem.write8(BDA_LPT_TIMEOUT + i, LPT_TIMEOUT_DEFAULT);
  for (let i = 0; i < 4; i++) mem.write8(BDA_COM_TIMEOUT + i, COM_TIMEOUT_DEFAULT);

  // Floppy drives: A: is always reported (a 1.44 MB drive unless its media says otherwise), B: when it
  // holds media at power-on.
  const drives = pc.floppy.drives;
  const floppies = drives[0] ? (drives[1]?.media ? 2 : 1) : 0;
  let equipment = EQUIP_FPU | (comPorts(bios).length << EQUIP_SERIAL_COUNT_SHIFT);
  if (floppies > 0) equipment |= EQUIP_FLOPPY | ((floppies - 1) << EQUIP_FLOPPY_COUNT_SHIFT);
  mem.write16(BDA_EQUIPMENT, equipment);
  for (let i = 0; i < floppies; i++) {
    const rate = drives[i]?.format?.rate;
    if (rate !== undefined)
      mem.write8(BDA_FLOPPY_MEDIA_STATE + i, (RATE_BITS.get(rate) ?? 0) | MEDIA_ESTABLISHED);
  }

  // Hard disks: the count and the AT fixed disk parameter tables for the first two (INT 41h, INT 46h).
  const disks = bios.disk.hardDisks();
  mem.write8(BDA_DISK_COUNT, disks.length);
  disks.slice(0, 2).forEach((disk, i) => {
    const table = EBDA_BASE + (i === 0 ? EBDA_FDPT0 : EBDA_FDPT1);
    const g = biosGeometry(disk);
    mem.write16(table, g.cylinders); // cylinders
    mem.write8(table + 2, g.heads); // heads
    mem.write16(table + 5, 0xffff); // write precompensation: none
    mem.write8(table + 8, g.heads > 8 ? 0x08 : 0x00); // control byte: more than 8 heads
    mem.write16(table + 12, g.cylinders); // landing zone
    mem.write8(table + 14, g.sectors); // sectors per track
  });
}

function setUpDma(bios: Bios): void {
  const ports = bios.pc.ports;
  ports.out8(DMA1_MASTER_CLEAR, 0);
  ports.out8(DMA2_MASTER_CLEAR, 0);
  ports.out8(DMA2_MODE, DMA_MODE_CASCADE_CH4);
  ports.out8(DMA2_SINGLE_MASK, 0x00); // channel 4 (index 0 on DMA2), mask bit clear
}

/**
 * The controller leaves reset when DOR bit 2 is set; it then reports a polling interrupt that four SENSE
 * INTERRUPT STATUS commands collect. SPECIFY sets the drive timings (and DMA mode), CCR the data rate.
 */
function setUpFloppy(bios: Bios): void {
  const ports = bios.pc.ports;
  const msr = FDC_BASE + FDC_REG_MSR_DSR;
  const fifo = FDC_BASE + FDC_REG_FIFO;
  const send = (byte: number) => {
    if ((ports.in8(msr) & (FDC_MSR_RQM | FDC_MSR_DIO)) === FDC_MSR_RQM) ports.out8(fifo, byte);
  };
  const receive = () =>
    (ports.in8(msr) & (FDC_MSR_RQM | FDC_MSR_DIO)) === (FDC_MSR_RQM | FDC_MSR_DIO) ? ports.in8(fifo) : 0;
  ports.out8(FDC_BASE + FDC_REG_DOR, 0);
  ports.out8(FDC_BASE + FDC_REG_DOR, FDC_DOR_NRESET | FDC_DOR_DMA_GATE);
  for (let i = 0; i < FDC_RESET_SENSES; i++) {
    send(FDC_CMD_SENSE_INTERRUPT);
    receive();
    receive();
  }
  send(FDC_CMD_SPECIFY);
  send(FDC_SPECIFY_SRT_HUT);
  send(FDC_SPECIFY_HLT_DMA);
  const rate = bios.pc.floppy.drives[0]?.format?.rate ?? FDC_RATE_500K;
  ports.out8(FDC_BASE + FDC_REG_DIR_CCR, rate);
  bios.pc.memory.write8(BDA_FLOPPY_RATE, RATE_BITS.get(rate) ?? 0);
}

function setUpTimer(bios: Bios): void {
  const ports = bios.pc.ports;
  ports.out8(PIT_CONTROL, PIT_CH0_MODE3);
  ports.out8(PIT_COUNTER0, 0);
  ports.out8(PIT_COUNTER0, 0);
}

function setUpKeyboard(bios: Bios): void {
  const ports = bios.pc.ports;
  const drain = () => {
    for (let i = 0; i < 32 && ports.in8(KBC_STATUS) & KBC_STATUS_OBF; i++) ports.in8(KBC_DATA);
  };
  drain();
  ports.out8(KBC_STATUS, KBC_SELF_TEST);
  drain(); // 0x55: passed (the self test also sets the system flag)
  ports.out8(KBC_STATUS, KBC_WRITE_COMMAND_BYTE);
  ports.out8(KBC_DATA, KBC_COMMAND_BYTE);
}

function setUpSerial(bios: Bios): void {
  const ports = bios.pc.ports;
  for (const base of comPorts(bios)) {
    ports.out8(base + UART_LCR, LCR_DLAB);
    ports.out8(base, DIVISOR_9600);
    ports.out8(base + 1, 0);
    ports.out8(base + UART_LCR, LCR_8N1);
    ports.out8(base + UART_IER, 0);
    ports.out8(base + UART_MCR, MCR_DTR_RTS);
  }
}

/** The configuration bytes an AT setup program would have stored: drive types and equipment. */
function setUpCmos(bios: Bios): void {
  const pc = bios.pc;
  const rtc = pc.rtc;
  const drives = pc.floppy.drives;
  const floppies = bios.disk.floppyCount();
  const typeA = floppies > 0 ? floppyType(drives[0] ?? null) : 0;
  const typeB = floppies > 1 ? floppyType(drives[1] ?? null) : 0;
  rtc.setCmosByte(CMOS_FLOPPY_TYPES, (typeA << 4) | typeB);
  const disks = bios.disk.hardDisks();
  rtc.setCmosByte(
    CMOS_DISK_TYPES,
    (disks.length > 0 ? CMOS_DISK_TYPE_EXTENDED << 4 : 0) | (disks.length > 1 ? CMOS_DISK_TYPE_EXTENDED : 0),
  );
  const equipment = pc.memory.read16(BDA_EQUIPMENT) & 0xff;
  rtc.setCmosByte(CMOS_EQUIPMENT, equipment);
  rtc.setMemorySizes(pc.memory.ramSize);
  rtc.updateChecksum();
}

function setUpPic(bios: Bios): void {
  const ports = bios.pc.ports;
  ports.out8(PIC_MASTER_COMMAND, PIC_ICW1);
  ports.out8(PIC_MASTER_DATA, PIC_MASTER_VECTOR);
  ports.out8(PIC_MASTER_DATA, PIC_MASTER_CASCADE);
  ports.out8(PIC_MASTER_DATA, PIC_ICW4_8086);
  ports.out8(PIC_SLAVE_COMMAND, PIC_ICW1);
  ports.out8(PIC_SLAVE_DATA, PIC_SLAVE_VECTOR);
  ports.out8(PIC_SLAVE_DATA, PIC_SLAVE_ID);
  ports.out8(PIC_SLAVE_DATA, PIC_ICW4_8086);
  ports.out8(PIC_MASTER_DATA, PIC_MASTER_MASK);
  ports.out8(PIC_SLAVE_DATA, PIC_SLAVE_MASK);
}
