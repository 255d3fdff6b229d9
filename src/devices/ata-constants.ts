/**
 * ATA register, bit and command names, from ATA/ATAPI-6 (T13/1410D) section 7 (register descriptions) and
 * section 8 (command descriptions); LBA48 per the same revision. Shared by ata.ts and ata-disk.ts.
 */

// Command block register offsets from the channel base (0x1F0 / 0x170).
export const ATA_REG_DATA = 0;
/** Read: Error. Write: Features. */
export const ATA_REG_ERROR_FEATURES = 1;
export const ATA_REG_SECTOR_COUNT = 2;
/** LBA low / sector number. */
export const ATA_REG_LBA_LOW = 3;
/** LBA mid / cylinder low. */
export const ATA_REG_LBA_MID = 4;
/** LBA high / cylinder high. */
export const ATA_REG_LBA_HIGH = 5;
export const ATA_REG_DEVICE = 6;
/** Read: Status (acknowledges INTRQ). Write: Command. */
export const ATA_REG_STATUS_COMMAND = 7;

// Status register (7.15).
export const ATA_SR_BSY = 0x80;
export const ATA_SR_DRDY = 0x40;
export const ATA_SR_DF = 0x20;
/** Device seek complete (obsolete since ATA-4 but still set by drives and tested by old BIOSes). */
export const ATA_SR_DSC = 0x10;
export const ATA_SR_DRQ = 0x08;
export const ATA_SR_CORR = 0x04;
export const ATA_SR_IDX = 0x02;
export const ATA_SR_ERR = 0x01;

// Error register (7.9).
export const ATA_ER_ICRC = 0x80;
export const ATA_ER_UNC = 0x40;
export const ATA_ER_MC = 0x20;
export const ATA_ER_IDNF = 0x10;
export const ATA_ER_MCR = 0x08;
export const ATA_ER_ABRT = 0x04;
export const ATA_ER_TK0NF = 0x02;
export const ATA_ER_AMNF = 0x01;

// Device register (7.7).
/** Bit 6: the address is an LBA, not CHS. */
export const ATA_DEV_LBA = 0x40;
/** Bit 4: selects device 1 (slave). */
export const ATA_DEV_DEV = 0x10;
/** Bits 3-0: head number (CHS) or LBA bits 27-24 (LBA28). */
export const ATA_DEV_HEAD_MASK = 0x0f;

// Device control register (7.8), written at 0x3F6 / 0x376.
export const ATA_DC_NIEN = 0x02;
export const ATA_DC_SRST = 0x04;
/** High order byte: register reads return the previously written ("HOB") byte of the LBA48 FIFOs. */
export const ATA_DC_HOB = 0x80;

// Commands (section 8; opcodes from the command matrix, annex).
export const ATA_CMD_NOP = 0x00;
export const ATA_CMD_RECALIBRATE = 0x10; // 0x10-0x1F all recalibrate (obsolete range)
export const ATA_CMD_READ_SECTORS = 0x20;
export const ATA_CMD_READ_SECTORS_NORETRY = 0x21;
export const ATA_CMD_READ_SECTORS_EXT = 0x24;
export const ATA_CMD_READ_MULTIPLE_EXT = 0x29;
export const ATA_CMD_WRITE_SECTORS = 0x30;
export const ATA_CMD_WRITE_SECTORS_NORETRY = 0x31;
export const ATA_CMD_WRITE_SECTORS_EXT = 0x34;
export const ATA_CMD_WRITE_MULTIPLE_EXT = 0x39;
export const ATA_CMD_READ_VERIFY = 0x40;
export const ATA_CMD_READ_VERIFY_NORETRY = 0x41;
export const ATA_CMD_READ_VERIFY_EXT = 0x42;
export const ATA_CMD_EXECUTE_DEVICE_DIAGNOSTIC = 0x90;
export const ATA_CMD_INITIALIZE_DEVICE_PARAMETERS = 0x91;
export const ATA_CMD_IDENTIFY_PACKET_DEVICE = 0xa1;
export const ATA_CMD_READ_MULTIPLE = 0xc4;
export const ATA_CMD_WRITE_MULTIPLE = 0xc5;
export const ATA_CMD_SET_MULTIPLE_MODE = 0xc6;
export const ATA_CMD_STANDBY_IMMEDIATE = 0xe0;
export const ATA_CMD_IDLE_IMMEDIATE = 0xe1;
export const ATA_CMD_STANDBY = 0xe2;
export const ATA_CMD_IDLE = 0xe3;
export const ATA_CMD_CHECK_POWER_MODE = 0xe5;
export const ATA_CMD_SLEEP = 0xe6;
export const ATA_CMD_FLUSH_CACHE = 0xe7;
export const ATA_CMD_IDENTIFY_DEVICE = 0xec;
export const ATA_CMD_FLUSH_CACHE_EXT = 0xea;
export const ATA_CMD_SET_FEATURES = 0xef;

// SET FEATURES subcommands (Features register, 8.37).
export const ATA_SF_ENABLE_WRITE_CACHE = 0x02;
export const ATA_SF_SET_TRANSFER_MODE = 0x03;
export const ATA_SF_DISABLE_READ_LOOKAHEAD = 0x55;
export const ATA_SF_DISABLE_REVERTING = 0x66;
export const ATA_SF_DISABLE_WRITE_CACHE = 0x82;
export const ATA_SF_ENABLE_READ_LOOKAHEAD = 0xaa;
export const ATA_SF_ENABLE_REVERTING = 0xcc;

// SET FEATURES / set transfer mode values (Sector Count register, table 44).
export const ATA_XFER_PIO_DEFAULT = 0x00;
export const ATA_XFER_PIO_DEFAULT_NO_IORDY = 0x01;
export const ATA_XFER_PIO_FLOW_CONTROL = 0x08; // | mode number

/** CHECK POWER MODE results in the Sector Count register (8.6). */
export const ATA_POWER_STANDBY = 0x00;
export const ATA_POWER_ACTIVE_OR_IDLE = 0xff;

/** Largest DRQ block for READ/WRITE MULTIPLE (IDENTIFY word 47). */
export const ATA_MAX_MULTIPLE = 16;
/** Highest LBA28 address + 1 reachable by 28-bit commands. */
export const ATA_LBA28_LIMIT = 0x0fffffff;
