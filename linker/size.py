#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""make size: bytes per module and per third-party library inside build/init
(from the link map), every member of the initramfs, and the budget gate.
With --i386-map/--i386-init/--i386-initramfs also the web flavour's i386
PID 1 (boot/web/), shown for comparison; the budget gates x86-64 only."""
import argparse
import os
import re
import sys

ALLOC_SKIP = ('.comment', '.debug', '.note.GNU-stack', '.symtab', '.strtab',
              '.shstrtab', '.stab', '.gnu.warning', '.gnu_debuglink')
BSS = ('.bss', '.tbss')


def component(path):
    m = re.search(r'/t/lib([\w-]+)\.a\(', path)
    if m:
        return m.group(1)
    m = re.search(r'/t/([\w-]+)/[^/]+\.o$', path)
    if m:
        return m.group(1)
    m = re.search(r'third_party/musl(?:-i386)?/lib/lib(\w+)\.a\(', path)
    if m:
        return 'tp:' + m.group(1)
    if re.search(r'libc\.a\(|/crt[1in]\.o$|/[Ss]crt1\.o$|/rcrt1\.o$', path):
        return 'libc'
    if 'libgcc' in path or 'crtbegin' in path or 'crtend' in path:
        return 'libgcc'
    return 'other:' + os.path.basename(path)


def parse_map(path):
    sizes, bss = {}, {}
    out = None
    in_map = False
    pending = None
    sec_re = re.compile(r'^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(.+)$')
    cont_re = re.compile(r'^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(.+)$')
    fill_re = re.compile(r'^ \*fill\*\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)')
    for line in open(path, errors='replace'):
        line = line.rstrip('\n')
        if line.startswith('Linker script and memory map'):
            in_map = True
            continue
        if not in_map:
            continue
        if line and not line.startswith(' '):
            out = line.split()[0]
            pending = None
            continue
        if out is None or out.startswith(ALLOC_SKIP):
            continue
        target = bss if out.startswith(BSS) else sizes
        m = fill_re.match(line)
        if m:
            target['padding'] = target.get('padding', 0) + int(m.group(2), 16)
            continue
        m = sec_re.match(line)
        if m and not m.group(1).startswith('*'):
            name, size, obj = m.group(1), int(m.group(3), 16), m.group(4)
        else:
            m2 = cont_re.match(line)
            if pending and m2:
                name, size, obj = pending, int(m2.group(2), 16), m2.group(3)
            else:
                s = line.strip()
                pending = s if re.fullmatch(r'\.\S+', s) else None
                continue
        pending = None
        if size == 0 or obj.startswith('load address'):
            continue
        c = component(obj.strip())
        target[c] = target.get(c, 0) + size
    return sizes, bss


def cpio_members(path):
    data = open(path, 'rb').read()
    off, out = 0, []
    while off + 110 <= len(data):
        h = data[off:off + 110]
        if h[:6] != b'070701':
            raise SystemExit('size: %s: bad cpio header at %d' % (path, off))
        f = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, fsize, namesz = f[1], f[6], f[11]
        name = data[off + 110:off + 110 + namesz - 1].decode()
        off = (off + 110 + namesz + 3) & ~3
        if name == 'TRAILER!!!':
            break
        out.append((name, mode, fsize))
        off = (off + fsize + 3) & ~3
    return out


def load_budget(path):
    b = {}
    for line in open(path):
        line = line.split('#', 1)[0].split()
        if len(line) == 2:
            b[line[0]] = int(line[1])
    return b


def i386(a, x86_64):
    """The web flavour's PID 1 next to build/init, component by component."""
    sizes, bss = parse_map(a.i386_map)
    print()
    print('%-22s %10s %10s %10s' % ('i386/init component', 'bytes', 'bss', 'x86-64'))
    for c in sorted(set(sizes) | set(bss), key=lambda k: -sizes.get(k, 0)):
        print('%-22s %10d %10d %10d' % (c, sizes.get(c, 0), bss.get(c, 0), x86_64.get(c, 0)))
    print('%-22s %10d %10d %10d' % ('sum of sections', sum(sizes.values()),
                                    sum(bss.values()), sum(x86_64.values())))
    print('%-22s %10d' % ('i386/init (stripped)', os.path.getsize(a.i386_init)))
    print('%-22s %10d' % ('i386 initramfs.cpio.xz', os.path.getsize(a.i386_initramfs)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--map', required=True)
    ap.add_argument('--init', required=True)
    ap.add_argument('--initramfs', required=True)
    ap.add_argument('--budget', required=True)
    ap.add_argument('--part', action='append', default=[], metavar='NAME=PATH',
                    help="a part of the boot image (kernel, ca.cpio.xz...): budget key 'image.NAME'")
    ap.add_argument('--image', action='append', default=[], metavar='NAME=PATH',
                    help="a whole image (iso, hdd): its size and what is not a part in it "
                         "(boot loader, file system, padding)")
    ap.add_argument('--write-budget', action='store_true',
                    help='rewrite the budget: measured + 10%% headroom (a decision: commit it)')
    ap.add_argument('--i386-map')
    ap.add_argument('--i386-init')
    ap.add_argument('--i386-initramfs')
    a = ap.parse_args()

    sizes, bss = parse_map(a.map)
    init_size = os.path.getsize(a.init)
    xz_size = os.path.getsize(a.initramfs)
    cpio = a.initramfs[:-3] if a.initramfs.endswith('.xz') else a.initramfs
    members = cpio_members(cpio)
    budget = load_budget(a.budget)

    rows = []
    print('%-22s %10s %10s %10s' % ('build/init component', 'bytes', 'bss', 'budget'))
    for c in sorted(set(sizes) | set(bss), key=lambda k: -sizes.get(k, 0)):
        key = 'init.' + c
        print('%-22s %10d %10d %10s' % (c, sizes.get(c, 0), bss.get(c, 0),
                                        budget.get(key, '-')))
        rows.append((key, sizes.get(c, 0)))
    sections = sum(sizes.values())
    print('%-22s %10d %10d' % ('sum of sections', sections, sum(bss.values())))
    print('%-22s %10d %10s %10s' % ('build/init (stripped)', init_size, '',
                                    budget.get('init', '-')))
    rows.append(('init', init_size))
    print()
    print('%-40s %10s' % ('initramfs member', 'bytes'))
    total = 0
    for name, mode, fsize in members:
        kind = {0o040000: 'dir', 0o020000: 'chr', 0o120000: 'link'}.get(mode & 0o170000, '')
        print('%-40s %10d %s' % (name, fsize, kind))
        total += fsize
    print('%-40s %10d' % ('sum of members (uncompressed)', total))
    print('%-40s %10d %10s' % (os.path.basename(a.initramfs), xz_size,
                                budget.get('initramfs.cpio.xz', '-')))
    rows.append(('initramfs.cpio.xz', xz_size))
    if a.i386_map:
        i386(a, sizes)

    if a.part or a.image:
        print()
        print('%-40s %10s %10s' % ('boot image part', 'bytes', 'budget'))
        parts = 0
        for spec in a.part:
            name, path = spec.split('=', 1)
            n = os.path.getsize(path)
            parts += n
            if os.path.samefile(path, a.initramfs):	# budgeted above already
                print('%-40s %10d %10s' % (name, n, budget.get('initramfs.cpio.xz', '-')))
                continue
            print('%-40s %10d %10s' % (name, n, budget.get('image.' + name, '-')))
            rows.append(('image.' + name, n))
        for spec in a.image:
            name, path = spec.split('=', 1)
            n = os.path.getsize(path)
            used = os.stat(path).st_blocks * 512
            rest = n - parts
            print('%-40s %10d %10s   (%d allocated)' % (name, n, budget.get('image.' + name, '-'),
                                                         used))
            print('%-40s %10d %10s' % ('  ' + name + ': boot loader, fs, padding', rest,
                                       budget.get('image.' + name + '.overhead', '-')))
            rows.append(('image.' + name, n))
            rows.append(('image.' + name + '.overhead', rest))

    if a.write_budget:
        with open(a.budget, 'w') as f:
            f.write('# linker/budget: size limits in bytes that make check enforces.\n'
                    '# Set from measured sizes + 10% headroom by `make size-budget`;\n'
                    '# raising a line is a decision recorded in its commit.\n')
            # The hard limits of the issues (core initramfs <= 400 KiB, ISO <= 4
            # MiB), never raised here.
            ceiling = 400 * 1024
            for key, val in rows:
                lim = (val * 11 + 9) // 10
                if key == 'initramfs.cpio.xz':
                    lim = min(lim, ceiling)
                f.write('%-28s %d\n' % (key, lim))
            f.write('%-28s %d\n' % ('initramfs.cpio.xz.ceiling', ceiling))
            if any(k == 'image.iso' for k, _ in rows):
                f.write('%-28s %d\n' % ('image.iso.ceiling', 4 << 20))
        print('size: wrote %s' % a.budget)
        return
    bad = []
    for key, val in rows:
        if key not in budget:
            if key.startswith('init.') and val == 0:
                continue
            bad.append('size: %s (%d bytes) has no line in linker/budget; '
                       'add one: growth is a decision, not drift' % (key, val))
        elif val > budget[key]:
            bad.append('size: %s is %d bytes, over its budget of %d '
                       '(+%d bytes, +%.1f%%); shrink it or raise linker/budget on purpose'
                       % (key, val, budget[key], val - budget[key],
                          100.0 * (val - budget[key]) / budget[key]))
    hard = budget.get('initramfs.cpio.xz.ceiling')
    if hard is not None and xz_size > hard:
        bad.append('size: initramfs.cpio.xz is %d bytes, over the hard ceiling of %d'
                   % (xz_size, hard))
    iso = dict(rows).get('image.iso')
    if iso is not None and 'image.iso.ceiling' in budget and iso > budget['image.iso.ceiling']:
        bad.append('size: the ISO is %d bytes, over the hard ceiling of %d'
                   % (iso, budget['image.iso.ceiling']))
    for msg in bad:
        print(msg, file=sys.stderr)
    if bad:
        sys.exit(1)
    print('size: within budget')


if __name__ == '__main__':
    main()
