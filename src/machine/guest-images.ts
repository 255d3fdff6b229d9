/**
 * The guest library (images/): the catalog's types, its validation, and the boot media built from a committed
 * binary. Browser-safe (no Node imports): the page, the CLI and the tests all use it.
 *
 * A guest's committed binary is small (a boot sector and what it loads, or a Multiboot kernel); the disk or
 * floppy it boots from is made at load time by padding the binary with zeros to `diskSize` bytes, so a
 * 1.44 MB floppy costs the repository a few KiB. images/README.md documents the catalog schema.
 */
import { MemoryBlockDevice, SECTOR_SIZE } from '../devices/block-device.ts';
import { FLOPPY_FORMATS } from '../devices/floppy-82077aa-drive.ts';
import type { PcConfig } from './pc.ts';

export const GUEST_BOOT_METHODS = ['floppy', 'disk', 'multiboot'] as const;
/** floppy: drive A:; disk: the primary master hard disk; multiboot: direct kernel boot, no BIOS. */
export type GuestBootMethod = (typeof GUEST_BOOT_METHODS)[number];

export const GUEST_CONSOLES = ['serial', 'vga'] as const;
/** Where the guest talks to the learner: COM1 or the VGA text screen. */
export type GuestConsole = (typeof GUEST_CONSOLES)[number];

export const GUEST_INPUTS = ['serial', 'keyboard', 'none'] as const;
/** What the guest reads: bytes on COM1, keys from the 8042, or nothing. */
export type GuestInput = (typeof GUEST_INPUTS)[number];

/** One entry of images/catalog.json. */
export interface GuestImage {
  /** Directory under images/ and the name shown to users: lower case letters, digits and '-'. */
  name: string;
  /** One line. */
  description: string;
  boot: GuestBootMethod;
  /** RAM for the VM, in MiB. */
  memoryMiB: number;
  /** Size in bytes of the floppy or hard disk built from the image (absent for multiboot). */
  diskSize?: number;
  /** The first line the guest itself prints on COM1 (BIOS messages come before it). */
  banner: string;
  /** The committed binary, relative to images/. */
  image: string;
  /** The NASM source it is built from, relative to images/. */
  source: string;
  console: GuestConsole;
  input: GuestInput;
}

export interface GuestCatalog {
  version: 1;
  guests: GuestImage[];
}

/** Sizes a floppy image may have: the formats the floppy drive knows (360K ... 2.88M). */
export const FLOPPY_IMAGE_SIZES: readonly number[] = FLOPPY_FORMATS.map(
  (f) => f.cylinders * f.heads * f.sectorsPerTrack * SECTOR_SIZE,
);

/** The largest hard disk a guest entry may ask for (the page builds it in memory). */
export const MAX_GUEST_DISK_SIZE = 64 * 1024 * 1024;

const NAME_PATTERN = /^[a-z0-9][a-z0-9-]*$/;

/** Checks catalog.json's parsed contents and returns them typed; throws an Error naming the bad field. */
export function parseGuestCatalog(json: unknown): GuestCatalog {
  const root = asObject(json, 'catalog');
  if (root.version !== 1) throw new Error(`catalog: version ${String(root.version)} is not 1`);
  if (!Array.isArray(root.guests)) throw new Error('catalog: guests is not an array');
  const names = new Set<string>();
  const guests = root.guests.map((value: unknown, i: number) => {
    const guest = parseGuestImage(value, `catalog: guests[${i}]`);
    if (names.has(guest.name)) throw new Error(`catalog: guest name '${guest.name}' appears twice`);
    names.add(guest.name);
    return guest;
  });
  return { version: 1, guests };
}

function parseGuestImage(value: unknown, where: string): GuestImage {
  const o = asObject(value, where);
  const name = asString(o.name, `${where}.name`);
  if (!NAME_PATTERN.test(name)) throw new Error(`${where}.name '${name}' is not lower-case-with-dashes`);
  const at = `catalog: ${name}`;
  const boot = asEnum(o.boot, GUEST_BOOT_METHODS, `${at}.boot`);
  const memoryMiB = o.memoryMiB;
  if (typeof memoryMiB !== 'number' || !Number.isInteger(memoryMiB) || memoryMiB < 2 || memoryMiB > 3584) {
    throw new Error(`${at}.memoryMiB must be an integer from 2 to 3584`);
  }
  const guest: GuestImage = {
    name,
    description: asString(o.description, `${at}.description`),
    boot,
    memoryMiB,
    banner: asString(o.banner, `${at}.banner`),
    image: asPath(o.image, `${at}.image`),
    source: asPath(o.source, `${at}.source`),
    console: asEnum(o.console, GUEST_CONSOLES, `${at}.console`),
    input: asEnum(o.input, GUEST_INPUTS, `${at}.input`),
  };
  if (boot === 'multiboot') {
    if (o.diskSize !== undefined) throw new Error(`${at}.diskSize: a multiboot guest has no disk`);
  } else {
    const size = o.diskSize;
    if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0 || size % SECTOR_SIZE !== 0) {
      throw new Error(`${at}.diskSize must be a positive multiple of ${SECTOR_SIZE} bytes`);
    }
    if (boot === 'floppy' && !FLOPPY_IMAGE_SIZES.includes(size)) {
      throw new Error(`${at}.diskSize ${size} is not a floppy size (${FLOPPY_IMAGE_SIZES.join(', ')})`);
    }
    if (boot === 'disk' && size > MAX_GUEST_DISK_SIZE) {
      throw new Error(`${at}.diskSize ${size} is larger than ${MAX_GUEST_DISK_SIZE} bytes`);
    }
    guest.diskSize = size;
  }
  return guest;
}

/** Looks a guest up by name; throws with the list of names when there is none. */
export function findGuest(catalog: GuestCatalog, name: string): GuestImage {
  const guest = catalog.guests.find((g) => g.name === name);
  if (!guest) {
    throw new Error(`no guest '${name}' (have: ${catalog.guests.map((g) => g.name).join(', ')})`);
  }
  return guest;
}

/**
 * The medium a guest boots from: for floppy and disk guests a new `diskSize`-byte image with the binary at
 * its start and zeros after it; for multiboot guests a copy of the kernel binary. Throws when the binary does
 * not fit or (floppy/disk) lacks the 0x55 0xAA boot signature the BIOS checks.
 */
export function buildBootMedia(guest: GuestImage, binary: Uint8Array): Uint8Array {
  if (guest.boot === 'multiboot') return binary.slice();
  const size = guest.diskSize;
  if (size === undefined) throw new Error(`guest ${guest.name} has no diskSize`);
  if (binary.length > size) {
    throw new Error(`guest ${guest.name}: image of ${binary.length} bytes does not fit in ${size} bytes`);
  }
  if (binary.length < SECTOR_SIZE || binary[510] !== 0x55 || binary[511] !== 0xaa) {
    throw new Error(`guest ${guest.name}: image does not start with a boot sector (no 55 AA at byte 510)`);
  }
  const media = new Uint8Array(size);
  media.set(binary);
  return media;
}

/**
 * The PcConfig part that describes a guest's machine: its memory and its boot medium (a writable
 * MemoryBlockDevice over `media`, as floppy A: or the primary master disk). A multiboot guest gets no drive;
 * load its kernel with bootMultiboot(pc, media) instead of starting the BIOS.
 */
export function guestMachineConfig(
  guest: GuestImage,
  media: Uint8Array,
): Pick<PcConfig, 'memoryMiB' | 'disks' | 'floppies'> {
  const config: Pick<PcConfig, 'memoryMiB' | 'disks' | 'floppies'> = { memoryMiB: guest.memoryMiB };
  if (guest.boot === 'floppy') config.floppies = [new MemoryBlockDevice(media)];
  else if (guest.boot === 'disk') config.disks = [new MemoryBlockDevice(media)];
  return config;
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where} is not an object`);
  }
  return value as Record<string, unknown>;
}

function asString(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${where} is not a non-empty string`);
  return value;
}

function asPath(value: unknown, where: string): string {
  const path = asString(value, where);
  if (path.startsWith('/') || path.split('/').includes('..')) {
    throw new Error(`${where} '${path}' must be a relative path inside images/`);
  }
  return path;
}

function asEnum<T extends string>(value: unknown, allowed: readonly T[], where: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new Error(`${where} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}
