/**
 * `npm run fetch:linux`: fetches a 32-bit Debian kernel (the non-PAE 686 flavour) and busybox-static for
 * i386 from the distribution's archive, and writes images/linux/bzImage and images/linux/initrd.gz (a
 * busybox initramfs whose /init mounts proc, sys and devtmpfs and starts a shell on the serial console).
 * Idempotent: existing images are kept unless --force. On systems without apt it prints the manual steps.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildCpio, type CpioEntry } from './lib/cpio.ts';

const OUT = resolve(import.meta.dirname, '../images/linux');
const KERNEL_META = 'linux-image-686:i386';
const BUSYBOX = 'busybox-static:i386';

const INIT_SCRIPT = `#!/bin/busybox sh
# visor86 initramfs: mount the kernel's pseudo filesystems, install the busybox applets, start a shell.
/bin/busybox mkdir -p /proc /sys /dev /tmp /usr/bin /usr/sbin /sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root PS1='visor86:\\w# '
mkdir -p /root
echo "visor86 Linux: $(uname -sr)"
exec setsid cttyhack sh -l
`;

function log(message: string): void {
  console.log(`fetch:linux: ${message}`);
}

function manualSteps(reason: string): never {
  console.error(`fetch:linux: ${reason}
This script needs a Debian or Ubuntu machine with apt (run as root or with sudo). Manual steps:
  sudo dpkg --add-architecture i386 && sudo apt-get update
  apt-get download ${KERNEL_META.replace(':i386', '')}-<version>:i386 ${BUSYBOX}   (see: apt-cache depends ${KERNEL_META})
  dpkg-deb -x linux-image-*.deb k && cp k/boot/vmlinuz-* images/linux/bzImage
  dpkg-deb -x busybox-static_*.deb b  (then build a newc cpio with bin/busybox and an /init script, gzip it)
  into images/linux/initrd.gz`);
  process.exit(2);
}

function run(command: string, args: string[], cwd?: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function have(command: string): boolean {
  try {
    run('sh', ['-c', `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

function main(): void {
  const force = process.argv.includes('--force');
  const kernelPath = join(OUT, 'bzImage');
  const initrdPath = join(OUT, 'initrd.gz');
  if (!force && existsSync(kernelPath) && existsSync(initrdPath)) {
    log(`already present: ${kernelPath} and ${initrdPath} (use --force to fetch again)`);
    return;
  }
  if (!existsSync('/etc/debian_version') || !have('apt-get') || !have('dpkg-deb')) {
    manualSteps('apt-get and dpkg-deb were not found.');
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = root ? [] : ['sudo'];
  const archs = run('dpkg', ['--print-foreign-architectures']).split(/\s+/);
  if (!archs.includes('i386')) {
    log('adding the i386 architecture to dpkg');
    if (!root && !have('sudo')) manualSteps('adding the i386 architecture needs root.');
    execFileSync(
      sudo[0] ?? 'dpkg',
      root ? ['--add-architecture', 'i386'] : ['dpkg', '--add-architecture', 'i386'],
      {
        stdio: 'inherit',
      },
    );
  }
  let kernelPackage = '';
  const findKernel = () => {
    const deps = run('apt-cache', ['depends', KERNEL_META]);
    kernelPackage = /Depends: (linux-image-[^\s]+-686(?::i386)?)/.exec(deps)?.[1] ?? '';
  };
  try {
    findKernel();
  } catch {
    kernelPackage = '';
  }
  if (!kernelPackage) {
    // A mirror caught mid-sync fails an index now and then ("File has unexpected size"): try again, and
    // after the last attempt go on with whatever lists did arrive if they name a kernel.
    for (let attempt = 1; attempt <= 3; attempt++) {
      log(`updating the package lists (apt-get update${attempt > 1 ? `, attempt ${attempt}` : ''})`);
      try {
        execFileSync(sudo[0] ?? 'apt-get', root ? ['update', '-qq'] : ['apt-get', 'update', '-qq'], {
          stdio: 'inherit',
        });
        break;
      } catch {
        if (attempt === 3) log('apt-get update failed three times; trying the package lists it did fetch');
        else execFileSync('sleep', ['20']);
      }
    }
    try {
      findKernel();
    } catch {
      kernelPackage = '';
    }
  }
  if (!kernelPackage) manualSteps(`could not resolve ${KERNEL_META} to a kernel package.`);
  if (!kernelPackage.endsWith(':i386')) kernelPackage += ':i386';

  const work = mkdtempSync(join(tmpdir(), 'visor86-linux-'));
  try {
    log(`downloading ${kernelPackage} and ${BUSYBOX}`);
    run('apt-get', ['download', '-qq', kernelPackage, BUSYBOX], work);
    const debs = readdirSync(work).filter((f) => f.endsWith('.deb'));
    const kernelDeb = debs.find((f) => f.startsWith('linux-image-'));
    const busyboxDeb = debs.find((f) => f.startsWith('busybox-static'));
    if (!kernelDeb || !busyboxDeb)
      manualSteps(`apt-get download did not produce both packages (${debs.join(', ')})`);
    run('dpkg-deb', ['-x', kernelDeb, 'kernel'], work);
    run('dpkg-deb', ['-x', busyboxDeb, 'busybox'], work);
    const vmlinuz = readdirSync(join(work, 'kernel/boot')).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) manualSteps('the kernel package has no /boot/vmlinuz-*');
    const kernel = readFileSync(join(work, 'kernel/boot', vmlinuz));
    const busybox = readFileSync(join(work, 'busybox/bin/busybox'));

    const entries: CpioEntry[] = [
      { path: 'bin', mode: 0o040755 },
      { path: 'bin/busybox', mode: 0o100755, data: busybox },
      { path: 'bin/sh', mode: 0o120777, data: new TextEncoder().encode('busybox') },
      { path: 'dev', mode: 0o040755 },
      { path: 'dev/console', mode: 0o020600, rdevMajor: 5, rdevMinor: 1 },
      { path: 'dev/ttyS0', mode: 0o020660, rdevMajor: 4, rdevMinor: 64 },
      { path: 'dev/null', mode: 0o020666, rdevMajor: 1, rdevMinor: 3 },
      { path: 'proc', mode: 0o040755 },
      { path: 'sys', mode: 0o040755 },
      { path: 'tmp', mode: 0o041777 },
      { path: 'root', mode: 0o040700 },
      { path: 'etc', mode: 0o040755 },
      {
        path: 'etc/passwd',
        mode: 0o100644,
        data: new TextEncoder().encode('root:x:0:0:root:/root:/bin/sh\n'),
      },
      { path: 'init', mode: 0o100755, data: new TextEncoder().encode(INIT_SCRIPT) },
    ];
    const initrd = gzipSync(buildCpio(entries), { level: 9 });
    mkdirSync(OUT, { recursive: true });
    writeFileSync(kernelPath, kernel);
    writeFileSync(initrdPath, initrd);
    writeFileSync(join(OUT, 'VERSION'), `${kernelPackage} (${vmlinuz})\n${busyboxDeb}\n`);
    log(`wrote ${kernelPath} (${kernel.length} bytes, ${vmlinuz})`);
    log(`wrote ${initrdPath} (${initrd.length} bytes: busybox ${busybox.length} bytes + /init)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
