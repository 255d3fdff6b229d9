import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkMedia, describeMedia, identifyImage, mediaFromFiles } from '../../src/host/media.ts';
import { standIn } from './helpers.ts';

const BZIMAGE = new Uint8Array(
  readFileSync(join(import.meta.dirname, '..', 'machine', 'fixtures', 'tiny-bzimage.bin')),
);

function bootable(size: number): Uint8Array {
  const image = new Uint8Array(size);
  image[510] = 0x55;
  image[511] = 0xaa;
  return image;
}

describe('recognising boot media', () => {
  it('tells kernels, floppies and disks apart by their bytes', () => {
    expect(identifyImage(BZIMAGE)).toBe('linux');
    expect(identifyImage(standIn('monitor'))).toBe('multiboot');
    expect(identifyImage(bootable(1474560))).toBe('floppy');
    expect(identifyImage(bootable(10 * 512))).toBe('disk');
    expect(identifyImage(new Uint8Array(1000))).toBe('unknown');
  });

  it('accepts one image', () => {
    expect(mediaFromFiles([{ name: 'k.bin', bytes: standIn('spin') }]).media.kind).toBe('multiboot');
    expect(mediaFromFiles([{ name: 'a.img', bytes: bootable(1474560) }]).media.kind).toBe('floppy');
    const disk = mediaFromFiles([{ name: 'hd.img', bytes: bootable(2048 * 512) }]);
    expect(disk.media.kind).toBe('disk');
    expect(disk.label).toBe('hd.img');
    expect(describeMedia(disk.media)).toBe('Disk 1.0 MiB');
  });

  it('pairs a bzImage with its initrd in either order', () => {
    const initrd = new Uint8Array([0x1f, 0x8b, 8, 0]);
    const { media, label } = mediaFromFiles([
      { name: 'initrd.gz', bytes: initrd },
      { name: 'bzImage', bytes: BZIMAGE },
    ]);
    expect(media).toMatchObject({ kind: 'linux', kernel: BZIMAGE, initrd });
    expect(label).toBe('bzImage + initrd.gz');
  });

  it('explains what is wrong with a bad file', () => {
    const bad = (files: Array<{ name: string; bytes: Uint8Array }>) => () => mediaFromFiles(files);
    expect(bad([])).toThrow('no file chosen');
    expect(bad([{ name: 'x', bytes: new Uint8Array(0) }])).toThrow('x is empty');
    expect(bad([{ name: 'notes.txt', bytes: new Uint8Array(1000) }])).toThrow(
      /notes\.txt \(1000 bytes\) is not a boot image.*488 bytes left over.*1\.44 MB/,
    );
    expect(bad([{ name: 'blank.img', bytes: new Uint8Array(1474560) }])).toThrow(/no boot signature/);
    expect(bad([{ name: 'hd.img', bytes: new Uint8Array(4096) }])).toThrow(/BIOS will not boot it/);
    expect(
      bad([
        { name: 'a', bytes: new Uint8Array(512) },
        { name: 'b', bytes: new Uint8Array(512) },
      ]),
    ).toThrow(/neither is a Linux bzImage/);
    expect(
      bad([
        { name: 'a', bytes: BZIMAGE },
        { name: 'b', bytes: BZIMAGE },
      ]),
    ).toThrow('two bzImages');
    expect(
      bad([
        { name: 'a', bytes: new Uint8Array(512) },
        { name: 'b', bytes: new Uint8Array(512) },
        { name: 'c', bytes: new Uint8Array(512) },
      ]),
    ).toThrow('3 files');
  });

  it('checks a Multiboot kernel as its loader will', () => {
    const broken = standIn('monitor').slice(0, 40); // header intact, load range past the end
    expect(() => checkMedia({ kind: 'multiboot', kernel: broken }, 'cut.bin')).toThrow(
      /^cut\.bin: Multiboot header/,
    );
  });

  it('rejects a truncated bzImage', () => {
    const truncated = BZIMAGE.slice(0, 0x400);
    expect(() => mediaFromFiles([{ name: 'bz', bytes: truncated }])).toThrow(/bz: Linux kernel is truncated/);
  });
});
