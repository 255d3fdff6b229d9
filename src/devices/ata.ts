/**
 * One ATA/IDE channel (the legacy ISA-compatible task file interface) with master and slave positions.
 * Follows ATA/ATAPI-6 (T13/1410D): section 7 (registers), 8 (commands), 9.5-9.7 (PIO data-in, data-out
 * and non-data protocols), 9.2/9.3 (SRST and signatures), 6.20 (LBA48 HOB registers).
 *
 * Primary: 0x1F0-0x1F7 + 0x3F6 (IRQ14). Secondary: 0x170-0x177 + 0x376 (IRQ15). 0x3F7 is not decoded
 * here: it belongs to the floppy controller's DIR.
 *
 * Both devices latch every command block write (one shared task file here); status, error, the pending
 * interrupt and the PIO transfer belong to each AtaDisk. Commands complete at once in virtual time: BSY is
 * only seen during SRST. Data moves by PIO only (no bus-master DMA; IDENTIFY advertises no DMA modes).
 *
 * Absent devices: when device 1 is selected but absent, device 0 answers for it (ATA-6 9.16.1): command
 * block registers read back as written and Status/Alternate Status/Error read 00h; commands to it are
 * ignored. When device 0 is selected but absent (or the channel is empty) nothing drives the bus: the
 * spec's pull-down on DD7 makes every register read 7Fh and the data port FFFFh.
 */
import type { DeviceState, IoDevice, IrqLine, PortRange, Stateful } from './device.ts';
import { stateNumber } from './device.ts';
import { SECTOR_SIZE } from './block-device.ts';
import type { AtaDisk } from './ata-disk.ts';
import { ADDR_CHS, ADDR_LBA28, ADDR_LBA48, XFER_IN, XFER_OUT } from './ata-disk.ts';
import * as A from './ata-constants.ts';

export interface AtaChannelOptions {
  /** Short name for messages, e.g. "ata-primary". */
  name?: string;
  /** Command block base: 0x1F0 (primary) or 0x170 (secondary). */
  commandBase: number;
  /** Device control / alternate status port: 0x3F6 (primary) or 0x376 (secondary). */
  controlPort: number;
  master?: AtaDisk;
  slave?: AtaDisk;
}

export const ATA_PRIMARY = { commandBase: 0x1f0, controlPort: 0x3f6 } as const;
export const ATA_SECONDARY = { commandBase: 0x170, controlPort: 0x376 } as const;

/** Register value read when no device drives the bus (DD7 pulled down, the rest float high). */
const FLOATING_BUS = 0x7f;
const STATUS_IDLE = A.ATA_SR_DRDY | A.ATA_SR_DSC;

export class AtaChannel implements IoDevice, Stateful {
  readonly name: string;
  readonly portRanges: readonly PortRange[];
  private readonly base: number;
  private readonly control: number;
  private readonly drives: readonly [AtaDisk | null, AtaDisk | null];

  // The task file. *Hob is the previously written byte of each two-deep LBA48 register (ATA-6 6.20).
  private features = 0;
  private featuresHob = 0;
  private sectorCount = 0;
  private sectorCountHob = 0;
  private lbaLow = 0;
  private lbaLowHob = 0;
  private lbaMid = 0;
  private lbaMidHob = 0;
  private lbaHigh = 0;
  private lbaHighHob = 0;
  private device = 0;
  private deviceControl = 0;

  constructor(
    private readonly irq: IrqLine,
    options: AtaChannelOptions,
  ) {
    this.base = options.commandBase;
    this.control = options.controlPort;
    this.name = options.name ?? `ata-${this.base.toString(16)}`;
    this.portRanges = [
      { start: this.base, length: 8 },
      { start: this.control, length: 1 },
    ];
    this.drives = [options.master ?? null, options.slave ?? null];
    this.reset();
  }

  /** Hardware reset (RESET-): every device back to power-on defaults, signature in the task file. */
  reset(): void {
    for (const d of this.drives) d?.powerOnReset();
    this.features = this.featuresHob = 0;
    this.deviceControl = 0;
    this.setSignature();
    this.updateIrq();
  }

  /** Non-PACKET device signature (ATA-6 9.12): count 01h, LBA 00_00_01h, device 00h (selects device 0). */
  private setSignature(): void {
    this.sectorCount = 1;
    this.lbaLow = 1;
    this.lbaMid = this.lbaHigh = 0;
    this.sectorCountHob = this.lbaLowHob = this.lbaMidHob = this.lbaHighHob = 0;
    this.device = 0;
  }

  private selectedIndex(): number {
    return this.device & A.ATA_DEV_DEV ? 1 : 0;
  }

  /** INTRQ: driven by the selected device only, while it has an interrupt pending and nIEN is clear. */
  private updateIrq(): void {
    const d = this.drives[this.selectedIndex()];
    this.irq.set(d !== null && d.irqPending && (this.deviceControl & A.ATA_DC_NIEN) === 0);
  }

  /** True when somebody drives the bus for the selected position (device 0 answers for a missing 1). */
  private busDriven(): boolean {
    return this.drives[0] !== null || (this.selectedIndex() === 1 && this.drives[1] !== null);
  }

  read8(port: number): number {
    if (port === this.control) return this.readStatus(false);
    const reg = port - this.base;
    if (reg === A.ATA_REG_DATA) return this.read16(port) & 0xff; // a byte read still moves one word
    if (!this.busDriven()) return FLOATING_BUS;
    const hob = (this.deviceControl & A.ATA_DC_HOB) !== 0;
    switch (reg) {
      case A.ATA_REG_ERROR_FEATURES:
        return this.drives[this.selectedIndex()]?.error ?? 0;
      case A.ATA_REG_SECTOR_COUNT:
        return hob ? this.sectorCountHob : this.sectorCount;
      case A.ATA_REG_LBA_LOW:
        return hob ? this.lbaLowHob : this.lbaLow;
      case A.ATA_REG_LBA_MID:
        return hob ? this.lbaMidHob : this.lbaMid;
      case A.ATA_REG_LBA_HIGH:
        return hob ? this.lbaHighHob : this.lbaHigh;
      case A.ATA_REG_DEVICE:
        return this.device;
      default:
        return this.readStatus(true);
    }
  }

  /** Status (acknowledges the interrupt) or Alternate Status (does not). */
  private readStatus(acknowledge: boolean): number {
    if (!this.busDriven()) return FLOATING_BUS;
    const d = this.drives[this.selectedIndex()];
    if (d === null) return 0;
    if (acknowledge && d.irqPending) {
      d.irqPending = false;
      this.updateIrq();
    }
    return d.status;
  }

  write8(port: number, value: number): void {
    value &= 0xff;
    if (port === this.control) {
      this.writeDeviceControl(value);
      return;
    }
    const reg = port - this.base;
    if (reg === A.ATA_REG_DATA) {
      this.write16(port, value);
      return;
    }
    // Any command block write clears HOB, so reads return the current bytes again.
    this.deviceControl &= ~A.ATA_DC_HOB;
    switch (reg) {
      case A.ATA_REG_ERROR_FEATURES:
        this.featuresHob = this.features;
        this.features = value;
        break;
      case A.ATA_REG_SECTOR_COUNT:
        this.sectorCountHob = this.sectorCount;
        this.sectorCount = value;
        break;
      case A.ATA_REG_LBA_LOW:
        this.lbaLowHob = this.lbaLow;
        this.lbaLow = value;
        break;
      case A.ATA_REG_LBA_MID:
        this.lbaMidHob = this.lbaMid;
        this.lbaMid = value;
        break;
      case A.ATA_REG_LBA_HIGH:
        this.lbaHighHob = this.lbaHigh;
        this.lbaHigh = value;
        break;
      case A.ATA_REG_DEVICE:
        this.device = value;
        this.updateIrq(); // INTRQ follows the selected device
        break;
      default:
        this.writeCommand(value);
    }
  }

  private writeDeviceControl(value: number): void {
    const old = this.deviceControl;
    this.deviceControl = value;
    if (value & A.ATA_DC_SRST && !(old & A.ATA_DC_SRST)) {
      // SRST asserted: devices abort whatever they do and stay busy until it is released.
      for (const d of this.drives) {
        if (d === null) continue;
        d.endTransfer();
        d.irqPending = false;
        d.status = A.ATA_SR_BSY;
      }
    } else if (!(value & A.ATA_DC_SRST) && old & A.ATA_DC_SRST) {
      // SRST released: diagnostics pass, signature loaded, no interrupt (ATA-6 9.3). Settings survive.
      for (const d of this.drives) {
        if (d === null) continue;
        d.status = STATUS_IDLE;
        d.error = 0x01;
      }
      this.setSignature();
    }
    this.updateIrq();
  }

  read16(port: number): number {
    if (port !== this.base) return this.read8(port) | (this.read8(port + 1) << 8);
    if (!this.busDriven()) return 0xffff;
    const d = this.drives[this.selectedIndex()];
    if (d === null || d.transfer !== XFER_IN) return 0xffff;
    const value = d.buffer[d.bufferPos] | (d.buffer[d.bufferPos + 1] << 8);
    d.bufferPos += 2;
    if (d.bufferPos >= d.bufferEnd) this.dataInBlockDone(d);
    return value;
  }

  write16(port: number, value: number): void {
    if (port !== this.base) {
      this.write8(port, value & 0xff);
      this.write8(port + 1, (value >> 8) & 0xff);
      return;
    }
    const d = this.drives[this.selectedIndex()];
    if (d === null || d.transfer !== XFER_OUT) return;
    d.buffer[d.bufferPos] = value & 0xff;
    d.buffer[d.bufferPos + 1] = (value >> 8) & 0xff;
    d.bufferPos += 2;
    if (d.bufferPos >= d.bufferEnd) this.dataOutBlockDone(d);
  }

  /** 32-bit PIO: two data words, low word first (the host adapter splits the dword). */
  read32(port: number): number {
    if (port !== this.base) return (this.read16(port) | (this.read16(port + 2) << 16)) >>> 0;
    const low = this.read16(port);
    return (low | (this.read16(port) << 16)) >>> 0;
  }

  write32(port: number, value: number): void {
    if (port !== this.base) {
      this.write16(port, value & 0xffff);
      this.write16(port + 2, value >>> 16);
      return;
    }
    this.write16(port, value & 0xffff);
    this.write16(port, value >>> 16);
  }

  // ---- Command execution (ATA-6 section 8) ----

  private writeCommand(command: number): void {
    const index = this.selectedIndex();
    const d = this.drives[index];
    if (command === A.ATA_CMD_EXECUTE_DEVICE_DIAGNOSTIC && this.drives.some((x) => x !== null)) {
      this.executeDeviceDiagnostic(); // addressed to both devices, whatever DEV says
      return;
    }
    if (d === null || d.status & A.ATA_SR_BSY) return; // absent device (or in SRST): ignored
    d.irqPending = false; // writing the command register clears a pending interrupt
    d.endTransfer();
    d.error = 0;
    d.command = command;
    switch (command) {
      case A.ATA_CMD_IDENTIFY_DEVICE:
        d.fillIdentify();
        d.transfer = XFER_IN;
        d.sectorsLeft = 1;
        d.blockSize = 1;
        d.lba = 0;
        d.bufferEnd = SECTOR_SIZE;
        d.status = STATUS_IDLE | A.ATA_SR_DRQ;
        this.raise(d);
        return;
      case A.ATA_CMD_READ_SECTORS:
      case A.ATA_CMD_READ_SECTORS_NORETRY:
        return this.beginRead(d, false, 1);
      case A.ATA_CMD_READ_SECTORS_EXT:
        return this.beginRead(d, true, 1);
      case A.ATA_CMD_READ_MULTIPLE:
        return this.beginRead(d, false, d.multipleCount);
      case A.ATA_CMD_READ_MULTIPLE_EXT:
        return this.beginRead(d, true, d.multipleCount);
      case A.ATA_CMD_WRITE_SECTORS:
      case A.ATA_CMD_WRITE_SECTORS_NORETRY:
        return this.beginWrite(d, false, 1);
      case A.ATA_CMD_WRITE_SECTORS_EXT:
        return this.beginWrite(d, true, 1);
      case A.ATA_CMD_WRITE_MULTIPLE:
        return this.beginWrite(d, false, d.multipleCount);
      case A.ATA_CMD_WRITE_MULTIPLE_EXT:
        return this.beginWrite(d, true, d.multipleCount);
      case A.ATA_CMD_READ_VERIFY:
      case A.ATA_CMD_READ_VERIFY_NORETRY:
        return this.readVerify(d, false);
      case A.ATA_CMD_READ_VERIFY_EXT:
        return this.readVerify(d, true);
      case A.ATA_CMD_SET_MULTIPLE_MODE: {
        // 0 disables; otherwise a power of two no larger than IDENTIFY word 47 allows.
        const n = this.sectorCount;
        if (n > A.ATA_MAX_MULTIPLE || (n & (n - 1)) !== 0) return this.fail(d, A.ATA_ER_ABRT);
        d.multipleCount = n;
        return this.complete(d);
      }
      case A.ATA_CMD_INITIALIZE_DEVICE_PARAMETERS:
        // Sector Count = sectors per track, Device bits 3-0 = maximum head number.
        if (!d.setTranslation((this.device & A.ATA_DEV_HEAD_MASK) + 1, this.sectorCount)) {
          return this.fail(d, A.ATA_ER_ABRT);
        }
        return this.complete(d);
      case A.ATA_CMD_SET_FEATURES:
        return this.setFeatures(d);
      case A.ATA_CMD_FLUSH_CACHE:
      case A.ATA_CMD_FLUSH_CACHE_EXT:
        try {
          d.block.flush?.();
        } catch {
          return this.fail(d, A.ATA_ER_ABRT);
        }
        return this.complete(d);
      case A.ATA_CMD_STANDBY_IMMEDIATE:
      case A.ATA_CMD_STANDBY:
      case A.ATA_CMD_SLEEP: // no wake-up-by-reset modelled: sleep behaves as standby
        d.powerMode = A.ATA_POWER_STANDBY;
        return this.complete(d);
      case A.ATA_CMD_IDLE_IMMEDIATE:
      case A.ATA_CMD_IDLE:
        d.powerMode = A.ATA_POWER_ACTIVE_OR_IDLE;
        return this.complete(d);
      case A.ATA_CMD_CHECK_POWER_MODE:
        this.sectorCount = d.powerMode;
        return this.complete(d);
      default:
        if ((command & 0xf0) === A.ATA_CMD_RECALIBRATE) {
          this.lbaMid = this.lbaHigh = 0; // heads at cylinder 0
          return this.complete(d);
        }
        // NOP, IDENTIFY PACKET DEVICE, DMA commands and everything unknown: command aborted.
        return this.fail(d, A.ATA_ER_ABRT);
    }
  }

  private executeDeviceDiagnostic(): void {
    for (const d of this.drives) {
      if (d === null) continue;
      d.endTransfer();
      d.status = STATUS_IDLE;
      d.error = 0x01; // device 0: passed, and device 1 passed or absent (bit 7 clear)
      d.irqPending = false;
    }
    this.setSignature();
    // Device 0 reports for the pair; with only a device 1 fitted, it interrupts itself.
    (this.drives[0] ?? this.drives[1])!.irqPending = true;
    this.updateIrq();
  }

  private setFeatures(d: AtaDisk): void {
    switch (this.features) {
      case A.ATA_SF_SET_TRANSFER_MODE: {
        const mode = this.sectorCount;
        if (mode === A.ATA_XFER_PIO_DEFAULT || mode === A.ATA_XFER_PIO_DEFAULT_NO_IORDY) d.pioMode = 4;
        else if ((mode & 0xf8) === A.ATA_XFER_PIO_FLOW_CONTROL && (mode & 7) <= 4) d.pioMode = mode & 7;
        else return this.fail(d, A.ATA_ER_ABRT); // DMA modes: not supported
        break;
      }
      case A.ATA_SF_ENABLE_WRITE_CACHE:
        d.writeCache = true;
        break;
      case A.ATA_SF_DISABLE_WRITE_CACHE:
        d.writeCache = false;
        break;
      case A.ATA_SF_ENABLE_READ_LOOKAHEAD:
        d.readLookahead = true;
        break;
      case A.ATA_SF_DISABLE_READ_LOOKAHEAD:
        d.readLookahead = false;
        break;
      case A.ATA_SF_ENABLE_REVERTING:
      case A.ATA_SF_DISABLE_REVERTING:
        break; // accepted; settings already survive SRST
      default:
        return this.fail(d, A.ATA_ER_ABRT);
    }
    this.complete(d);
  }

  /** Decodes the starting sector of a command from the task file; -1 for a CHS address that does not exist. */
  private startSector(d: AtaDisk, ext: boolean): number {
    if (ext) {
      d.addressMode = ADDR_LBA48;
      const low = this.lbaLow | (this.lbaMid << 8) | (this.lbaHigh << 16);
      const high = this.lbaLowHob | (this.lbaMidHob << 8) | (this.lbaHighHob << 16);
      return high * 0x1000000 + low;
    }
    if (this.device & A.ATA_DEV_LBA) {
      d.addressMode = ADDR_LBA28;
      const high = this.device & A.ATA_DEV_HEAD_MASK;
      return (this.lbaLow | (this.lbaMid << 8) | (this.lbaHigh << 16) | (high << 24)) >>> 0;
    }
    d.addressMode = ADDR_CHS;
    return d.chsToLba(this.lbaMid | (this.lbaHigh << 8), this.device & A.ATA_DEV_HEAD_MASK, this.lbaLow);
  }

  private commandCount(ext: boolean): number {
    if (ext) return (this.sectorCountHob << 8) | this.sectorCount || 65536;
    return this.sectorCount || 256;
  }

  /** One past the last sector the command's addressing can reach. */
  private sectorLimit(d: AtaDisk): number {
    if (d.addressMode === ADDR_LBA48) return d.sectorCount;
    if (d.addressMode === ADDR_LBA28) return Math.min(d.sectorCount, A.ATA_LBA28_LIMIT);
    return Math.min(d.sectorCount, d.currentCylinders * d.currentHeads * d.currentSectorsPerTrack);
  }

  /** Sets up a PIO data-in command; `block` is the DRQ block size (0 = multiple mode not enabled). */
  private beginRead(d: AtaDisk, ext: boolean, block: number): void {
    if (block === 0) return this.fail(d, A.ATA_ER_ABRT);
    const lba = this.startSector(d, ext);
    if (lba < 0) return this.fail(d, A.ATA_ER_IDNF);
    d.lba = lba;
    d.sectorsLeft = this.commandCount(ext);
    d.blockSize = block;
    d.powerMode = A.ATA_POWER_ACTIVE_OR_IDLE;
    this.loadReadBlock(d);
  }

  /** Reads the next DRQ block from the medium and offers it to the host with an interrupt. */
  private loadReadBlock(d: AtaDisk): void {
    const n = Math.min(d.blockSize, d.sectorsLeft);
    const limit = this.sectorLimit(d);
    if (d.lba + n > limit) return this.failAt(d, A.ATA_ER_IDNF, Math.max(d.lba, limit));
    try {
      d.block.read(d.lba, n, d.buffer, 0);
    } catch {
      return this.failAt(d, A.ATA_ER_UNC, d.lba);
    }
    d.transfer = XFER_IN;
    d.bufferPos = 0;
    d.bufferEnd = n * SECTOR_SIZE;
    d.status = STATUS_IDLE | A.ATA_SR_DRQ;
    this.raise(d);
  }

  /** The host has read the whole DRQ block. */
  private dataInBlockDone(d: AtaDisk): void {
    const n = d.bufferEnd / SECTOR_SIZE;
    if (d.command === A.ATA_CMD_IDENTIFY_DEVICE) {
      d.endTransfer();
      d.status = STATUS_IDLE;
      return;
    }
    d.lba += n;
    d.sectorsLeft -= n;
    this.writeTaskFile(d, d.lba - 1, d.sectorsLeft);
    if (d.sectorsLeft > 0) {
      this.loadReadBlock(d);
    } else {
      // Data-in commands end without an interrupt: the last one announced the last block.
      d.endTransfer();
      d.status = STATUS_IDLE;
    }
  }

  private beginWrite(d: AtaDisk, ext: boolean, block: number): void {
    if (block === 0 || d.block.readOnly) return this.fail(d, A.ATA_ER_ABRT);
    const lba = this.startSector(d, ext);
    if (lba < 0) return this.fail(d, A.ATA_ER_IDNF);
    d.lba = lba;
    d.sectorsLeft = this.commandCount(ext);
    d.blockSize = block;
    d.powerMode = A.ATA_POWER_ACTIVE_OR_IDLE;
    // The first block is requested without an interrupt (ATA-6 9.6: the host polls for DRQ).
    this.requestWriteBlock(d, false);
  }

  private requestWriteBlock(d: AtaDisk, interrupt: boolean): void {
    const n = Math.min(d.blockSize, d.sectorsLeft);
    const limit = this.sectorLimit(d);
    if (d.lba + n > limit) return this.failAt(d, A.ATA_ER_IDNF, Math.max(d.lba, limit));
    d.transfer = XFER_OUT;
    d.bufferPos = 0;
    d.bufferEnd = n * SECTOR_SIZE;
    d.status = STATUS_IDLE | A.ATA_SR_DRQ;
    if (interrupt) this.raise(d);
  }

  /** The host has written the whole DRQ block: store it, then interrupt (next block or completion). */
  private dataOutBlockDone(d: AtaDisk): void {
    const n = d.bufferEnd / SECTOR_SIZE;
    try {
      d.block.write(d.lba, n, d.buffer, 0);
      if (!d.writeCache) d.block.flush?.();
    } catch {
      return this.failAt(d, A.ATA_ER_ABRT, d.lba);
    }
    d.lba += n;
    d.sectorsLeft -= n;
    this.writeTaskFile(d, d.lba - 1, d.sectorsLeft);
    if (d.sectorsLeft > 0) return this.requestWriteBlock(d, true);
    this.complete(d);
  }

  private readVerify(d: AtaDisk, ext: boolean): void {
    const lba = this.startSector(d, ext);
    if (lba < 0) return this.fail(d, A.ATA_ER_IDNF);
    const count = this.commandCount(ext);
    const limit = this.sectorLimit(d);
    d.powerMode = A.ATA_POWER_ACTIVE_OR_IDLE;
    if (lba + count > limit) return this.failAt(d, A.ATA_ER_IDNF, Math.max(lba, limit));
    this.writeTaskFile(d, lba + count - 1, 0);
    this.complete(d);
  }

  /** Writes a sector address (in the command's addressing) and the remaining count back to the task file. */
  private writeTaskFile(d: AtaDisk, lba: number, remaining: number): void {
    if (d.addressMode === ADDR_LBA48) {
      const high = Math.floor(lba / 0x1000000);
      this.lbaLow = lba & 0xff;
      this.lbaMid = (lba >>> 8) & 0xff;
      this.lbaHigh = (lba >>> 16) & 0xff;
      this.lbaLowHob = high & 0xff;
      this.lbaMidHob = (high >>> 8) & 0xff;
      this.lbaHighHob = (high >>> 16) & 0xff;
      this.sectorCount = remaining & 0xff;
      this.sectorCountHob = (remaining >>> 8) & 0xff;
      return;
    }
    this.sectorCount = remaining & 0xff;
    if (d.addressMode === ADDR_LBA28) {
      this.lbaLow = lba & 0xff;
      this.lbaMid = (lba >>> 8) & 0xff;
      this.lbaHigh = (lba >>> 16) & 0xff;
      this.device = (this.device & 0xf0) | ((lba >>> 24) & 0x0f);
      return;
    }
    const spt = d.currentSectorsPerTrack;
    const track = Math.floor(lba / spt);
    const cylinder = Math.floor(track / d.currentHeads);
    this.lbaLow = (lba % spt) + 1;
    this.lbaMid = cylinder & 0xff;
    this.lbaHigh = (cylinder >>> 8) & 0xff;
    this.device = (this.device & 0xf0) | (track % d.currentHeads);
  }

  /** Non-data or data-out completion: ready, no error, interrupt. */
  private complete(d: AtaDisk): void {
    d.endTransfer();
    d.status = STATUS_IDLE;
    this.raise(d);
  }

  private fail(d: AtaDisk, error: number): void {
    d.endTransfer();
    d.error = error;
    d.status = STATUS_IDLE | A.ATA_SR_ERR;
    this.raise(d);
  }

  /** Fails a media access with the task file pointing at the sector where the error occurred. */
  private failAt(d: AtaDisk, error: number, lba: number): void {
    this.writeTaskFile(d, lba, d.sectorsLeft);
    this.fail(d, error);
  }

  private raise(d: AtaDisk): void {
    d.irqPending = true;
    this.updateIrq();
  }

  // ---- State ----

  saveState(): DeviceState {
    return {
      features: this.features,
      featuresHob: this.featuresHob,
      sectorCount: this.sectorCount,
      sectorCountHob: this.sectorCountHob,
      lbaLow: this.lbaLow,
      lbaLowHob: this.lbaLowHob,
      lbaMid: this.lbaMid,
      lbaMidHob: this.lbaMidHob,
      lbaHigh: this.lbaHigh,
      lbaHighHob: this.lbaHighHob,
      device: this.device,
      deviceControl: this.deviceControl,
      master: this.drives[0]?.saveState() ?? null,
      slave: this.drives[1]?.saveState() ?? null,
    };
  }

  loadState(state: DeviceState): void {
    const byte = (field: string): number => {
      const v = stateNumber(state, field);
      if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new Error(`state field '${field}' is not a byte`);
      return v;
    };
    const names = [
      'features',
      'featuresHob',
      'sectorCount',
      'sectorCountHob',
      'lbaLow',
      'lbaLowHob',
    ] as const;
    const more = ['lbaMid', 'lbaMidHob', 'lbaHigh', 'lbaHighHob', 'device', 'deviceControl'] as const;
    const values = [...names, ...more].map(byte);
    ['master', 'slave'].forEach((position, i) => {
      const s = state[position];
      const present = this.drives[i] !== null;
      if (present !== (s !== null && typeof s === 'object' && !Array.isArray(s) && !ArrayBuffer.isView(s))) {
        throw new Error(
          `state field '${position}' does not match the ${present ? 'fitted' : 'empty'} position`,
        );
      }
    });
    // AtaDisk.loadState is all-or-nothing; if the slave's state is bad, put the master back as it was.
    const backups = this.drives.map((d) => d?.saveState() ?? null);
    try {
      this.drives[0]?.loadState(state.master as DeviceState, 'master');
      this.drives[1]?.loadState(state.slave as DeviceState, 'slave');
    } catch (e) {
      this.drives.forEach((d, i) => d?.loadState(backups[i]!, i ? 'slave' : 'master'));
      throw e;
    }
    [
      this.features,
      this.featuresHob,
      this.sectorCount,
      this.sectorCountHob,
      this.lbaLow,
      this.lbaLowHob,
      this.lbaMid,
      this.lbaMidHob,
      this.lbaHigh,
      this.lbaHighHob,
      this.device,
      this.deviceControl,
    ] = values;
    this.updateIrq();
  }
}
