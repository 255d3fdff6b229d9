/**
 * Intel 82077AA CHMOS single-chip floppy disk controller in PC/AT mode: ports 0x3F0-0x3F5 and 0x3F7 (0x3F6
 * belongs to IDE), IRQ6, ISA DMA channel 2. Follows the 82077AA datasheet (Intel 290166): register
 * descriptions (DOR, MSR, DSR, FIFO, DIR, CCR), the command set and command phases, the status register
 * tables ST0-ST3, the result-phase C/H/R table for multi-sector and multi-track transfers, and reset.
 *
 * Commands complete at once in virtual time: seeks take no time, and a DMA transfer runs to the end
 * (terminal count, end of cylinder or error) when the last command byte is written. Non-DMA mode (SPECIFY
 * ND=1) moves data byte by byte through the FIFO with the interrupt held while data is wanted.
 * AT mode: SRA/SRB (0x3F0/0x3F1) are not implemented and read FFh; undriven DIR/TDR bits read 0; DOR bit 3
 * gates IRQ6 and DRQ2. The motor enables are latched but a transfer does not wait for spin-up; a data rate
 * that does not match the media fails like real hardware (ST1 MA). A drive without media fails reads at
 * once with ST1 MA, where real hardware would wait for index pulses that never come.
 */
import type { DeviceState, IoDevice, IrqLine, PortRange, Stateful } from './device.ts';
import { stateBoolean, stateBytes, stateNumber } from './device.ts';
import type { BlockDevice } from './block-device.ts';
import { SECTOR_SIZE } from './block-device.ts';
import type { IsaDma } from './dma8237.ts';
import { FDC_RATE_250K, FloppyDrive } from './floppy-82077aa-drive.ts';
import * as F from './floppy-82077aa-constants.ts';

const PHASE_COMMAND = 0;
const PHASE_EXECUTION = 1;
const PHASE_RESULT = 2;
const EXEC_NONE = 0;
const EXEC_READ = 1;
const EXEC_WRITE = 2;
const EXEC_FORMAT = 3;

export interface Floppy82077aaOptions {
  /** Base port (0x3F0 primary, 0x370 secondary). */
  base?: number;
  dmaChannel?: number;
  /** Drives fitted, 1-4 (default 2: A: and B:). */
  drives?: number;
}

export class Floppy82077aa implements IoDevice, Stateful {
  readonly name = 'fdc-82077aa';
  readonly portRanges: readonly PortRange[];
  /** Drive positions 0-3; null where no drive is fitted. */
  readonly drives: readonly (FloppyDrive | null)[];
  private readonly base: number;
  private readonly dmaChannel: number;

  private dor = 0;
  private tdr = 0;
  private dataRate = FDC_RATE_250K;
  private precompensation = 0;
  private phase = PHASE_COMMAND;
  private readonly command = new Uint8Array(9);
  private commandPos = 0;
  private readonly result = new Uint8Array(10);
  private resultLength = 0;
  private resultPos = 0;
  /** INT from a result phase (cleared by reading it) or from a reset (cleared by SENSE INTERRUPT STATUS). */
  private intPending = false;
  /** Polling status still to be reported after a reset (4 drives, one per SENSE INTERRUPT STATUS). */
  private resetSensesLeft = 0;
  /** Drives (bit mask) whose SEEK/RECALIBRATE ended: INT stays up until SENSE INTERRUPT STATUS takes each. */
  private seekPending = 0;
  private readonly seekStatus = new Uint8Array(4);
  private specifyStepHeadUnload = 0;
  private specifyHeadLoadNonDma = 0;
  private config = F.FDC_CONFIG_DEFAULT;
  private precompTrack = 0;
  private locked = false;
  private perpendicular = 0;
  private lastEot = 0;

  // Execution phase of READ DATA / WRITE DATA / FORMAT TRACK.
  private execKind = EXEC_NONE;
  private execDrive = 0;
  private execHead = 0;
  /** ST0 bits gathered during execution (SE after an implied seek). */
  private execSt0 = 0;
  private execC = 0;
  private execH = 0;
  private execR = 0;
  private execN = 0;
  private execEot = 0;
  private execMultiTrack = false;
  /** Non-DMA mode: sector index being filled or emptied through the FIFO. */
  private execSector = 0;
  private formatLeft = 0;
  private formatFill = 0;
  private readonly buffer = new Uint8Array(SECTOR_SIZE);
  private dataPos = 0;
  // Error bits found by locate().
  private errorSt1 = 0;
  private errorSt2 = 0;

  constructor(
    private readonly irq: IrqLine,
    private readonly dma: IsaDma,
    options: Floppy82077aaOptions = {},
  ) {
    this.base = options.base ?? 0x3f0;
    this.dmaChannel = options.dmaChannel ?? 2;
    const fitted = options.drives ?? 2;
    if (!Number.isInteger(fitted) || fitted < 1 || fitted > 4)
      throw new Error('an 82077AA drives 1 to 4 drives');
    this.drives = [0, 1, 2, 3].map((i) => (i < fitted ? new FloppyDrive() : null));
    this.portRanges = [
      { start: this.base, length: 6 },
      { start: this.base + F.FDC_REG_DIR_CCR, length: 1 },
    ];
    this.reset();
  }

  insertMedia(drive: number, media: BlockDevice): void {
    this.fittedDrive(drive).insert(media);
  }

  ejectMedia(drive: number): void {
    this.fittedDrive(drive).eject();
  }

  private fittedDrive(drive: number): FloppyDrive {
    const d = this.drives[drive];
    if (!d) throw new Error(`no floppy drive ${drive}`);
    return d;
  }

  /** Hardware reset: the RESET pin clears DOR, so the controller stays in reset until DOR bit 2 is set. */
  reset(): void {
    this.dor = 0;
    this.tdr = 0;
    this.dataRate = FDC_RATE_250K;
    this.precompensation = 0;
    this.specifyStepHeadUnload = 0;
    this.specifyHeadLoadNonDma = 0;
    this.locked = false;
    this.perpendicular = 0;
    this.lastEot = 0;
    for (const d of this.drives) d?.powerOn();
    this.enterReset();
  }

  /** Controller reset (DOR bit 2 low or DSR bit 7): LOCK keeps EFIFO, FIFOTHR and PRETRK. */
  private enterReset(): void {
    this.phase = PHASE_COMMAND;
    this.commandPos = 0;
    this.resultLength = this.resultPos = 0;
    this.execKind = EXEC_NONE;
    this.intPending = false;
    this.resetSensesLeft = 0;
    this.seekPending = 0;
    if (this.locked) {
      this.config &= F.FDC_CONFIG_EFIFO | F.FDC_CONFIG_FIFOTHR;
    } else {
      this.config = F.FDC_CONFIG_DEFAULT;
      this.precompTrack = 0;
    }
    this.perpendicular &= ~0x03; // GAP and WGATE
    this.updateIrq();
  }

  /** Leaving reset with polling enabled: a ready-change interrupt and four drive statuses to sense. */
  private leaveReset(): void {
    this.resetSensesLeft = 4;
    this.intPending = true;
    this.updateIrq();
  }

  private inReset(): boolean {
    return (this.dor & F.FDC_DOR_NRESET) === 0;
  }

  private dmaMode(): boolean {
    return (this.specifyHeadLoadNonDma & 1) === 0;
  }

  /** IRQ6: INT (or a non-DMA data request) gated by DOR bit 3 in AT mode. */
  private updateIrq(): void {
    const wanted = this.intPending || this.seekPending !== 0 || this.phase === PHASE_EXECUTION;
    this.irq.set(wanted && (this.dor & F.FDC_DOR_DMA_GATE) !== 0);
  }

  read8(port: number): number {
    switch (port - this.base) {
      case F.FDC_REG_DOR:
        return this.dor;
      case F.FDC_REG_TDR:
        return this.tdr;
      case F.FDC_REG_MSR_DSR:
        return this.mainStatus();
      case F.FDC_REG_FIFO:
        return this.readFifo();
      case F.FDC_REG_DIR_CCR:
        return this.drives[this.dor & F.FDC_DOR_DRIVE_MASK]?.diskChanged ? F.FDC_DIR_DSKCHG : 0;
      default:
        return 0xff; // SRA/SRB: PS/2 mode only
    }
  }

  write8(port: number, value: number): void {
    value &= 0xff;
    switch (port - this.base) {
      case F.FDC_REG_DOR:
        this.writeDor(value);
        break;
      case F.FDC_REG_TDR:
        this.tdr = value & 0x03;
        break;
      case F.FDC_REG_MSR_DSR:
        this.dataRate = value & 0x03;
        this.precompensation = (value >> 2) & 0x07;
        if (value & F.FDC_DSR_SW_RESET && !this.inReset()) {
          this.enterReset(); // self-clearing reset pulse
          this.leaveReset();
        }
        break;
      case F.FDC_REG_FIFO:
        this.writeFifo(value);
        break;
      case F.FDC_REG_DIR_CCR:
        this.dataRate = value & 0x03;
        break;
    }
  }

  private writeDor(value: number): void {
    const wasReset = this.inReset();
    this.dor = value;
    if (!wasReset && this.inReset()) this.enterReset();
    else if (wasReset && !this.inReset()) this.leaveReset();
    this.updateIrq();
  }

  private mainStatus(): number {
    if (this.inReset()) return 0;
    switch (this.phase) {
      case PHASE_RESULT:
        return F.FDC_MSR_RQM | F.FDC_MSR_DIO | F.FDC_MSR_CMD_BUSY;
      case PHASE_EXECUTION: {
        const dio = this.execKind === EXEC_READ ? F.FDC_MSR_DIO : 0;
        return F.FDC_MSR_RQM | F.FDC_MSR_NON_DMA | F.FDC_MSR_CMD_BUSY | dio;
      }
      default:
        return F.FDC_MSR_RQM | (this.commandPos > 0 ? F.FDC_MSR_CMD_BUSY : 0);
    }
  }

  private readFifo(): number {
    if (this.phase === PHASE_RESULT) {
      const value = this.result[this.resultPos++];
      this.intPending = false; // reading the result phase clears INT
      if (this.resultPos >= this.resultLength) {
        this.phase = PHASE_COMMAND;
        this.commandPos = 0;
      }
      this.updateIrq();
      return value;
    }
    if (this.phase === PHASE_EXECUTION && this.execKind === EXEC_READ) {
      const value = this.buffer[this.dataPos++];
      if (this.dataPos === SECTOR_SIZE && !this.advance(false)) this.pioNextSector();
      return value;
    }
    return 0;
  }

  private writeFifo(value: number): void {
    if (this.inReset()) return;
    if (this.phase === PHASE_EXECUTION) {
      if (this.execKind === EXEC_WRITE) {
        this.buffer[this.dataPos++] = value;
        if (this.dataPos === SECTOR_SIZE) {
          const drive = this.mediaReady(); // the disk may have been ejected mid-command
          if (drive === null) return this.finish(F.FDC_ST0_IC_ABNORMAL, F.FDC_ST1_MA, 0);
          drive.media!.write(this.execSector, 1, this.buffer, 0);
          if (!this.advance(false)) this.pioNextSector();
        }
      } else if (this.execKind === EXEC_FORMAT) {
        this.buffer[this.dataPos++] = value;
        if (this.dataPos === 4) {
          this.formatSector();
          this.dataPos = 0;
          if (--this.formatLeft === 0) this.finish(F.FDC_ST0_IC_NORMAL, 0, 0);
        }
      }
      return;
    }
    if (this.phase !== PHASE_COMMAND) return; // result phase: the host should be reading
    if (this.commandPos === 0 && F.fdcCommandLength(value) === 0) {
      this.setResult([F.FDC_ST0_IC_INVALID]); // invalid opcode: one-byte result, no interrupt
      return;
    }
    this.command[this.commandPos++] = value;
    if (this.commandPos === F.fdcCommandLength(this.command[0])) this.executeCommand();
  }

  private setResult(bytes: readonly number[]): void {
    this.result.set(bytes);
    this.resultLength = bytes.length;
    this.resultPos = 0;
    this.phase = PHASE_RESULT;
    this.commandPos = 0;
  }

  /** Back to the command phase for commands without a result phase. */
  private idle(): void {
    this.phase = PHASE_COMMAND;
    this.commandPos = 0;
  }

  private executeCommand(): void {
    const cmd = this.command;
    const op = cmd[0];
    if ((op & 0x1f) === F.FDC_CMD_READ_DATA) return this.startTransfer(EXEC_READ);
    if ((op & 0x3f) === F.FDC_CMD_WRITE_DATA) return this.startTransfer(EXEC_WRITE);
    if ((op & 0xbf) === F.FDC_CMD_FORMAT_TRACK) return this.startTransfer(EXEC_FORMAT);
    if ((op & 0xbf) === F.FDC_CMD_READ_ID) return this.readId();
    if ((op & 0xbf) === F.FDC_CMD_RELATIVE_SEEK) {
      const drive = this.drives[cmd[1] & 3];
      const from = drive?.cylinder ?? 0;
      const to = op & 0x40 ? Math.min(255, from + cmd[2]) : Math.max(0, from - cmd[2]);
      return this.seekEnd(cmd[1], to);
    }
    if ((op & 0x7f) === F.FDC_CMD_LOCK) {
      this.locked = (op & 0x80) !== 0;
      return this.setResult([this.locked ? 0x10 : 0]);
    }
    switch (op) {
      case F.FDC_CMD_SPECIFY:
        this.specifyStepHeadUnload = cmd[1];
        this.specifyHeadLoadNonDma = cmd[2];
        return this.idle();
      case F.FDC_CMD_SENSE_DRIVE_STATUS: {
        const drive = this.drives[cmd[1] & 3];
        let st3 = F.FDC_ST3_ONE_5 | F.FDC_ST3_ONE_3 | (cmd[1] & 0x07);
        if (drive?.writeProtected) st3 |= F.FDC_ST3_WP;
        if (drive && drive.cylinder === 0) st3 |= F.FDC_ST3_T0;
        return this.setResult([st3]);
      }
      case F.FDC_CMD_RECALIBRATE: {
        const ds = cmd[1] & 3;
        const drive = this.drives[ds];
        if (!drive) {
          // No TRK0 signal ever comes back: equipment check.
          this.seekStatus[ds] = F.FDC_ST0_IC_ABNORMAL | F.FDC_ST0_SE | F.FDC_ST0_EC | ds;
          this.seekPending |= 1 << ds;
          this.updateIrq();
          return this.idle();
        }
        return this.seekEnd(ds, 0);
      }
      case F.FDC_CMD_SEEK:
        return this.seekEnd(cmd[1], cmd[2]);
      case F.FDC_CMD_SENSE_INTERRUPT:
        return this.senseInterrupt();
      case F.FDC_CMD_VERSION:
        return this.setResult([F.FDC_VERSION_82077AA]);
      case F.FDC_CMD_PERPENDICULAR_MODE:
        // OW (bit 7) gates the drive bits D3-D0; GAP and WGATE are always written.
        this.perpendicular = cmd[1] & 0x80 ? cmd[1] & 0x3f : (this.perpendicular & 0x3c) | (cmd[1] & 0x03);
        return this.idle();
      case F.FDC_CMD_CONFIGURE:
        this.config = cmd[2] & 0x7f;
        this.precompTrack = cmd[3];
        return this.idle();
      case F.FDC_CMD_DUMPREG: {
        const pcn = this.drives.map((d) => d?.cylinder ?? 0);
        return this.setResult([
          ...pcn,
          this.specifyStepHeadUnload,
          this.specifyHeadLoadNonDma,
          this.lastEot,
          (this.locked ? 0x80 : 0) | (this.perpendicular & 0x3f),
          this.config,
          this.precompTrack,
        ]);
      }
    }
  }

  /** SEEK / RECALIBRATE end: the head is moved at once; SENSE INTERRUPT STATUS collects the result. */
  private seekEnd(headDrive: number, cylinder: number): void {
    const ds = headDrive & 3;
    this.drives[ds]?.stepTo(cylinder);
    this.seekStatus[ds] = F.FDC_ST0_SE | (headDrive & 0x07);
    this.seekPending |= 1 << ds;
    this.updateIrq();
    this.idle();
  }

  private senseInterrupt(): void {
    if (this.resetSensesLeft > 0) {
      const ds = 4 - this.resetSensesLeft--;
      this.intPending = false;
      this.updateIrq();
      return this.setResult([F.FDC_ST0_IC_POLLING | ds, this.drives[ds]?.cylinder ?? 0]);
    }
    if (this.seekPending !== 0) {
      const ds = [0, 1, 2, 3].find((i) => this.seekPending & (1 << i))!;
      this.seekPending &= ~(1 << ds);
      this.updateIrq();
      return this.setResult([this.seekStatus[ds], this.drives[ds]?.cylinder ?? 0]);
    }
    this.setResult([F.FDC_ST0_IC_INVALID]); // nothing to report: SENSE INTERRUPT STATUS is invalid here
  }

  // ---- Data transfer commands ----

  /** The drive and media for a transfer, or null when no ID field can be found at all (ST1 MA). */
  private mediaReady(): FloppyDrive | null {
    const drive = this.drives[this.execDrive];
    if (!drive?.format) return null;
    // Our images are MFM; FM (MFM bit clear) or a wrong data rate never finds an address mark.
    if (!(this.command[0] & F.FDC_CMD_MFM) || drive.format.rate !== this.dataRate) return null;
    if (drive.cylinder >= drive.format.cylinders || this.execHead >= drive.format.heads) return null;
    return drive;
  }

  private startTransfer(kind: number): void {
    const cmd = this.command;
    this.execDrive = cmd[1] & 3;
    this.execHead = (cmd[1] >> 2) & 1;
    this.execSt0 = 0;
    this.execMultiTrack = kind !== EXEC_FORMAT && (cmd[0] & F.FDC_CMD_MT) !== 0;
    if (kind === EXEC_FORMAT) {
      // FORMAT TRACK: N, SC, GPL, D. The result's C/H/R/N are those of the last ID written.
      this.execN = cmd[2];
      this.formatLeft = cmd[3];
      this.formatFill = cmd[5];
      this.execC = this.drives[this.execDrive]?.cylinder ?? 0;
      this.execH = this.execHead;
      this.execR = 0;
    } else {
      this.execC = cmd[2];
      this.execH = cmd[3];
      this.execR = cmd[4];
      this.execN = cmd[5];
      this.execEot = cmd[6];
      this.lastEot = cmd[6];
    }
    const implied = this.drives[this.execDrive];
    if (
      kind !== EXEC_FORMAT &&
      implied &&
      this.config & F.FDC_CONFIG_EIS &&
      implied.cylinder !== this.execC
    ) {
      implied.stepTo(this.execC); // implied seek
      this.execSt0 |= F.FDC_ST0_SE;
    }
    const drive = this.mediaReady();
    if (drive === null) return this.finish(F.FDC_ST0_IC_ABNORMAL, F.FDC_ST1_MA, 0);
    if (kind !== EXEC_READ && drive.writeProtected)
      return this.finish(F.FDC_ST0_IC_ABNORMAL, F.FDC_ST1_NW, 0);
    if (kind === EXEC_FORMAT && this.formatLeft === 0) return this.finish(F.FDC_ST0_IC_NORMAL, 0, 0);
    this.execKind = kind;
    this.dataPos = 0;
    if (!this.dmaMode()) {
      this.phase = PHASE_EXECUTION;
      if (kind === EXEC_FORMAT) this.updateIrq();
      else this.pioNextSector();
      return;
    }
    if (kind === EXEC_FORMAT) this.runFormatDma();
    else this.runDma(drive);
  }

  /** Index of the sector whose ID matches (C, H, R, N) under the head; -1 with errorSt1/errorSt2 set. */
  private locate(drive: FloppyDrive): number {
    const f = drive.format!;
    this.errorSt2 = 0;
    if (this.execC !== drive.cylinder) {
      this.errorSt1 = F.FDC_ST1_ND;
      this.errorSt2 = this.execC === 0xff ? F.FDC_ST2_BC : F.FDC_ST2_WC;
      return -1;
    }
    if (this.execH !== this.execHead || this.execR < 1 || this.execR > f.sectorsPerTrack) {
      this.errorSt1 = F.FDC_ST1_ND;
      return -1;
    }
    if (this.execN !== F.FDC_SIZE_CODE_512) {
      this.errorSt1 = F.FDC_ST1_ND;
      return -1;
    }
    drive.lastSector = this.execR;
    return (drive.cylinder * f.heads + this.execHead) * f.sectorsPerTrack + this.execR - 1;
  }

  /** DMA mode: move sectors until terminal count, the end of the cylinder, or an error. */
  private runDma(drive: FloppyDrive): void {
    const media = drive.media!;
    for (;;) {
      const index = this.locate(drive);
      if (index < 0) return this.finish(F.FDC_ST0_IC_ABNORMAL, this.errorSt1, this.errorSt2);
      const write = this.execKind === EXEC_WRITE;
      if (!write) media.read(index, 1, this.buffer, 0);
      const moved = this.dmaTransfer(this.buffer, SECTOR_SIZE, !write);
      const tc = this.dmaTerminalCount();
      if (moved < SECTOR_SIZE && !tc) return this.finish(F.FDC_ST0_IC_ABNORMAL, F.FDC_ST1_OR, 0); // DMA not serviced
      if (write) {
        this.buffer.fill(0, moved); // TC inside a sector: the rest is written as zeros
        media.write(index, 1, this.buffer, 0);
      }
      if (this.advance(tc)) return;
    }
  }

  private dmaTransfer(buffer: Uint8Array, length: number, toMemory: boolean): number {
    if (!(this.dor & F.FDC_DOR_DMA_GATE)) return 0; // DRQ is gated off in AT mode
    return this.dma.transfer(this.dmaChannel, buffer, 0, length, toMemory);
  }

  private dmaTerminalCount(): boolean {
    return (this.dor & F.FDC_DOR_DMA_GATE) !== 0 && this.dma.reachedTerminalCount(this.dmaChannel);
  }

  /** Non-DMA mode: locate the next sector and load it (reads) or wait for its bytes (writes). */
  private pioNextSector(): void {
    const drive = this.mediaReady();
    if (drive === null) return this.finish(F.FDC_ST0_IC_ABNORMAL, F.FDC_ST1_MA, 0);
    const index = this.locate(drive);
    if (index < 0) return this.finish(F.FDC_ST0_IC_ABNORMAL, this.errorSt1, this.errorSt2);
    this.execSector = index;
    if (this.execKind === EXEC_READ) drive.media!.read(index, 1, this.buffer, 0);
    this.dataPos = 0;
    this.updateIrq();
  }

  /**
   * After a sector: steps C/H/R as the datasheet's result-phase table says and ends the command on terminal
   * count, or with EN at the end of the cylinder (C/H/R left at the last sector). True when finished.
   */
  private advance(tc: boolean): boolean {
    if (this.execR !== this.execEot) {
      this.execR++;
      if (tc) this.finish(F.FDC_ST0_IC_NORMAL, 0, 0);
      return tc;
    }
    if (this.execMultiTrack && this.execHead === 0) {
      // Multi-track: continue with sector 1 of side 1 (LSB of H complemented).
      this.execH ^= 1;
      this.execR = 1;
      if (tc) {
        this.finish(F.FDC_ST0_IC_NORMAL, 0, 0);
        return true;
      }
      this.execHead = 1;
      return false;
    }
    if (!tc) {
      this.finish(F.FDC_ST0_IC_ABNORMAL, F.FDC_ST1_EN, 0);
      return true;
    }
    this.execC++;
    this.execR = 1;
    if (this.execMultiTrack) this.execH ^= 1;
    this.finish(F.FDC_ST0_IC_NORMAL, 0, 0);
    return true;
  }

  private runFormatDma(): void {
    while (this.formatLeft > 0) {
      const moved = this.dmaTransfer(this.buffer, 4, false);
      const tc = this.dmaTerminalCount();
      if (moved < 4 && !tc) return this.finish(F.FDC_ST0_IC_ABNORMAL, F.FDC_ST1_OR, 0);
      this.formatSector();
      this.formatLeft--;
      if (tc) break;
    }
    this.finish(F.FDC_ST0_IC_NORMAL, 0, 0);
  }

  /**
   * Writes one sector of a track being formatted from its ID (C, H, R, N in buffer[0..3]) filled with the
   * fill byte; the buffer is reused for the sector data. A flat image cannot hold another layout, so IDs outside the media geometry are dropped.
   */
  private formatSector(): void {
    const drive = this.mediaReady();
    if (drive === null) return;
    const f = drive.format!;
    const [c, h, r, n] = this.buffer;
    this.execC = c;
    this.execH = h;
    this.execR = r;
    this.execN = n;
    if (
      c !== drive.cylinder ||
      h !== this.execHead ||
      n !== F.FDC_SIZE_CODE_512 ||
      r < 1 ||
      r > f.sectorsPerTrack
    )
      return;
    const index = (drive.cylinder * f.heads + this.execHead) * f.sectorsPerTrack + r - 1;
    this.buffer.fill(this.formatFill);
    drive.media!.write(index, 1, this.buffer, 0);
  }

  private readId(): void {
    this.execDrive = this.command[1] & 3;
    this.execHead = (this.command[1] >> 2) & 1;
    this.execSt0 = 0;
    const drive = this.mediaReady();
    this.execC = this.drives[this.execDrive]?.cylinder ?? 0;
    this.execH = this.execHead;
    this.execN = F.FDC_SIZE_CODE_512;
    if (drive === null) {
      this.execR = 0;
      return this.finish(F.FDC_ST0_IC_ABNORMAL, F.FDC_ST1_MA, 0);
    }
    // The disk keeps turning: report the sector after the last one that passed under the head.
    this.execR = (drive.lastSector % drive.format!.sectorsPerTrack) + 1;
    drive.lastSector = this.execR;
    this.finish(F.FDC_ST0_IC_NORMAL, 0, 0);
  }

  /** Result phase of a transfer command: ST0, ST1, ST2, C, H, R, N, with an interrupt. */
  private finish(ic: number, st1: number, st2: number): void {
    this.execKind = EXEC_NONE;
    const st0 = ic | this.execSt0 | (this.execHead << 2) | this.execDrive;
    this.setResult([st0, st1, st2, this.execC & 0xff, this.execH, this.execR & 0xff, this.execN]);
    this.intPending = true;
    this.updateIrq();
  }

  // ---- State ----

  saveState(): DeviceState {
    return {
      dor: this.dor,
      tdr: this.tdr,
      dataRate: this.dataRate,
      precompensation: this.precompensation,
      phase: this.phase,
      command: this.command.slice(),
      commandPos: this.commandPos,
      result: this.result.slice(),
      resultLength: this.resultLength,
      resultPos: this.resultPos,
      intPending: this.intPending,
      resetSensesLeft: this.resetSensesLeft,
      seekPending: this.seekPending,
      seekStatus: this.seekStatus.slice(),
      specifyStepHeadUnload: this.specifyStepHeadUnload,
      specifyHeadLoadNonDma: this.specifyHeadLoadNonDma,
      config: this.config,
      precompTrack: this.precompTrack,
      locked: this.locked,
      perpendicular: this.perpendicular,
      lastEot: this.lastEot,
      execKind: this.execKind,
      execDrive: this.execDrive,
      execHead: this.execHead,
      execSt0: this.execSt0,
      execC: this.execC,
      execH: this.execH,
      execR: this.execR,
      execN: this.execN,
      execEot: this.execEot,
      execMultiTrack: this.execMultiTrack,
      execSector: this.execSector,
      formatLeft: this.formatLeft,
      formatFill: this.formatFill,
      buffer: this.buffer.slice(),
      dataPos: this.dataPos,
      drives: this.drives.map((d) => d?.saveState() ?? null),
    };
  }

  loadState(state: DeviceState): void {
    const int = (field: string, max: number, min = 0): number => {
      const v = stateNumber(state, field);
      if (!Number.isInteger(v) || v < min || v > max)
        throw new Error(`state field '${field}' is out of range`);
      return v;
    };
    const bool = (field: string): boolean => stateBoolean(state, field);
    const drivesState = state.drives;
    if (!Array.isArray(drivesState) || drivesState.length !== 4) {
      throw new Error(`state field 'drives' is not an array of 4 drive positions`);
    }
    const applyDrives = this.drives.map((d, i) => {
      const s = drivesState[i];
      if (d === null) {
        if (s !== null) throw new Error(`state field 'drives[${i}]' describes a drive that is not fitted`);
        return () => {};
      }
      if (s === null || typeof s !== 'object' || Array.isArray(s) || ArrayBuffer.isView(s)) {
        throw new Error(`state field 'drives[${i}]' is not a drive state`);
      }
      return d.prepareLoad(s as DeviceState, `drives[${i}]`);
    });
    const phase = int('phase', PHASE_RESULT);
    const execKind = int('execKind', EXEC_FORMAT);
    if (phase === PHASE_EXECUTION && execKind === EXEC_NONE) {
      throw new Error(`state field 'execKind' must name a transfer during the execution phase`);
    }
    const values = {
      dor: int('dor', 0xff),
      tdr: int('tdr', 3),
      dataRate: int('dataRate', 3),
      precompensation: int('precompensation', 7),
      commandPos: int('commandPos', 9),
      resultLength: int('resultLength', 10),
      resetSensesLeft: int('resetSensesLeft', 4),
      seekPending: int('seekPending', 0x0f),
      specifyStepHeadUnload: int('specifyStepHeadUnload', 0xff),
      specifyHeadLoadNonDma: int('specifyHeadLoadNonDma', 0xff),
      config: int('config', 0x7f),
      precompTrack: int('precompTrack', 0xff),
      perpendicular: int('perpendicular', 0x3f),
      lastEot: int('lastEot', 0xff),
      execDrive: int('execDrive', 3),
      execHead: int('execHead', 1),
      execSt0: int('execSt0', 0xff),
      execC: int('execC', 0x100),
      execH: int('execH', 0xff),
      execR: int('execR', 0x100),
      execN: int('execN', 0xff),
      execEot: int('execEot', 0xff),
      execSector: int('execSector', 0x7fffffff),
      formatLeft: int('formatLeft', 0xff),
      formatFill: int('formatFill', 0xff),
      // A command that ends on a sector's last byte leaves dataPos at SECTOR_SIZE (result phase).
      dataPos: int('dataPos', SECTOR_SIZE),
    };
    if (phase === PHASE_EXECUTION && values.dataPos === SECTOR_SIZE) {
      throw new Error(`state field 'dataPos' is past the sector during the execution phase`);
    }
    const resultPos = int('resultPos', values.resultLength);
    const intPending = bool('intPending');
    const locked = bool('locked');
    const execMultiTrack = bool('execMultiTrack');
    const command = stateBytes(state, 'command', 9);
    const result = stateBytes(state, 'result', 10);
    const seekStatus = stateBytes(state, 'seekStatus', 4);
    const buffer = stateBytes(state, 'buffer', SECTOR_SIZE);

    Object.assign(this, values);
    this.phase = phase;
    this.execKind = execKind;
    this.resultPos = resultPos;
    this.intPending = intPending;
    this.locked = locked;
    this.execMultiTrack = execMultiTrack;
    this.command.set(command);
    this.result.set(result);
    this.seekStatus.set(seekStatus);
    this.buffer.set(buffer);
    for (const apply of applyDrives) apply();
    this.updateIrq();
  }
}
