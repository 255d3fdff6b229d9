/**
 * The guest library as data: images/catalog.json is valid, names every required guest, its images build
 * boot media, and each committed binary is exactly what `npm run images` assembles from its source.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  buildBootMedia,
  findGuest,
  guestMachineConfig,
  parseGuestCatalog,
  type GuestImage,
} from '../../src/machine/guest-images.ts';
import { findMultibootHeader } from '../../src/machine/multiboot.ts';
import { assembleGuest } from '../../scripts/images.ts';
import { commandExists, requirement } from '../helpers/requirements.ts';
import { catalog, guestBinary, IMAGES_DIR } from './harness.ts';

const REQUIRED = ['hello', 'monitor', 'bench', 'disk', 'pmode-tour', 'life'];

describe('images/catalog.json', () => {
  test('names every guest of the library, each with its source and image', () => {
    expect(catalog.guests.map((g) => g.name)).toEqual(expect.arrayContaining(REQUIRED));
    for (const guest of catalog.guests) {
      expect(guest.source).toBe(`${guest.name}/${guest.name}.asm`);
      expect(existsSync(join(IMAGES_DIR, guest.source)), guest.source).toBe(true);
      expect(existsSync(join(IMAGES_DIR, guest.image)), guest.image).toBe(true);
      expect(guestBinary(guest.name).length, `${guest.image} stays small`).toBeLessThanOrEqual(16 * 1024);
    }
  });

  test('every guest builds its boot medium', () => {
    for (const guest of catalog.guests) {
      const binary = guestBinary(guest.name);
      const media = buildBootMedia(guest, binary);
      if (guest.boot === 'multiboot') {
        expect(media).toEqual(binary);
        expect(findMultibootHeader(media)).toBeGreaterThanOrEqual(0);
        expect(guestMachineConfig(guest, media)).toEqual({ memoryMiB: guest.memoryMiB });
      } else {
        expect(media.length).toBe(guest.diskSize);
        expect(media.subarray(0, binary.length)).toEqual(binary);
        expect(media.subarray(binary.length).every((b) => b === 0)).toBe(true);
        const config = guestMachineConfig(guest, media);
        const device = guest.boot === 'floppy' ? config.floppies?.[0] : config.disks?.[0];
        expect(device?.sectorCount).toBe(media.length / 512);
      }
    }
  });

  test('images/README.md documents every catalog field', () => {
    const readme = readFileSync(join(IMAGES_DIR, 'README.md'), 'utf8');
    const fields = new Set(catalog.guests.flatMap((g) => Object.keys(g)));
    for (const field of fields) expect(readme, field).toContain(`\`${field}\``);
    for (const guest of catalog.guests) expect(readme, guest.name).toContain(`\`${guest.name}\``);
  });
});

describe('parseGuestCatalog and buildBootMedia', () => {
  const good = JSON.parse(readFileSync(join(IMAGES_DIR, 'catalog.json'), 'utf8')) as {
    guests: Record<string, unknown>[];
  };
  function withFirst(change: Record<string, unknown>): unknown {
    const copy = structuredClone(good);
    Object.assign(copy.guests[0], change);
    return copy;
  }

  test('rejects entries that the page could not boot', () => {
    expect(() => parseGuestCatalog({ version: 2, guests: [] })).toThrow(/version/);
    expect(() => parseGuestCatalog(withFirst({ boot: 'cdrom' }))).toThrow(/boot must be one of/);
    expect(() => parseGuestCatalog(withFirst({ boot: 'floppy', diskSize: 1048576 }))).toThrow(
      /not a floppy size/,
    );
    expect(() => parseGuestCatalog(withFirst({ diskSize: 1000 }))).toThrow(/multiple of 512/);
    expect(() => parseGuestCatalog(withFirst({ memoryMiB: 1 }))).toThrow(/memoryMiB/);
    expect(() => parseGuestCatalog(withFirst({ name: 'Hello World' }))).toThrow(/lower-case/);
    expect(() => parseGuestCatalog(withFirst({ image: '../etc/passwd' }))).toThrow(/inside images/);
    expect(() => parseGuestCatalog(withFirst({ name: good.guests[1].name }))).toThrow(/twice/);
    expect(() => findGuest(catalog, 'nope')).toThrow(/have: hello/);
  });

  test('refuses an image without a boot signature, or too big for its disk', () => {
    const hello: GuestImage = findGuest(catalog, 'hello');
    expect(() => buildBootMedia(hello, new Uint8Array(512))).toThrow(/55 AA/);
    expect(() => buildBootMedia({ ...hello, diskSize: 512 }, new Uint8Array(1024))).toThrow(/does not fit/);
  });
});

describe('committed images match their sources', () => {
  const noNasm = requirement('nasm', commandExists('nasm'), 'apt-get install nasm');
  test.skipIf(noNasm !== null).each(catalog.guests.map((g) => g.name))('%s', (name) => {
    const built = assembleGuest(findGuest(catalog, name));
    const committed = guestBinary(name);
    expect(Buffer.compare(Buffer.from(built), Buffer.from(committed)), `run npm run images (${name})`).toBe(
      0,
    );
  });
});
