import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from '../../src/cpu/memory.ts';
import type { DeviceState, IrqLine } from '../../src/devices/device.ts';
import { MemoryBlockDevice, SECTOR_SIZE } from '../../src/devices/block-device.ts';
import {
  DMA_MODE_CASCADE,
  DMA_MODE_READ,
  DMA_MODE_SINGLE,
  DMA_MODE_WRITE,
  Dma8237,
} from '../../src/devices/dma8237.ts';
import {
  FDC_CMD_CONFIGURE,
  FDC_CMD_DUMPREG,
  FDC_CMD_FORMAT_TRACK,
  FDC_CMD_LOCK,
  FDC_CMD_MFM,
  FDC_CMD_MT,
  FDC_CMD_PERPENDICULAR_MODE,
  FDC_CMD_READ_DATA,
  FDC_CMD_READ_ID,
  FDC_CMD_RECALIBRATE,
  FDC_CMD_RELATIVE_SEEK,
  FDC_CMD_SEEK,
  FDC_CMD_SENSE_DRIVE_STATUS,
  FDC_CMD_SENSE_INTERRUPT,
  FDC_CMD_SPECIFY,
  FDC_CMD_VERSION,
  FDC_CMD_WRITE_DATA,
  FDC_CONFIG_EIS,
  FDC_MSR_CMD_BUSY,
  FDC_MSR_DIO,
  FDC_MSR_NON_DMA,
  FDC_MSR_RQM,
  FDC_ST1_EN,
  FDC_ST1_MA,
  FDC_ST1_ND,
  FDC_ST1_NW,
  FDC_ST1_OR,
  FDC_ST2_WC,
} from '../../src/devices/floppy-82077aa-constants.ts';
import { Floppy82077aa } from '../../src/devices/floppy-82077aa.ts';
import { FDC_RATE_1M, FDC_RATE_250K, FDC_RATE_500K } from '../../src/devices/floppy-82077aa-drive.ts';

class FakeIrq implements IrqLine {
  levels: boolean[] = [];
  level = false;
  set(level: boolean): void {
    if (level !== this.level) this.levels.push(level);
    this.level = level;
  }
  get rises(): number {
    return this.levels.filter((l) => l).length;
  }
}

const SPT_144 = 18;
const SIZE_144 = 80 * 2 * SPT_144;

function patternImage(sectors: number): Uint8Array {
  const data = new Uint8Array(sectors * SECTOR_SIZE);
  for (let s = 0; s < sectors; s++) fillPattern(data.subarray(s * SECTOR_SIZE, (s + 1) * SECTOR_SIZE), s, 0);
  return data;
}
function fillPattern(into: Uint8Array, index: number, salt: number): void {
  for (let i = 0; i < SECTOR_SIZE; i++) into[i] = (index * 5 + i * 3 + salt) & 0xff;
  new DataView(into.buffer, into.byteOffset).setUint32(0, index, true);
}
function sectorPattern(index: number, salt = 0): Uint8Array {
  const s = new Uint8Array(SECTOR_SIZE);
  fillPattern(s, index, salt);
  return s;
}
const lbaOf = (c: number, h: number, r: number, spt = SPT_144) => (c * 2 + h) * spt + r - 1;

const READ = FDC_CMD_MFM | FDC_CMD_READ_DATA;
const WRITE = FDC_CMD_MFM | FDC_CMD_WRITE_DATA;

function setup(options: { sectors?: number; readOnly?: boolean; media?: boolean } = {}) {
  const memory = new PhysicalMemory(1024 * 1024);
  const dma = new Dma8237(memory);
  dma.write8(0xd6, DMA_MODE_CASCADE);
  dma.write8(0xd4, 0);
  const irq = new FakeIrq();
  const fdc = new Floppy82077aa(irq, dma);
  const image = new MemoryBlockDevice(patternImage(options.sectors ?? SIZE_144), {
    readOnly: options.readOnly,
  });
  if (options.media !== false) fdc.insertMedia(0, image);
  return helpers(fdc, irq, dma, memory, image);
}

function helpers(
  fdc: Floppy82077aa,
  irq: FakeIrq,
  dma: Dma8237,
  memory: PhysicalMemory,
  image: MemoryBlockDevice,
) {
  const msr = () => fdc.read8(0x3f4);
  const send = (...bytes: number[]) => {
    for (const b of bytes) {
      expect(msr() & (FDC_MSR_RQM | FDC_MSR_DIO)).toBe(FDC_MSR_RQM);
      fdc.write8(0x3f5, b);
    }
  };
  const result = () => {
    const out: number[] = [];
    while ((msr() & (FDC_MSR_RQM | FDC_MSR_DIO)) === (FDC_MSR_RQM | FDC_MSR_DIO)) out.push(fdc.read8(0x3f5));
    return out;
  };
  const sense = () => {
    send(FDC_CMD_SENSE_INTERRUPT);
    return result();
  };
  /** Brings the controller out of reset with motor 0 on and DMA/IRQ enabled, and senses the 4 statuses. */
  const start = (rate = FDC_RATE_500K) => {
    fdc.write8(0x3f2, 0x1c);
    for (let i = 0; i < 4; i++) sense();
    fdc.write8(0x3f7, rate);
    irq.levels = [];
  };
  const seek = (cyl: number, headDrive = 0) => {
    send(FDC_CMD_SEEK, headDrive, cyl);
    return sense();
  };
  /** Channel 2 for `bytes` bytes at `address`: WRITE mode for disk reads, READ mode for disk writes. */
  const programDma = (address: number, bytes: number, toMemory: boolean) => {
    dma.write8(0x0a, 4 | 2);
    dma.write8(0x0c, 0);
    dma.write8(0x04, address & 0xff);
    dma.write8(0x04, (address >> 8) & 0xff);
    dma.write8(0x81, address >> 16);
    dma.write8(0x05, (bytes - 1) & 0xff);
    dma.write8(0x05, (bytes - 1) >> 8);
    dma.write8(0x0b, (toMemory ? DMA_MODE_WRITE : DMA_MODE_READ) | DMA_MODE_SINGLE | 2);
    dma.write8(0x0a, 2);
  };
  /** READ DATA / WRITE DATA with the given C/H/R and EOT (N = 2, 512 bytes). */
  const transfer = (op: number, c: number, h: number, r: number, eot: number, drive = 0) => {
    send(op, (h << 2) | drive, c, h, r, 2, eot, 0x1b, 0xff);
    return result();
  };
  return { fdc, irq, dma, memory, image, msr, send, result, sense, start, seek, programDma, transfer };
}

describe('Floppy82077aa reset and registers', () => {
  it('is held in reset after power-on until DOR bit 2 is set; then interrupts with four polling statuses', () => {
    const t = setup();
    expect(t.msr()).toBe(0);
    t.fdc.write8(0x3f5, FDC_CMD_VERSION); // ignored in reset
    t.fdc.write8(0x3f2, 0x0c);
    expect(t.irq.level).toBe(true);
    expect(t.msr()).toBe(FDC_MSR_RQM);
    expect(t.sense()).toEqual([0xc0, 0]);
    expect(t.irq.level).toBe(false);
    expect(t.sense()).toEqual([0xc1, 0]);
    expect(t.sense()).toEqual([0xc2, 0]);
    expect(t.sense()).toEqual([0xc3, 0]);
    expect(t.sense()).toEqual([0x80]); // nothing left: invalid
  });

  it('DOR bit 3 gates IRQ6; a DSR software reset gives the same four statuses', () => {
    const t = setup();
    t.fdc.write8(0x3f2, 0x04);
    expect(t.irq.level).toBe(false);
    t.fdc.write8(0x3f2, 0x0c);
    expect(t.irq.level).toBe(true);
    for (let i = 0; i < 4; i++) t.sense();
    t.fdc.write8(0x3f4, 0x80 | FDC_RATE_500K);
    expect(t.irq.level).toBe(true);
    expect([0, 1, 2, 3].map(() => t.sense()[0])).toEqual([0xc0, 0xc1, 0xc2, 0xc3]);
    expect(t.fdc.read8(0x3f2)).toBe(0x0c);
  });

  it('VERSION answers 90h; an invalid opcode gives a one-byte 80h result without interrupt', () => {
    const t = setup();
    t.start();
    t.send(FDC_CMD_VERSION);
    expect(t.msr()).toBe(FDC_MSR_RQM | FDC_MSR_DIO | FDC_MSR_CMD_BUSY);
    expect(t.result()).toEqual([0x90]);
    expect(t.msr()).toBe(FDC_MSR_RQM);
    t.send(0x1f);
    expect(t.result()).toEqual([0x80]);
    expect(t.irq.rises).toBe(0);
  });

  it('shows CMD BUSY while command bytes are still expected', () => {
    const t = setup();
    t.start();
    t.send(FDC_CMD_SEEK);
    expect(t.msr()).toBe(FDC_MSR_RQM | FDC_MSR_CMD_BUSY);
    t.send(0, 5);
    expect(t.msr()).toBe(FDC_MSR_RQM);
  });

  it('SPECIFY, CONFIGURE, PERPENDICULAR MODE, LOCK and seeks all show in DUMPREG', () => {
    const t = setup();
    t.start();
    t.send(FDC_CMD_SPECIFY, 0xdf, 0x02);
    t.send(FDC_CMD_CONFIGURE, 0, 0x57, 0x09);
    t.send(FDC_CMD_PERPENDICULAR_MODE, 0x80 | 0x08 | 0x03);
    t.send(0x80 | FDC_CMD_LOCK);
    expect(t.result()).toEqual([0x10]);
    t.seek(33);
    t.seek(7, 1);
    t.programDma(0x1000, 512, true);
    t.transfer(READ, 33, 0, 1, 9);
    t.send(FDC_CMD_DUMPREG);
    expect(t.result()).toEqual([33, 7, 0, 0, 0xdf, 0x02, 9, 0x80 | 0x0b, 0x57, 0x09]);
  });

  it('LOCK keeps EFIFO/FIFOTHR/PRETRK across a software reset; unlocked they return to defaults', () => {
    const t = setup();
    t.start();
    const dump = () => (t.send(FDC_CMD_DUMPREG), t.result());
    t.send(FDC_CMD_CONFIGURE, 0, 0x7a, 0x22); // EIS, EFIFO, POLL, FIFOTHR=10
    t.send(0x80 | FDC_CMD_LOCK);
    t.result();
    t.start(); // DOR reset pulse (0x1c was already written; toggle)
    t.fdc.write8(0x3f2, 0x18);
    t.start();
    expect(dump().slice(7)).toEqual([0x80, 0x2a, 0x22]);
    t.send(FDC_CMD_LOCK);
    expect(t.result()).toEqual([0]);
    t.fdc.write8(0x3f2, 0x18);
    t.start();
    expect(dump().slice(7)).toEqual([0x00, 0x20, 0x00]);
  });
});

describe('Floppy82077aa seeks and drive status', () => {
  it('SEEK and RECALIBRATE interrupt; SENSE INTERRUPT STATUS reports SE and the cylinder', () => {
    const t = setup();
    t.start();
    t.send(FDC_CMD_SEEK, 0, 40);
    expect(t.irq.level).toBe(true);
    expect(t.sense()).toEqual([0x20, 40]);
    expect(t.irq.level).toBe(false);
    t.send(FDC_CMD_SENSE_DRIVE_STATUS, 0);
    expect(t.result()).toEqual([0x28]); // bits 5 and 3 always set, T0 clear
    t.send(FDC_CMD_RECALIBRATE, 0);
    expect(t.sense()).toEqual([0x20, 0]);
    t.send(FDC_CMD_SENSE_DRIVE_STATUS, 0x04);
    expect(t.result()).toEqual([0x38 | 0x04]);
    expect(t.seek(12, 0x05)).toEqual([0x25, 12]); // head 1, drive 1
  });

  it('RELATIVE SEEK moves by a step count in either direction', () => {
    const t = setup();
    t.start();
    t.seek(10);
    t.send(FDC_CMD_RELATIVE_SEEK | 0x40, 0, 5);
    expect(t.sense()).toEqual([0x20, 15]);
    t.send(FDC_CMD_RELATIVE_SEEK, 0, 20);
    expect(t.sense()).toEqual([0x20, 0]);
  });

  it('seeks on two drives queue their statuses for successive SENSE INTERRUPT STATUS commands', () => {
    const t = setup();
    t.start();
    t.send(FDC_CMD_SEEK, 1, 3);
    t.send(FDC_CMD_SEEK, 0, 9);
    expect(t.sense()).toEqual([0x20, 9]);
    expect(t.irq.level).toBe(true);
    expect(t.sense()).toEqual([0x21, 3]);
    expect(t.irq.level).toBe(false);
  });

  it('RECALIBRATE of a drive that is not fitted ends with equipment check', () => {
    const t = setup();
    t.start();
    t.send(FDC_CMD_RECALIBRATE, 2);
    expect(t.sense()).toEqual([0x70 | 2, 0]);
  });

  it('SENSE DRIVE STATUS reports write protect', () => {
    const t = setup({ readOnly: true });
    t.start();
    t.send(FDC_CMD_SENSE_DRIVE_STATUS, 0);
    expect(t.result()).toEqual([0x78]);
  });

  it('DIR disk change: set at power-on and on media change, cleared only by a step with media inserted', () => {
    const t = setup({ media: false });
    t.start();
    expect(t.fdc.read8(0x3f7)).toBe(0x80);
    t.seek(1); // no disk: the line stays
    expect(t.fdc.read8(0x3f7)).toBe(0x80);
    t.fdc.insertMedia(0, t.image);
    t.seek(1); // no step: already on cylinder 1
    expect(t.fdc.read8(0x3f7)).toBe(0x80);
    t.seek(0);
    expect(t.fdc.read8(0x3f7)).toBe(0);
    t.fdc.ejectMedia(0);
    expect(t.fdc.read8(0x3f7)).toBe(0x80);
    t.fdc.write8(0x3f2, 0x1d); // select drive 1: its own line
    t.fdc.insertMedia(1, t.image);
    t.seek(4, 1);
    expect(t.fdc.read8(0x3f7)).toBe(0);
    expect(() => t.fdc.insertMedia(3, t.image)).toThrow(/drive 3/);
  });
});

describe('Floppy82077aa data transfers through DMA', () => {
  it('READ DATA of one sector lands in memory with the result phase per the datasheet', () => {
    const t = setup();
    t.start();
    t.programDma(0x10000, 512, true);
    const r = t.transfer(READ, 0, 0, 1, SPT_144);
    expect(r).toEqual([0x00, 0x00, 0x00, 0, 0, 2, 2]);
    expect(t.memory.readBytes(0x10000, 512)).toEqual(sectorPattern(0));
    expect(t.irq.rises).toBe(1);
    expect(t.irq.level).toBe(false); // cleared by reading the result
    expect(t.image.sectorsRead).toBe(1);
  });

  it('multi-sector read up to EOT ends with TC: C+1, R=1', () => {
    const t = setup();
    t.start();
    t.seek(5);
    t.programDma(0x20000, 3 * 512, true);
    expect(t.transfer(READ, 5, 0, 16, SPT_144)).toEqual([0, 0, 0, 6, 0, 1, 2]);
    for (let i = 0; i < 3; i++) {
      expect(t.memory.readBytes(0x20000 + i * 512, 512)).toEqual(sectorPattern(lbaOf(5, 0, 16 + i)));
    }
  });

  it('multi-track read continues on side 1 and reports head 1 in ST0 and H', () => {
    const t = setup();
    t.start();
    t.seek(2);
    t.programDma(0x30000, 4 * 512, true);
    expect(t.transfer(FDC_CMD_MT | READ, 2, 0, 17, SPT_144)).toEqual([0x04, 0, 0, 2, 1, 3, 2]);
    const expected = [lbaOf(2, 0, 17), lbaOf(2, 0, 18), lbaOf(2, 1, 1), lbaOf(2, 1, 2)];
    expected.forEach((lba, i) =>
      expect(t.memory.readBytes(0x30000 + i * 512, 512)).toEqual(sectorPattern(lba)),
    );
  });

  it('multi-track read of a whole cylinder ends at side 1 EOT with C+1, H complemented', () => {
    const t = setup();
    t.start();
    t.seek(79);
    t.programDma(0x40000, 36 * 512, true);
    expect(t.transfer(FDC_CMD_MT | READ, 79, 0, 1, SPT_144)).toEqual([0x04, 0, 0, 80, 0, 1, 2]);
    expect(t.memory.readBytes(0x40000 + 35 * 512, 512)).toEqual(sectorPattern(SIZE_144 - 1));
  });

  it('without TC by the end of the cylinder the command ends abnormally with EN at the last sector', () => {
    const t = setup();
    t.start();
    t.programDma(0x10000, 4096, true);
    expect(t.transfer(READ, 0, 0, 17, SPT_144)).toEqual([0x40, FDC_ST1_EN, 0, 0, 0, 18, 2]);
    expect(t.memory.readBytes(0x10200, 512)).toEqual(sectorPattern(17));
  });

  it('WRITE DATA takes memory through DMA onto the disk; READ DATA reads it back', () => {
    const t = setup();
    t.start();
    t.seek(10);
    const payload = new Uint8Array(1024);
    payload.set(sectorPattern(1, 77));
    payload.set(sectorPattern(2, 77), 512);
    t.memory.writeBytes(0x50000, payload);
    t.programDma(0x50000, 1024, false);
    expect(t.transfer(WRITE, 10, 1, 4, SPT_144, 0)).toEqual([0x04, 0, 0, 10, 1, 6, 2]);
    const at = lbaOf(10, 1, 4) * 512;
    expect(t.image.data.subarray(at, at + 1024)).toEqual(payload);
    t.programDma(0x60000, 1024, true);
    t.transfer(READ, 10, 1, 4, SPT_144);
    expect(t.memory.readBytes(0x60000, 1024)).toEqual(payload);
  });

  it('a write-protected disk refuses WRITE DATA with NW and stays unchanged', () => {
    const t = setup({ readOnly: true });
    t.start();
    t.programDma(0x50000, 512, false);
    const before = t.image.data.slice(0, 512);
    expect(t.transfer(WRITE, 0, 0, 1, SPT_144)).toEqual([0x40, FDC_ST1_NW, 0, 0, 0, 1, 2]);
    expect(t.image.data.subarray(0, 512)).toEqual(before);
  });

  it('no media, a wrong data rate or an FM read find no address mark (ST1 MA)', () => {
    const t = setup({ media: false });
    t.start();
    t.programDma(0x10000, 512, true);
    expect(t.transfer(READ, 0, 0, 1, SPT_144)).toEqual([0x40, FDC_ST1_MA, 0, 0, 0, 1, 2]);
    expect(t.irq.rises).toBe(1);
    t.fdc.insertMedia(0, t.image);
    t.fdc.write8(0x3f7, FDC_RATE_250K);
    expect(t.transfer(READ, 0, 0, 1, SPT_144)[1]).toBe(FDC_ST1_MA);
    t.fdc.write8(0x3f7, FDC_RATE_500K);
    expect(t.transfer(FDC_CMD_READ_DATA, 0, 0, 1, SPT_144)[1]).toBe(FDC_ST1_MA);
    expect(t.transfer(READ, 0, 0, 1, SPT_144)[0]).toBe(0);
  });

  it('an ID that does not match gives ND (wrong cylinder also sets WC); a drive not fitted gives MA', () => {
    const t = setup();
    t.start();
    t.programDma(0x10000, 512, true);
    expect(t.transfer(READ, 3, 0, 1, SPT_144)).toEqual([0x40, FDC_ST1_ND, FDC_ST2_WC, 3, 0, 1, 2]);
    expect(t.transfer(READ, 0, 0, 19, 19)).toEqual([0x40, FDC_ST1_ND, 0, 0, 0, 19, 2]);
    t.send(READ, 0x00, 0, 1, 1, 2, SPT_144, 0x1b, 0xff); // H byte 1 while head 0 is selected
    expect(t.result()).toEqual([0x40, FDC_ST1_ND, 0, 0, 1, 1, 2]);
    expect(t.transfer(READ, 0, 0, 1, SPT_144, 3)).toEqual([0x43, FDC_ST1_MA, 0, 0, 0, 1, 2]);
  });

  it('a DMA channel that is not serviced (masked, or DOR gate off) overruns', () => {
    const t = setup();
    t.start();
    t.programDma(0x10000, 512, true);
    t.dma.write8(0x0a, 4 | 2);
    expect(t.transfer(READ, 0, 0, 1, SPT_144)).toEqual([0x40, FDC_ST1_OR, 0, 0, 0, 1, 2]);
    t.dma.write8(0x0a, 2);
    t.fdc.write8(0x3f2, 0x14); // gate off
    t.send(READ, 0, 0, 0, 1, 2, SPT_144, 0x1b, 0xff);
    expect(t.irq.level).toBe(false);
    expect(t.result()).toEqual([0x40, FDC_ST1_OR, 0, 0, 0, 1, 2]);
  });

  it('implied seek (CONFIGURE EIS) moves the head and sets SE', () => {
    const t = setup();
    t.start();
    t.send(FDC_CMD_CONFIGURE, 0, FDC_CONFIG_EIS | 0x20, 0);
    t.programDma(0x10000, 512, true);
    expect(t.transfer(READ, 9, 0, 3, SPT_144)).toEqual([0x20, 0, 0, 9, 0, 4, 2]);
    expect(t.memory.readBytes(0x10000, 512)).toEqual(sectorPattern(lbaOf(9, 0, 3)));
  });

  it('READ ID reports the next sector passing under the head', () => {
    const t = setup();
    t.start();
    t.seek(4);
    t.programDma(0x10000, 512, true);
    t.transfer(READ, 4, 1, 7, SPT_144);
    t.send(FDC_CMD_MFM | FDC_CMD_READ_ID, 0x04);
    expect(t.result()).toEqual([0x04, 0, 0, 4, 1, 8, 2]);
    t.send(FDC_CMD_MFM | FDC_CMD_READ_ID, 0x00);
    expect(t.result()).toEqual([0x00, 0, 0, 4, 0, 9, 2]);
    t.fdc.ejectMedia(0);
    t.send(FDC_CMD_MFM | FDC_CMD_READ_ID, 0x00);
    expect(t.result().slice(0, 2)).toEqual([0x40, FDC_ST1_MA]);
  });

  it('FORMAT TRACK takes C/H/R/N per sector through DMA and fills the sectors', () => {
    const t = setup();
    t.start();
    t.seek(6);
    const ids = new Uint8Array(SPT_144 * 4);
    for (let r = 1; r <= SPT_144; r++) ids.set([6, 1, r, 2], (r - 1) * 4);
    t.memory.writeBytes(0x70000, ids);
    t.programDma(0x70000, ids.length, false);
    t.send(FDC_CMD_MFM | FDC_CMD_FORMAT_TRACK, 0x04, 2, SPT_144, 0x54, 0xf6);
    expect(t.result()).toEqual([0x04, 0, 0, 6, 1, SPT_144, 2]);
    const start = lbaOf(6, 1, 1) * 512;
    expect(t.image.data.subarray(start, start + SPT_144 * 512).every((b) => b === 0xf6)).toBe(true);
    expect(t.image.data.subarray(start - 512, start)).toEqual(sectorPattern(lbaOf(6, 1, 1) - 1));
  });
});

describe('Floppy82077aa non-DMA mode', () => {
  it('READ DATA through the FIFO: MSR shows NON-DMA, IRQ held while data is wanted, EN at EOT', () => {
    const t = setup();
    t.start();
    t.send(FDC_CMD_SPECIFY, 0xcf, 0x03); // ND = 1
    t.send(READ, 0, 0, 0, 17, 2, SPT_144, 0x1b, 0xff);
    expect(t.msr()).toBe(FDC_MSR_RQM | FDC_MSR_DIO | FDC_MSR_NON_DMA | FDC_MSR_CMD_BUSY);
    expect(t.irq.level).toBe(true);
    const data = Uint8Array.from({ length: 1024 }, () => t.fdc.read8(0x3f5));
    expect(data.subarray(0, 512)).toEqual(sectorPattern(16));
    expect(data.subarray(512)).toEqual(sectorPattern(17));
    expect(t.result()).toEqual([0x40, FDC_ST1_EN, 0, 0, 0, 18, 2]);
    expect(t.irq.level).toBe(false);
  });

  it('WRITE DATA through the FIFO writes each sector as it fills', () => {
    const t = setup();
    t.start();
    t.send(FDC_CMD_SPECIFY, 0xcf, 0x03);
    t.send(WRITE, 0, 0, 0, 2, 2, 2, 0x1b, 0xff);
    expect(t.msr()).toBe(FDC_MSR_RQM | FDC_MSR_NON_DMA | FDC_MSR_CMD_BUSY);
    const payload = sectorPattern(0, 9);
    for (const b of payload) t.fdc.write8(0x3f5, b);
    expect(t.image.data.subarray(512, 1024)).toEqual(payload);
    expect(t.result()).toEqual([0x40, FDC_ST1_EN, 0, 0, 0, 2, 2]);
  });
});

describe('Floppy82077aa edge cases', () => {
  it('terminal count inside a sector ends the write there; the rest of the sector is written as zeros', () => {
    const t = setup();
    t.start();
    t.memory.writeBytes(0x50000, new Uint8Array(600).fill(0xab));
    t.programDma(0x50000, 600, false);
    expect(t.transfer(WRITE, 0, 0, 1, SPT_144)).toEqual([0, 0, 0, 0, 0, 3, 2]);
    expect(t.image.data.subarray(0, 600).every((b) => b === 0xab)).toBe(true);
    expect(t.image.data.subarray(600, 1024).every((b) => b === 0)).toBe(true);
    expect(t.image.data.subarray(1024, 1536)).toEqual(sectorPattern(2));
  });

  it('ejecting the disk in the middle of a non-DMA read ends the command with MA', () => {
    const t = setup();
    t.start();
    t.send(FDC_CMD_SPECIFY, 0xcf, 0x03);
    t.send(READ, 0, 0, 0, 1, 2, SPT_144, 0x1b, 0xff);
    for (let i = 0; i < 512; i++) t.fdc.read8(0x3f5);
    expect(t.msr() & FDC_MSR_NON_DMA).toBe(FDC_MSR_NON_DMA);
    t.fdc.ejectMedia(0);
    for (let i = 0; i < 512; i++) t.fdc.read8(0x3f5);
    expect(t.result()).toEqual([0x40, FDC_ST1_MA, 0, 0, 0, 3, 2]);
  });
});

describe('Floppy82077aa media formats', () => {
  it('accepts 720K at 250 kbps and 2.88M at 1 Mbps, with their sectors per track', () => {
    for (const [sectors, spt, rate] of [
      [1440, 9, FDC_RATE_250K],
      [5760, 36, FDC_RATE_1M],
      [2400, 15, FDC_RATE_500K],
    ]) {
      const t = setup({ sectors });
      t.start(rate);
      t.seek(1);
      t.programDma(0x10000, 2 * 512, true);
      expect(t.transfer(FDC_CMD_MT | READ, 1, 0, spt, spt)).toEqual([0x04, 0, 0, 1, 1, 2, 2]);
      expect(t.memory.readBytes(0x10000, 512)).toEqual(sectorPattern(lbaOf(1, 0, spt, spt)));
      expect(t.memory.readBytes(0x10200, 512)).toEqual(sectorPattern(lbaOf(1, 1, 1, spt)));
    }
  });

  it('refuses an image of an unknown size', () => {
    const t = setup({ media: false });
    expect(() => t.fdc.insertMedia(0, new MemoryBlockDevice(new Uint8Array(1000 * 512)))).toThrow(
      /not a known size/,
    );
  });
});

describe('Floppy82077aa state', () => {
  it('round-trips in the middle of a non-DMA read and continues identically', () => {
    const a = setup();
    a.start();
    a.send(FDC_CMD_SPECIFY, 0xcf, 0x03);
    a.seek(3);
    a.send(FDC_CMD_MT | READ, 0, 3, 0, 18, 2, SPT_144, 0x1b, 0xff);
    for (let i = 0; i < 700; i++) a.fdc.read8(0x3f5);
    const saved = structuredClone(a.fdc.saveState());
    const b = setup();
    b.fdc.loadState(saved);
    expect(b.irq.level).toBe(a.irq.level);
    const rest = (t: typeof a) => {
      const out = Array.from({ length: 512 * 18 - 700 + 512 }, () => t.fdc.read8(0x3f5));
      return [...out, t.msr(), ...t.result(), t.fdc.read8(0x3f7)];
    };
    expect(rest(b)).toEqual(rest(a));
    expect(b.fdc.saveState()).toEqual(a.fdc.saveState());
  });

  it('round-trips pending reset statuses and a result phase', () => {
    const a = setup();
    a.fdc.write8(0x3f2, 0x0c);
    a.sense();
    const b = setup();
    b.fdc.loadState(a.fdc.saveState());
    expect([b.sense(), b.sense(), b.sense(), b.sense()]).toEqual([
      a.sense(),
      a.sense(),
      a.sense(),
      a.sense(),
    ]);
    a.send(FDC_CMD_VERSION);
    const c = setup();
    c.fdc.loadState(a.fdc.saveState());
    expect(c.result()).toEqual([0x90]);
  });

  it('rejects malformed state naming the field and leaves the controller unchanged', () => {
    const t = setup();
    t.start();
    t.seek(5);
    const good = t.fdc.saveState();
    const bad = (patch: DeviceState) => ({ ...good, ...patch });
    expect(() => t.fdc.loadState(bad({ dor: 300 }))).toThrow(/dor/);
    expect(() => t.fdc.loadState(bad({ phase: 7 }))).toThrow(/phase/);
    expect(() => t.fdc.loadState(bad({ phase: 1, execKind: 0 }))).toThrow(/execKind/);
    expect(() => t.fdc.loadState(bad({ command: new Uint8Array(3) }))).toThrow(/command/);
    expect(() => t.fdc.loadState(bad({ locked: 0 }))).toThrow(/locked/);
    expect(() => t.fdc.loadState(bad({ resultPos: 5, resultLength: 2 }))).toThrow(/resultPos/);
    expect(() => t.fdc.loadState(bad({ drives: [] }))).toThrow(/drives/);
    const drives = good.drives as DeviceState[];
    expect(() =>
      t.fdc.loadState(bad({ drives: [{ ...drives[0], cylinder: 999 }, ...drives.slice(1)] })),
    ).toThrow(/drives\[0\]\.cylinder/);
    expect(() => t.fdc.loadState(bad({ drives: [drives[0], drives[1], drives[0], null] }))).toThrow(
      /drives\[2\]/,
    );
    expect(t.fdc.saveState()).toEqual(good);
  });
});
