import { describe, expect, it } from 'vitest';
import type { DeviceState, IrqLine } from '../../src/devices/device.ts';
import type { BlockDevice } from '../../src/devices/block-device.ts';
import { MemoryBlockDevice, SECTOR_SIZE } from '../../src/devices/block-device.ts';
import { AtaDisk } from '../../src/devices/ata-disk.ts';
import { ATA_PRIMARY, AtaChannel } from '../../src/devices/ata.ts';
import {
  ATA_CMD_CHECK_POWER_MODE,
  ATA_CMD_EXECUTE_DEVICE_DIAGNOSTIC,
  ATA_CMD_FLUSH_CACHE,
  ATA_CMD_IDENTIFY_DEVICE,
  ATA_CMD_IDENTIFY_PACKET_DEVICE,
  ATA_CMD_IDLE_IMMEDIATE,
  ATA_CMD_INITIALIZE_DEVICE_PARAMETERS,
  ATA_CMD_READ_MULTIPLE,
  ATA_CMD_READ_MULTIPLE_EXT,
  ATA_CMD_READ_SECTORS,
  ATA_CMD_READ_SECTORS_EXT,
  ATA_CMD_READ_VERIFY,
  ATA_CMD_READ_VERIFY_EXT,
  ATA_CMD_SET_FEATURES,
  ATA_CMD_SET_MULTIPLE_MODE,
  ATA_CMD_STANDBY_IMMEDIATE,
  ATA_CMD_WRITE_MULTIPLE,
  ATA_CMD_WRITE_MULTIPLE_EXT,
  ATA_CMD_WRITE_SECTORS,
  ATA_CMD_WRITE_SECTORS_EXT,
  ATA_DC_HOB,
  ATA_DC_NIEN,
  ATA_DC_SRST,
  ATA_DEV_DEV,
  ATA_DEV_LBA,
  ATA_ER_ABRT,
  ATA_ER_IDNF,
  ATA_REG_DEVICE,
  ATA_REG_ERROR_FEATURES,
  ATA_REG_LBA_HIGH,
  ATA_REG_LBA_LOW,
  ATA_REG_LBA_MID,
  ATA_REG_SECTOR_COUNT,
  ATA_REG_STATUS_COMMAND,
  ATA_SF_DISABLE_WRITE_CACHE,
  ATA_SF_SET_TRANSFER_MODE,
  ATA_SR_BSY,
  ATA_SR_DRDY,
  ATA_SR_DRQ,
  ATA_SR_DSC,
  ATA_SR_ERR,
} from '../../src/devices/ata-constants.ts';

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

/** A disk whose sectors are recognisable: bytes 0-3 hold the LBA, the rest a pattern from it. */
function patternImage(sectors: number): Uint8Array {
  const data = new Uint8Array(sectors * SECTOR_SIZE);
  for (let s = 0; s < sectors; s++) fillSector(data.subarray(s * SECTOR_SIZE, (s + 1) * SECTOR_SIZE), s);
  return data;
}
function fillSector(into: Uint8Array, lba: number, salt = 0): void {
  for (let i = 0; i < SECTOR_SIZE; i++) into[i] = (lba * 13 + i * 7 + salt) & 0xff;
  new DataView(into.buffer, into.byteOffset).setUint32(0, lba, true);
}
function expectedSector(lba: number, salt = 0): Uint8Array {
  const s = new Uint8Array(SECTOR_SIZE);
  fillSector(s, lba, salt);
  return s;
}

/** A huge sparse disk for geometry / LBA48 tests: unwritten sectors read as their pattern. */
class SparseDisk implements BlockDevice {
  readonly readOnly = false;
  readonly written = new Map<number, Uint8Array>();
  flushes = 0;
  constructor(readonly sectorCount: number) {}
  read(sector: number, count: number, into: Uint8Array, offset: number): void {
    for (let i = 0; i < count; i++) {
      const s = this.written.get(sector + i) ?? expectedSector(sector + i);
      into.set(s, offset + i * SECTOR_SIZE);
    }
  }
  write(sector: number, count: number, from: Uint8Array, offset: number): void {
    for (let i = 0; i < count; i++) {
      this.written.set(sector + i, from.slice(offset + i * SECTOR_SIZE, offset + (i + 1) * SECTOR_SIZE));
    }
  }
  flush(): void {
    this.flushes++;
  }
}

const BASE = 0x1f0;
const CTRL = 0x3f6;
const IDLE = ATA_SR_DRDY | ATA_SR_DSC;

function setup(options: { sectors?: number; master?: BlockDevice | null; slave?: BlockDevice } = {}) {
  const irq = new FakeIrq();
  const masterDevice =
    options.master === undefined
      ? new MemoryBlockDevice(patternImage(options.sectors ?? 4096))
      : options.master;
  const master = masterDevice ? new AtaDisk(masterDevice) : undefined;
  const slave = options.slave ? new AtaDisk(options.slave, { serial: 'SLAVE-1' }) : undefined;
  const ch = new AtaChannel(irq, { ...ATA_PRIMARY, master, slave });
  return makeHelpers(ch, irq, masterDevice ?? undefined);
}

function makeHelpers(ch: AtaChannel, irq: FakeIrq, image?: BlockDevice) {
  const out = (reg: number, v: number) => ch.write8(BASE + reg, v);
  const inb = (reg: number) => ch.read8(BASE + reg);
  const status = () => inb(ATA_REG_STATUS_COMMAND);
  const altStatus = () => ch.read8(CTRL);
  const readWords = (n: number) => Uint16Array.from({ length: n }, () => ch.read16(BASE));
  const readBlock = (sectors = 1) => {
    const words = readWords(sectors * 256);
    return new Uint8Array(words.buffer);
  };
  const writeBlock = (data: Uint8Array) => {
    const words = new Uint16Array(data.slice().buffer);
    for (const w of words) ch.write16(BASE, w);
  };
  const lba28 = (lba: number, count: number, dev = 0) => {
    out(ATA_REG_SECTOR_COUNT, count);
    out(ATA_REG_LBA_LOW, lba & 0xff);
    out(ATA_REG_LBA_MID, (lba >> 8) & 0xff);
    out(ATA_REG_LBA_HIGH, (lba >> 16) & 0xff);
    out(ATA_REG_DEVICE, 0xa0 | ATA_DEV_LBA | dev | ((lba >> 24) & 0x0f));
  };
  const lba48 = (lba: number, count: number) => {
    const hi = Math.floor(lba / 0x1000000);
    out(ATA_REG_SECTOR_COUNT, count >> 8);
    out(ATA_REG_LBA_LOW, hi & 0xff);
    out(ATA_REG_LBA_MID, (hi >> 8) & 0xff);
    out(ATA_REG_LBA_HIGH, (hi >> 16) & 0xff);
    out(ATA_REG_SECTOR_COUNT, count & 0xff);
    out(ATA_REG_LBA_LOW, lba & 0xff);
    out(ATA_REG_LBA_MID, (lba >>> 8) & 0xff);
    out(ATA_REG_LBA_HIGH, (lba >>> 16) & 0xff);
    out(ATA_REG_DEVICE, 0xe0);
  };
  const chs = (c: number, h: number, s: number, count: number) => {
    out(ATA_REG_SECTOR_COUNT, count);
    out(ATA_REG_LBA_LOW, s);
    out(ATA_REG_LBA_MID, c & 0xff);
    out(ATA_REG_LBA_HIGH, c >> 8);
    out(ATA_REG_DEVICE, 0xa0 | h);
  };
  const command = (c: number) => out(ATA_REG_STATUS_COMMAND, c);
  const identify = () => {
    command(ATA_CMD_IDENTIFY_DEVICE);
    status();
    return readWords(256);
  };
  return {
    ch,
    irq,
    image,
    out,
    inb,
    status,
    altStatus,
    readWords,
    readBlock,
    writeBlock,
    lba28,
    lba48,
    chs,
    command,
    identify,
  };
}

function ataString(words: Uint16Array, start: number, count: number): string {
  let s = '';
  for (let i = 0; i < count; i++) s += String.fromCharCode(words[start + i] >> 8, words[start + i] & 0xff);
  return s;
}

describe('AtaChannel registers and signature', () => {
  it('powers on with the non-PACKET signature, DRDY|DSC and diagnostic code 01h', () => {
    const t = setup();
    expect(t.inb(ATA_REG_SECTOR_COUNT)).toBe(1);
    expect(t.inb(ATA_REG_LBA_LOW)).toBe(1);
    expect(t.inb(ATA_REG_LBA_MID)).toBe(0);
    expect(t.inb(ATA_REG_LBA_HIGH)).toBe(0);
    expect(t.inb(ATA_REG_DEVICE)).toBe(0);
    expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(1);
    expect(t.status()).toBe(IDLE);
    expect(t.ch.portRanges).toEqual([
      { start: 0x1f0, length: 8 },
      { start: 0x3f6, length: 1 },
    ]);
  });

  it('task file registers read back as written', () => {
    const t = setup();
    t.lba28(0x0abcdef, 0x42);
    expect(t.inb(ATA_REG_SECTOR_COUNT)).toBe(0x42);
    expect(t.inb(ATA_REG_LBA_LOW)).toBe(0xef);
    expect(t.inb(ATA_REG_LBA_MID)).toBe(0xcd);
    expect(t.inb(ATA_REG_LBA_HIGH)).toBe(0xab);
    expect(t.inb(ATA_REG_DEVICE)).toBe(0xe0);
  });

  it('HOB in device control reads the previously written bytes; a register write clears HOB', () => {
    const t = setup();
    t.out(ATA_REG_SECTOR_COUNT, 0x12);
    t.out(ATA_REG_SECTOR_COUNT, 0x34);
    t.out(ATA_REG_LBA_LOW, 0x56);
    t.out(ATA_REG_LBA_LOW, 0x78);
    t.ch.write8(CTRL, ATA_DC_HOB);
    expect(t.inb(ATA_REG_SECTOR_COUNT)).toBe(0x12);
    expect(t.inb(ATA_REG_LBA_LOW)).toBe(0x56);
    t.out(ATA_REG_LBA_MID, 0);
    expect(t.inb(ATA_REG_SECTOR_COUNT)).toBe(0x34);
    expect(t.inb(ATA_REG_LBA_LOW)).toBe(0x78);
  });

  it('status acknowledges the interrupt; alternate status does not', () => {
    const t = setup();
    t.command(ATA_CMD_IDENTIFY_DEVICE);
    expect(t.irq.level).toBe(true);
    expect(t.altStatus()).toBe(IDLE | ATA_SR_DRQ);
    expect(t.irq.level).toBe(true);
    expect(t.status()).toBe(IDLE | ATA_SR_DRQ);
    expect(t.irq.level).toBe(false);
  });

  it('nIEN keeps INTRQ released while the interrupt stays pending', () => {
    const t = setup();
    t.ch.write8(CTRL, ATA_DC_NIEN);
    t.command(ATA_CMD_IDENTIFY_DEVICE);
    expect(t.irq.level).toBe(false);
    t.ch.write8(CTRL, 0);
    expect(t.irq.level).toBe(true);
    t.status();
    expect(t.irq.level).toBe(false);
  });

  it('SRST: BSY while asserted, then signature, DRDY, no interrupt; the transfer is abandoned', () => {
    const t = setup();
    t.command(ATA_CMD_SET_MULTIPLE_MODE); // count register is 1 after power-on: multiple = 1
    t.status();
    t.lba28(5, 2);
    t.command(ATA_CMD_READ_SECTORS);
    t.status();
    t.readWords(10);
    t.ch.write8(CTRL, ATA_DC_SRST);
    expect(t.altStatus()).toBe(ATA_SR_BSY);
    expect(t.irq.level).toBe(false);
    t.ch.write8(CTRL, 0);
    expect(t.irq.level).toBe(false);
    expect(t.status()).toBe(IDLE);
    expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(0x01);
    expect([1, 2, 3, 4, 5].map((r) => t.inb(r))).toEqual([1, 1, 1, 0, 0]);
    expect(t.inb(ATA_REG_DEVICE)).toBe(0);
    expect(t.ch.read16(BASE)).toBe(0xffff);
    expect(t.identify()[59]).toBe(0x0101); // SET MULTIPLE survives SRST...
    t.ch.reset();
    expect(t.identify()[59]).toBe(0); // ...but not a hardware reset
  });

  it('an absent slave: device 0 answers with status 00h, registers as written, commands ignored', () => {
    const t = setup();
    t.out(ATA_REG_DEVICE, 0xa0 | ATA_DEV_DEV);
    t.out(ATA_REG_SECTOR_COUNT, 0x55);
    t.out(ATA_REG_LBA_LOW, 0xaa);
    expect(t.status()).toBe(0);
    expect(t.altStatus()).toBe(0);
    expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(0);
    expect(t.inb(ATA_REG_SECTOR_COUNT)).toBe(0x55);
    expect(t.inb(ATA_REG_LBA_LOW)).toBe(0xaa);
    t.command(ATA_CMD_IDENTIFY_DEVICE);
    expect(t.irq.rises).toBe(0);
    expect(t.ch.read16(BASE)).toBe(0xffff);
  });

  it('EXECUTE DEVICE DIAGNOSTIC goes to both devices, even with the absent slave selected', () => {
    const t = setup();
    t.out(ATA_REG_DEVICE, 0xa0 | ATA_DEV_DEV);
    t.command(ATA_CMD_EXECUTE_DEVICE_DIAGNOSTIC);
    expect(t.inb(ATA_REG_DEVICE)).toBe(0); // signature selects device 0
    expect(t.irq.level).toBe(true);
    expect(t.status()).toBe(IDLE);
    expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(0x01);
    expect(t.inb(ATA_REG_SECTOR_COUNT)).toBe(1);
  });

  it('an empty channel floats: registers read 7Fh (DD7 pulled down), data FFFFh', () => {
    const t = setup({ master: null });
    t.out(ATA_REG_SECTOR_COUNT, 0x55);
    expect(t.inb(ATA_REG_SECTOR_COUNT)).toBe(0x7f);
    expect(t.status()).toBe(0x7f);
    expect(t.altStatus()).toBe(0x7f);
    expect(t.ch.read16(BASE)).toBe(0xffff);
    t.command(ATA_CMD_IDENTIFY_DEVICE);
    expect(t.irq.rises).toBe(0);
  });

  it('master and slave keep their own data, status and interrupt; INTRQ follows DEV', () => {
    const slaveImage = new MemoryBlockDevice(new Uint8Array(64 * SECTOR_SIZE).fill(0x5a));
    const t = setup({ slave: slaveImage });
    t.lba28(3, 1, ATA_DEV_DEV);
    t.command(ATA_CMD_READ_SECTORS);
    expect(t.irq.level).toBe(true);
    t.out(ATA_REG_DEVICE, 0xe0); // select master: its INTRQ is not pending
    expect(t.irq.level).toBe(false);
    expect(t.status()).toBe(IDLE);
    t.out(ATA_REG_DEVICE, 0xe0 | ATA_DEV_DEV);
    expect(t.irq.level).toBe(true);
    expect(t.status()).toBe(IDLE | ATA_SR_DRQ);
    expect(t.readBlock()).toEqual(new Uint8Array(SECTOR_SIZE).fill(0x5a));
    const words = t.identify();
    expect(ataString(words, 10, 10).trim()).toBe('SLAVE-1');
  });
});

describe('AtaChannel IDENTIFY DEVICE', () => {
  it('fills the 256-word block: strings, geometry, capabilities, LBA28/LBA48 counts, checksum', () => {
    const sectors = 100 * 2048; // 100 MiB
    const t = setup({ master: new SparseDisk(sectors) });
    const w = t.identify();
    expect(t.status()).toBe(IDLE);
    expect(w[0]).toBe(0x0040);
    expect([w[1], w[3], w[6]]).toEqual([Math.floor(sectors / (16 * 63)), 16, 63]);
    expect(ataString(w, 27, 20).trimEnd()).toBe('visor86 HARDDISK');
    expect(ataString(w, 10, 10).trimEnd()).toBe('VSR86-00000001');
    expect(ataString(w, 23, 4).trimEnd()).toBe('1.0');
    expect(w[47]).toBe(0x8010);
    expect(w[49] & 0x0200).toBe(0x0200); // LBA
    expect(w[49] & 0x0100).toBe(0); // no DMA advertised
    expect(w[53] & 0x0003).toBe(0x0003);
    expect([w[54], w[55], w[56]]).toEqual([w[1], 16, 63]);
    expect(w[57] | (w[58] << 16)).toBe(w[1] * 16 * 63);
    expect(w[59]).toBe(0);
    expect(w[60] | (w[61] << 16)).toBe(sectors);
    expect(w[64] & 0x0003).toBe(0x0003);
    expect(w[83] & 0xc400).toBe(0x4400); // LBA48 supported, bit 14 set, bit 15 clear
    expect(w[86] & 0x0400).toBe(0x0400);
    expect(w[85] & 0x0020).toBe(0x0020); // write cache enabled
    expect(w[100] + w[101] * 0x10000 + w[102] * 0x100000000 + w[103] * 2 ** 48).toBe(sectors);
    const bytes = new Uint8Array(w.buffer);
    expect(bytes.reduce((a, b) => a + b, 0) & 0xff).toBe(0);
    expect(w[255] & 0xff).toBe(0xa5);
  });

  it('large disks report 16383/16/63, LBA28 saturates at 0FFFFFFFh, LBA48 holds the full size', () => {
    const sectors = 0x10000000 + 12345; // just over 128 GiB
    const w = setup({ master: new SparseDisk(sectors) }).identify();
    expect([w[1], w[3], w[6]]).toEqual([16383, 16, 63]);
    expect(w[60] | (w[61] << 16)).toBe(0x0fffffff);
    expect(w[100] + w[101] * 0x10000 + w[102] * 0x100000000).toBe(sectors);
  });

  it('tiny disks still get a valid geometry; explicit geometry and bad options are checked', () => {
    const w = setup({ sectors: 100 }).identify();
    expect([w[1], w[3], w[6]]).toEqual([1, 1, 63]);
    const disk = new AtaDisk(new SparseDisk(20 * 4 * 17), { cylinders: 20, heads: 4, sectorsPerTrack: 17 });
    expect([disk.cylinders, disk.heads, disk.sectorsPerTrack]).toEqual([20, 4, 17]);
    expect(() => new AtaDisk(new SparseDisk(100), { cylinders: 20, heads: 4, sectorsPerTrack: 17 })).toThrow(
      /geometry/,
    );
    expect(() => new AtaDisk(new SparseDisk(100), { model: 'x'.repeat(41) })).toThrow(/model/);
    expect(() => new AtaDisk(new SparseDisk(0))).toThrow(/sector/);
  });
});

describe('AtaChannel PIO reads and writes', () => {
  it('READ SECTORS in LBA28: one interrupt per sector, DRQ per sector, no interrupt at the end', () => {
    const t = setup();
    t.lba28(100, 3);
    t.command(ATA_CMD_READ_SECTORS);
    for (let i = 0; i < 3; i++) {
      expect(t.irq.level).toBe(true);
      expect(t.status()).toBe(IDLE | ATA_SR_DRQ);
      expect(t.irq.level).toBe(false);
      expect(t.readBlock()).toEqual(expectedSector(100 + i));
    }
    expect(t.irq.rises).toBe(3);
    expect(t.irq.level).toBe(false);
    expect(t.status()).toBe(IDLE);
    // The task file holds the last sector read and a zero count.
    expect([t.inb(3), t.inb(4), t.inb(5), t.inb(2)]).toEqual([102, 0, 0, 0]);
  });

  it('READ SECTORS in CHS uses the default 16/63 translation', () => {
    const t = setup({ sectors: 20000 });
    t.chs(2, 5, 7, 2);
    t.command(ATA_CMD_READ_SECTORS);
    const lba = (2 * 16 + 5) * 63 + 6;
    t.status();
    expect(t.readBlock()).toEqual(expectedSector(lba));
    t.status();
    expect(t.readBlock()).toEqual(expectedSector(lba + 1));
    expect([t.inb(ATA_REG_LBA_LOW), t.inb(ATA_REG_LBA_MID), t.inb(ATA_REG_DEVICE) & 0x0f]).toEqual([8, 2, 5]);
  });

  it('a count of 0 means 256 sectors', () => {
    const t = setup();
    t.lba28(0, 0);
    t.command(ATA_CMD_READ_SECTORS);
    for (let i = 0; i < 256; i++) {
      t.status();
      expect(new DataView(t.readBlock().buffer).getUint32(0, true)).toBe(i);
    }
    expect(t.status()).toBe(IDLE);
  });

  it('WRITE SECTORS: DRQ without interrupt first, then an interrupt after each sector is written', () => {
    const t = setup();
    const image = (t.image as MemoryBlockDevice).data;
    t.lba28(200, 2);
    t.command(ATA_CMD_WRITE_SECTORS);
    expect(t.irq.level).toBe(false);
    expect(t.altStatus()).toBe(IDLE | ATA_SR_DRQ);
    t.writeBlock(expectedSector(200, 99));
    expect(t.irq.rises).toBe(1);
    expect(image.subarray(200 * 512, 201 * 512)).toEqual(expectedSector(200, 99));
    expect(t.status()).toBe(IDLE | ATA_SR_DRQ);
    t.writeBlock(expectedSector(201, 99));
    expect(t.irq.rises).toBe(2);
    expect(t.status()).toBe(IDLE);
    // Read back through the ports.
    t.lba28(200, 2);
    t.command(ATA_CMD_READ_SECTORS);
    t.status();
    expect(t.readBlock()).toEqual(expectedSector(200, 99));
    t.status();
    expect(t.readBlock()).toEqual(expectedSector(201, 99));
    expect((t.image as MemoryBlockDevice).sectorsWritten).toBe(2);
  });

  it('CHS write and read back round trip', () => {
    const t = setup({ sectors: 20000 });
    t.chs(3, 15, 63, 2); // crosses from head 15 / sector 63 to the next cylinder
    t.command(ATA_CMD_WRITE_SECTORS);
    t.writeBlock(expectedSector(1, 5));
    t.writeBlock(expectedSector(2, 5));
    expect(t.status()).toBe(IDLE);
    expect([t.inb(ATA_REG_LBA_LOW), t.inb(ATA_REG_LBA_MID), t.inb(ATA_REG_DEVICE) & 0x0f]).toEqual([1, 4, 0]);
    t.chs(4, 0, 1, 1);
    t.command(ATA_CMD_READ_SECTORS);
    t.status();
    expect(t.readBlock()).toEqual(expectedSector(2, 5));
  });

  it('32-bit data port accesses move two words, low word first; an 8-bit read consumes a word', () => {
    const t = setup();
    t.lba28(7, 1);
    t.command(ATA_CMD_READ_SECTORS);
    t.status();
    const expected = new DataView(expectedSector(7).buffer);
    expect(t.ch.read32(BASE)).toBe(expected.getUint32(0, true));
    expect(t.ch.read8(BASE)).toBe(expected.getUint8(4));
    expect(t.ch.read16(BASE)).toBe(expected.getUint16(6, true));
    for (let i = 8; i < 512; i += 4) t.ch.read32(BASE);
    expect(t.status()).toBe(IDLE);
    t.lba28(8, 1);
    t.command(ATA_CMD_WRITE_SECTORS);
    for (let i = 0; i < 128; i++) t.ch.write32(BASE, 0x04030201 + i);
    expect(t.status()).toBe(IDLE);
    const image = (t.image as MemoryBlockDevice).data;
    expect(new DataView(image.buffer).getUint32(8 * 512 + 4, true)).toBe(0x04030202);
  });

  it('LBA48 READ/WRITE SECTORS EXT above 2^28 with the HOB registers; the task file reports back', () => {
    const disk = new SparseDisk(0x200000000); // 8 TiB, sparse
    const t = setup({ master: disk });
    const lba = 0x123456789;
    t.lba48(lba, 2);
    t.command(ATA_CMD_WRITE_SECTORS_EXT);
    t.writeBlock(expectedSector(1, 1));
    t.writeBlock(expectedSector(2, 2));
    expect(t.status()).toBe(IDLE);
    expect(disk.written.get(lba)).toEqual(expectedSector(1, 1));
    expect(disk.written.get(lba + 1)).toEqual(expectedSector(2, 2));
    expect([t.inb(3), t.inb(4), t.inb(5)]).toEqual([0x8a, 0x67, 0x45]);
    t.ch.write8(CTRL, ATA_DC_HOB);
    expect([t.inb(3), t.inb(4), t.inb(5)]).toEqual([0x23, 0x01, 0x00]);
    t.ch.write8(CTRL, 0);
    t.lba48(lba - 1, 3);
    t.command(ATA_CMD_READ_SECTORS_EXT);
    const got = [0, 1, 2].map(() => (t.status(), t.readBlock()));
    expect(got[0]).toEqual(expectedSector(lba - 1));
    expect(got[1]).toEqual(expectedSector(1, 1));
    expect(got[2]).toEqual(expectedSector(2, 2));
  });

  it('LBA48 count 0 means 65536 and a 16-bit count is honoured', () => {
    const t = setup({ master: new SparseDisk(0x20000) });
    t.lba48(0, 0x0102);
    t.command(ATA_CMD_READ_VERIFY_EXT);
    expect(t.status()).toBe(IDLE);
    expect([t.inb(3), t.inb(4)]).toEqual([0x01, 0x01]); // last sector 0x101
    t.lba48(0, 0);
    t.command(ATA_CMD_READ_VERIFY_EXT);
    expect(t.status()).toBe(IDLE);
    expect([t.inb(3), t.inb(4), t.inb(5)]).toEqual([0xff, 0xff, 0x00]);
  });

  it('an LBA28 command cannot reach past 0FFFFFFEh even on a larger disk', () => {
    const t = setup({ master: new SparseDisk(0x10000010) });
    t.lba28(0x0fffffff, 1);
    t.command(ATA_CMD_READ_SECTORS);
    expect(t.status()).toBe(IDLE | ATA_SR_ERR);
    expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(ATA_ER_IDNF);
    t.lba48(0x0fffffff, 1);
    t.command(ATA_CMD_READ_SECTORS_EXT);
    expect(t.status()).toBe(IDLE | ATA_SR_DRQ);
  });
});

describe('AtaChannel multiple mode', () => {
  it('READ MULTIPLE is aborted until SET MULTIPLE MODE enables it', () => {
    const t = setup();
    t.lba28(0, 4);
    t.command(ATA_CMD_READ_MULTIPLE);
    expect(t.status()).toBe(IDLE | ATA_SR_ERR);
    expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(ATA_ER_ABRT);
  });

  it('SET MULTIPLE MODE accepts powers of two up to 16 and 0 (disable); others abort', () => {
    const t = setup();
    for (const [n, ok] of [
      [3, false],
      [32, false],
      [8, true],
      [0, true],
      [16, true],
    ] as const) {
      t.out(ATA_REG_SECTOR_COUNT, n);
      t.command(ATA_CMD_SET_MULTIPLE_MODE);
      expect(t.status()).toBe(ok ? IDLE : IDLE | ATA_SR_ERR);
    }
    expect(t.identify()[59]).toBe(0x0110);
  });

  it('READ MULTIPLE: one interrupt and one DRQ block per 4 sectors, short last block', () => {
    const t = setup();
    t.out(ATA_REG_SECTOR_COUNT, 4);
    t.command(ATA_CMD_SET_MULTIPLE_MODE);
    t.status();
    t.irq.levels = [];
    t.lba28(50, 10);
    t.command(ATA_CMD_READ_MULTIPLE);
    const blocks = [4, 4, 2];
    let lba = 50;
    for (const n of blocks) {
      expect(t.irq.level).toBe(true);
      expect(t.status()).toBe(IDLE | ATA_SR_DRQ);
      const data = t.readBlock(n);
      for (let i = 0; i < n; i++)
        expect(data.subarray(i * 512, (i + 1) * 512)).toEqual(expectedSector(lba++));
    }
    expect(t.irq.rises).toBe(3);
    expect(t.status()).toBe(IDLE);
  });

  it('WRITE MULTIPLE and WRITE MULTIPLE EXT interrupt per block and land on the disk', () => {
    const t = setup();
    t.out(ATA_REG_SECTOR_COUNT, 2);
    t.command(ATA_CMD_SET_MULTIPLE_MODE);
    t.status();
    t.irq.levels = [];
    t.lba28(10, 3);
    t.command(ATA_CMD_WRITE_MULTIPLE);
    const payload = new Uint8Array(3 * 512);
    for (let i = 0; i < 3; i++) payload.set(expectedSector(i, 40), i * 512);
    t.writeBlock(payload.subarray(0, 1024));
    expect(t.irq.rises).toBe(1);
    expect(t.status()).toBe(IDLE | ATA_SR_DRQ);
    t.writeBlock(payload.subarray(1024));
    expect(t.irq.rises).toBe(2);
    expect(t.status()).toBe(IDLE);
    t.lba48(10, 3);
    t.command(ATA_CMD_READ_MULTIPLE_EXT);
    t.status();
    expect(t.readBlock(2)).toEqual(payload.subarray(0, 1024));
    t.status();
    expect(t.readBlock(1)).toEqual(payload.subarray(1024));
    t.lba48(20, 2);
    t.command(ATA_CMD_WRITE_MULTIPLE_EXT);
    t.writeBlock(payload.subarray(0, 1024));
    expect(t.status()).toBe(IDLE);
    const image = (t.image as MemoryBlockDevice).data;
    expect(image.subarray(20 * 512, 22 * 512)).toEqual(payload.subarray(0, 1024));
  });
});

describe('AtaChannel errors and other commands', () => {
  it('a start past the end gives IDNF with the task file at that sector', () => {
    const t = setup({ sectors: 1000 });
    t.lba28(1000, 1);
    t.command(ATA_CMD_READ_SECTORS);
    expect(t.irq.level).toBe(true);
    expect(t.status()).toBe(IDLE | ATA_SR_ERR);
    expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(ATA_ER_IDNF);
    expect(t.ch.read16(BASE)).toBe(0xffff);
  });

  it('a range running off the end transfers the sectors that exist, then IDNF at the first missing one', () => {
    const t = setup({ sectors: 1000 });
    t.lba28(998, 4);
    t.command(ATA_CMD_READ_SECTORS);
    t.status();
    expect(t.readBlock()).toEqual(expectedSector(998));
    t.status();
    expect(t.readBlock()).toEqual(expectedSector(999));
    expect(t.irq.level).toBe(true);
    expect(t.status()).toBe(IDLE | ATA_SR_ERR);
    expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(ATA_ER_IDNF);
    expect(t.inb(ATA_REG_LBA_LOW) | (t.inb(ATA_REG_LBA_MID) << 8)).toBe(1000);
    t.lba28(999, 2);
    t.command(ATA_CMD_WRITE_SECTORS);
    t.writeBlock(expectedSector(0));
    expect(t.status()).toBe(IDLE | ATA_SR_ERR);
    expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(ATA_ER_IDNF);
  });

  it('CHS sector 0, a head or cylinder outside the translation give IDNF', () => {
    const t = setup({ sectors: 20000 });
    for (const [c, h, s] of [
      [0, 0, 0],
      [0, 0, 64],
      [19, 0, 1],
    ]) {
      t.chs(c, h, s, 1);
      t.command(ATA_CMD_READ_SECTORS);
      expect(t.status()).toBe(IDLE | ATA_SR_ERR);
      expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(ATA_ER_IDNF);
    }
  });

  it('unknown commands, NOP, IDENTIFY PACKET DEVICE and DMA commands are aborted with an interrupt', () => {
    const t = setup();
    for (const c of [0x00, ATA_CMD_IDENTIFY_PACKET_DEVICE, 0xc8, 0xca, 0xff]) {
      t.command(c);
      expect(t.irq.level).toBe(true);
      expect(t.status()).toBe(IDLE | ATA_SR_ERR);
      expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(ATA_ER_ABRT);
    }
  });

  it('writes to a read-only disk are aborted', () => {
    const t = setup({ master: new MemoryBlockDevice(patternImage(64), { readOnly: true }) });
    t.lba28(1, 1);
    t.command(ATA_CMD_WRITE_SECTORS);
    expect(t.status()).toBe(IDLE | ATA_SR_ERR);
    expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(ATA_ER_ABRT);
  });

  it('READ VERIFY checks the range without DRQ and leaves the last sector in the task file', () => {
    const t = setup({ sectors: 1000 });
    t.lba28(10, 5);
    t.command(ATA_CMD_READ_VERIFY);
    expect(t.irq.level).toBe(true);
    expect(t.status()).toBe(IDLE);
    expect(t.inb(ATA_REG_LBA_LOW)).toBe(14);
    t.lba28(990, 20);
    t.command(ATA_CMD_READ_VERIFY);
    expect(t.status()).toBe(IDLE | ATA_SR_ERR);
    expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(ATA_ER_IDNF);
    expect(t.inb(ATA_REG_LBA_LOW) | (t.inb(ATA_REG_LBA_MID) << 8)).toBe(1000);
  });

  it('SET FEATURES: PIO modes and cache switches accepted; DMA modes and unknown features aborted', () => {
    const t = setup();
    const setFeature = (feature: number, count = 0) => {
      t.out(ATA_REG_ERROR_FEATURES, feature);
      t.out(ATA_REG_SECTOR_COUNT, count);
      t.command(ATA_CMD_SET_FEATURES);
      return t.status();
    };
    expect(setFeature(ATA_SF_SET_TRANSFER_MODE, 0x0c)).toBe(IDLE);
    expect(setFeature(ATA_SF_SET_TRANSFER_MODE, 0x01)).toBe(IDLE);
    expect(setFeature(ATA_SF_SET_TRANSFER_MODE, 0x0d)).toBe(IDLE | ATA_SR_ERR);
    expect(setFeature(ATA_SF_SET_TRANSFER_MODE, 0x45)).toBe(IDLE | ATA_SR_ERR);
    expect(setFeature(ATA_SF_DISABLE_WRITE_CACHE)).toBe(IDLE);
    expect(t.identify()[85] & 0x20).toBe(0);
    expect(setFeature(0x99)).toBe(IDLE | ATA_SR_ERR);
    expect(t.inb(ATA_REG_ERROR_FEATURES)).toBe(ATA_ER_ABRT);
  });

  it('with the write cache off every written block is flushed; FLUSH CACHE flushes', () => {
    const disk = new SparseDisk(1000);
    const t = setup({ master: disk });
    t.command(ATA_CMD_FLUSH_CACHE);
    expect(t.status()).toBe(IDLE);
    expect(disk.flushes).toBe(1);
    t.out(ATA_REG_ERROR_FEATURES, ATA_SF_DISABLE_WRITE_CACHE);
    t.command(ATA_CMD_SET_FEATURES);
    t.lba28(1, 2);
    t.command(ATA_CMD_WRITE_SECTORS);
    t.writeBlock(new Uint8Array(1024));
    expect(disk.flushes).toBe(3);
  });

  it('INITIALIZE DEVICE PARAMETERS changes the CHS translation and IDENTIFY words 54-58', () => {
    const t = setup({ sectors: 20000 });
    t.out(ATA_REG_SECTOR_COUNT, 17);
    t.out(ATA_REG_DEVICE, 0xa0 | 3); // 4 heads
    t.command(ATA_CMD_INITIALIZE_DEVICE_PARAMETERS);
    expect(t.status()).toBe(IDLE);
    const w = t.identify();
    expect([w[54], w[55], w[56]]).toEqual([Math.floor(20000 / 68), 4, 17]);
    expect([w[1], w[3], w[6]]).toEqual([19, 16, 63]); // defaults unchanged
    t.chs(1, 2, 3, 1);
    t.command(ATA_CMD_READ_SECTORS);
    t.status();
    expect(t.readBlock()).toEqual(expectedSector((1 * 4 + 2) * 17 + 2));
    t.out(ATA_REG_SECTOR_COUNT, 0);
    t.command(ATA_CMD_INITIALIZE_DEVICE_PARAMETERS);
    expect(t.status()).toBe(IDLE | ATA_SR_ERR);
  });

  it('power commands and CHECK POWER MODE; RECALIBRATE and the rest complete with an interrupt', () => {
    const t = setup();
    t.command(ATA_CMD_STANDBY_IMMEDIATE);
    expect(t.status()).toBe(IDLE);
    t.command(ATA_CMD_CHECK_POWER_MODE);
    expect(t.status()).toBe(IDLE);
    expect(t.inb(ATA_REG_SECTOR_COUNT)).toBe(0x00);
    t.command(ATA_CMD_IDLE_IMMEDIATE);
    t.command(ATA_CMD_CHECK_POWER_MODE);
    expect(t.inb(ATA_REG_SECTOR_COUNT)).toBe(0xff);
    t.command(ATA_CMD_STANDBY_IMMEDIATE);
    t.lba28(0, 1);
    t.command(ATA_CMD_READ_VERIFY); // media access spins the disk up
    t.command(ATA_CMD_CHECK_POWER_MODE);
    expect(t.inb(ATA_REG_SECTOR_COUNT)).toBe(0xff);
    t.status();
    t.irq.levels = [];
    t.command(0x1f);
    expect(t.irq.rises).toBe(1);
    expect(t.status()).toBe(IDLE);
  });
});

describe('AtaChannel state', () => {
  it('round-trips in the middle of a multi-sector read and continues identically', () => {
    const image = patternImage(256);
    const build = () => {
      const irq = new FakeIrq();
      const master = new AtaDisk(new MemoryBlockDevice(image));
      return makeHelpers(new AtaChannel(irq, { ...ATA_PRIMARY, master }), irq);
    };
    const a = build();
    a.out(ATA_REG_SECTOR_COUNT, 2);
    a.command(ATA_CMD_SET_MULTIPLE_MODE);
    a.status();
    a.lba28(30, 5);
    a.command(ATA_CMD_READ_MULTIPLE);
    a.status();
    a.readWords(300); // partway into the first 2-sector block
    a.ch.write8(CTRL, ATA_DC_HOB);
    const saved = structuredClone(a.ch.saveState());

    const b = build();
    b.ch.loadState(saved);
    expect(b.irq.level).toBe(a.irq.level);
    for (const t of [a, b]) t.ch.write8(CTRL, 0);
    const rest = (t: ReturnType<typeof build>) => {
      const out: number[] = [...t.readWords(212)];
      for (let i = 0; i < 2; i++) {
        out.push(t.irq.level ? 1 : 0, t.status());
        out.push(...t.readWords(i === 0 ? 512 : 256));
      }
      out.push(t.status(), t.inb(3), t.inb(2));
      return out;
    };
    expect(rest(b)).toEqual(rest(a));
    expect(b.ch.saveState()).toEqual(a.ch.saveState());
  });

  it('round-trips a write in progress', () => {
    const mk = () => setup({ sectors: 64 });
    const a = mk();
    a.lba28(3, 2);
    a.command(ATA_CMD_WRITE_SECTORS);
    a.writeBlock(expectedSector(0, 1).subarray(0, 100));
    const b = mk();
    b.ch.loadState(a.ch.saveState());
    for (const t of [a, b]) {
      t.writeBlock(expectedSector(0, 1).subarray(100));
      t.writeBlock(expectedSector(0, 2));
      expect(t.status()).toBe(IDLE);
    }
    expect((b.image as MemoryBlockDevice).data).toEqual((a.image as MemoryBlockDevice).data);
  });

  it('rejects malformed state naming the field and leaves the channel unchanged', () => {
    const t = setup({ slave: new MemoryBlockDevice(new Uint8Array(512 * 8)) });
    t.lba28(5, 1);
    const good = t.ch.saveState();
    const master = good.master as DeviceState;
    const bad = (patch: DeviceState) => ({ ...good, ...patch });
    expect(() => t.ch.loadState(bad({ lbaLow: 256 }))).toThrow(/lbaLow/);
    expect(() => t.ch.loadState(bad({ deviceControl: 'x' }))).toThrow(/deviceControl/);
    expect(() => t.ch.loadState(bad({ slave: null }))).toThrow(/slave/);
    expect(() => t.ch.loadState(bad({ master: { ...master, status: -1 } }))).toThrow(/master\.status/);
    expect(() => t.ch.loadState(bad({ master: { ...master, buffer: new Uint8Array(5) } }))).toThrow(
      /master\.buffer/,
    );
    expect(() => t.ch.loadState(bad({ master: { ...master, bufferPos: 9999 } }))).toThrow(
      /master\.bufferPos/,
    );
    expect(() => t.ch.loadState(bad({ master: { ...master, transfer: 1, bufferEnd: 0 } }))).toThrow(
      /master\.bufferEnd/,
    );
    const slave = good.slave as DeviceState;
    expect(() =>
      t.ch.loadState(bad({ master: { ...master, multipleCount: 8 }, slave: { ...slave, writeCache: 1 } })),
    ).toThrow(/slave\.writeCache/);
    expect(t.ch.saveState()).toEqual(good);
    const empty = setup({ master: null });
    expect(() => empty.ch.loadState(good)).toThrow(/master/);
  });
});

describe('MemoryBlockDevice', () => {
  it('wraps a Uint8Array in place, counts sectors moved, and checks sizes and ranges', () => {
    expect(() => new MemoryBlockDevice(new Uint8Array(1000))).toThrow(/multiple of 512/);
    const data = patternImage(8);
    const disk = new MemoryBlockDevice(data);
    expect(disk.sectorCount).toBe(8);
    const buf = new Uint8Array(3 * SECTOR_SIZE);
    disk.read(2, 2, buf, SECTOR_SIZE);
    expect(buf.subarray(SECTOR_SIZE, 2 * SECTOR_SIZE)).toEqual(expectedSector(2));
    expect(buf.subarray(2 * SECTOR_SIZE)).toEqual(expectedSector(3));
    disk.write(7, 1, new Uint8Array(SECTOR_SIZE).fill(9), 0);
    expect(data[7 * SECTOR_SIZE + 100]).toBe(9);
    expect([disk.sectorsRead, disk.sectorsWritten]).toEqual([2, 1]);
    expect(() => disk.read(7, 2, buf, 0)).toThrow(RangeError);
    expect(() => disk.read(0, 3, buf, SECTOR_SIZE)).toThrow(/buffer/);
    expect(() => disk.read(-1, 1, buf, 0)).toThrow(RangeError);
    const ro = new MemoryBlockDevice(new Uint8Array(SECTOR_SIZE), { readOnly: true });
    expect(ro.readOnly).toBe(true);
    expect(() => ro.write(0, 1, buf, 0)).toThrow(/read-only/);
  });
});
