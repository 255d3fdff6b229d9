/**
 * Intel 82077AA register, bit and command names (82077AA datasheet, Intel 290166: register descriptions,
 * command set summary, status register tables ST0-ST3). Shared by floppy-82077aa.ts and its tests.
 */

// Register offsets from the base (0x3F0).
export const FDC_REG_SRA = 0;
export const FDC_REG_SRB = 1;
export const FDC_REG_DOR = 2;
export const FDC_REG_TDR = 3;
/** Read: MSR. Write: DSR. */
export const FDC_REG_MSR_DSR = 4;
export const FDC_REG_FIFO = 5;
/** Read: DIR. Write: CCR. */
export const FDC_REG_DIR_CCR = 7;

// Digital output register.
export const FDC_DOR_DRIVE_MASK = 0x03;
/** 0 holds the controller in reset. */
export const FDC_DOR_NRESET = 0x04;
/** AT mode: enables the IRQ and DRQ outputs. */
export const FDC_DOR_DMA_GATE = 0x08;
/** Motor enable for drive 0; drive n is this << n. */
export const FDC_DOR_MOTOR0 = 0x10;

// Main status register.
export const FDC_MSR_RQM = 0x80;
export const FDC_MSR_DIO = 0x40;
export const FDC_MSR_NON_DMA = 0x20;
export const FDC_MSR_CMD_BUSY = 0x10;

// Data rate select register.
export const FDC_DSR_SW_RESET = 0x80;
export const FDC_DSR_POWER_DOWN = 0x40;
export const FDC_DIR_DSKCHG = 0x80;

// Status register 0.
export const FDC_ST0_IC_NORMAL = 0x00;
export const FDC_ST0_IC_ABNORMAL = 0x40;
export const FDC_ST0_IC_INVALID = 0x80;
/** Abnormal termination caused by polling: the drive status after a reset. */
export const FDC_ST0_IC_POLLING = 0xc0;
export const FDC_ST0_SE = 0x20;
export const FDC_ST0_EC = 0x10;
export const FDC_ST0_HEAD = 0x04;
// Status register 1.
export const FDC_ST1_EN = 0x80;
export const FDC_ST1_DE = 0x20;
export const FDC_ST1_OR = 0x10;
export const FDC_ST1_ND = 0x04;
export const FDC_ST1_NW = 0x02;
export const FDC_ST1_MA = 0x01;
// Status register 2.
export const FDC_ST2_WC = 0x10;
export const FDC_ST2_BC = 0x02;
// Status register 3 (bits 5 and 3 always read 1 on the 82077AA).
export const FDC_ST3_WP = 0x40;
export const FDC_ST3_ONE_5 = 0x20;
export const FDC_ST3_T0 = 0x10;
export const FDC_ST3_ONE_3 = 0x08;
export const FDC_ST3_HD = 0x04;

// Command opcodes (low bits; MT/MFM/SK flags above them).
export const FDC_CMD_MT = 0x80;
export const FDC_CMD_MFM = 0x40;
export const FDC_CMD_SK = 0x20;
export const FDC_CMD_SPECIFY = 0x03;
export const FDC_CMD_SENSE_DRIVE_STATUS = 0x04;
export const FDC_CMD_WRITE_DATA = 0x05;
export const FDC_CMD_READ_DATA = 0x06;
export const FDC_CMD_RECALIBRATE = 0x07;
export const FDC_CMD_SENSE_INTERRUPT = 0x08;
export const FDC_CMD_READ_ID = 0x0a;
export const FDC_CMD_FORMAT_TRACK = 0x0d;
export const FDC_CMD_DUMPREG = 0x0e;
export const FDC_CMD_SEEK = 0x0f;
export const FDC_CMD_VERSION = 0x10;
export const FDC_CMD_PERPENDICULAR_MODE = 0x12;
export const FDC_CMD_CONFIGURE = 0x13;
export const FDC_CMD_LOCK = 0x14;
/** RELATIVE SEEK: 0x8F, bit 6 = direction (1 = towards higher cylinders). */
export const FDC_CMD_RELATIVE_SEEK = 0x8f;

/** VERSION result: 82077AA (an 8272A answers 80h, i.e. "invalid"). */
export const FDC_VERSION_82077AA = 0x90;
// CONFIGURE byte 2.
export const FDC_CONFIG_EIS = 0x40;
/** 1 = FIFO disabled (the power-on default). */
export const FDC_CONFIG_EFIFO = 0x20;
/** 1 = drive polling disabled. */
export const FDC_CONFIG_POLL = 0x10;
export const FDC_CONFIG_FIFOTHR = 0x0f;
/** CONFIGURE byte 2 after reset: implied seek off, FIFO disabled, polling on, threshold 1. */
export const FDC_CONFIG_DEFAULT = FDC_CONFIG_EFIFO;

/** Bytes in a command, from its first byte; 0 = invalid opcode. */
export function fdcCommandLength(op: number): number {
  if ((op & 0x1f) === FDC_CMD_READ_DATA) return 9;
  if ((op & 0x3f) === FDC_CMD_WRITE_DATA) return 9;
  if ((op & 0xbf) === FDC_CMD_READ_ID) return 2;
  if ((op & 0xbf) === FDC_CMD_FORMAT_TRACK) return 6;
  if ((op & 0xbf) === FDC_CMD_RELATIVE_SEEK) return 3;
  if ((op & 0x7f) === FDC_CMD_LOCK) return 1;
  switch (op) {
    case FDC_CMD_SPECIFY:
    case FDC_CMD_SEEK:
      return 3;
    case FDC_CMD_SENSE_DRIVE_STATUS:
    case FDC_CMD_RECALIBRATE:
    case FDC_CMD_PERPENDICULAR_MODE:
      return 2;
    case FDC_CMD_SENSE_INTERRUPT:
    case FDC_CMD_VERSION:
    case FDC_CMD_DUMPREG:
      return 1;
    case FDC_CMD_CONFIGURE:
      return 4;
    default:
      return 0;
  }
}

/** Sector size code N for 512-byte sectors, the only size our images hold. */
export const FDC_SIZE_CODE_512 = 2;
