# SPDX-License-Identifier: MIT
"""blk's API in a VM (QEMU TCG, Debian cloud kernel, no network), driven by a
stand-in PID 1 (test_blk_vm_init.c) that calls find / choose / prepare / mount /
grow / layout the way boot/ does: a blank disk is partitioned and formatted,
the next boot re-uses it unchanged, a disk grown between boots is grown online.
The host then judges the image with its own GPT reader, e2fsck -fn and debugfs."""
import os
import re
import subprocess

import pytest

from conftest import BUILD, ROOT
from qemu import VM, copy_module, disk_args, kernel_path, module_files
from test_blk import GIB, Loop, fsck_clean, gpt, run

# Per bus, with their dependencies, unless built in (the cloud kernel builds
# in NVMe and ext4; the generic 6.12 has them as modules). crc32c is ext4's
# soft dependency, which --show-depends does not list.
MODS = {'nvme': ['nvme', 'crc32c_generic', 'ext4'],
        'virtio': ['virtio_pci', 'virtio_blk', 'crc32c_generic', 'ext4']}


@pytest.fixture(scope='module')
def initrds(tmp_path_factory):
    d = tmp_path_factory.mktemp('blkvm')
    init = str(d / 'init')
    lib = os.path.join(BUILD, 't', 'libblk.a')
    assert os.path.exists(lib), 'make %s first' % lib
    run('musl-gcc', '-static', '-Os', '-std=c11', '-D_GNU_SOURCE', '-D_FILE_OFFSET_BITS=64',
        '-Wall', '-I', ROOT, '-o', init, os.path.join(ROOT, 'tests', 'host',
                                                       'test_blk_vm_init.c'), lib)
    kver = os.path.basename(kernel_path())[len('vmlinuz-'):]
    out = {}
    for bus in ('nvme', 'virtio'):
        argv = [os.path.join(BUILD, 'cvmboot'), 'mkinitramfs', '--init', init]
        for i, ko in enumerate(module_files(kver, MODS[bus]), 1):
            plain = str(d / ('%s-mod%d.ko' % (bus, i)))
            copy_module(ko, plain)
            argv += ['--file', '%s:mod%d.ko' % (plain, i)]
        out[bus] = str(d / ('initramfs-%s.cpio' % bus))
        run(*(argv + ['-o', out[bus]]))
    return out


def disk(img, bus):
    if bus == 'nvme-4k':
        # 4 KiB logical sectors (4Kn disks exist in clouds): GPT at byte 4096.
        return ['-drive', 'file=%s,if=none,id=d0,format=raw' % img, '-device',
                'nvme,drive=d0,serial=cvmboot0,logical_block_size=4096,'
                'physical_block_size=4096']
    return disk_args(img, bus=bus)


def boot(initrd, img, bus, tmp_path, n):
    log = str(tmp_path / ('console%d.log' % n))
    with VM(initrd, append='quiet', log=log, mem=256, extra=disk(img, bus)) as vm:
        took = vm.wait_exit(timeout=90)
        con = vm.console()
    assert took is not None, 'no power-off in 90 s:\n' + con[-3000:]
    assert 'BLKTEST done rc=0' in con, con[-3000:]
    lines = [ln for ln in con.splitlines() if ln.startswith('BLKTEST ')]
    return dict(re.findall(r'(\w+)=(\S+)', '\n'.join(lines))), con


@pytest.mark.parametrize('bus', ['nvme', 'virtio', 'nvme-4k'])
def test_blank_then_reuse_then_grow(initrds, tmp_path, bus):
    sector = 4096 if bus == 'nvme-4k' else 512
    img = str(tmp_path / 'scratch.img')
    with open(img, 'wb') as f:
        f.truncate(1 * GIB)
    # 1st boot: a blank disk is chosen, partitioned, formatted, laid out.
    v, con = boot(initrds[bus.split('-')[0]], img, bus, tmp_path, 1)
    assert v['kind'] == '2' and v['partno'] == '1', con[-2000:]
    assert v['boots_before'] == '0'
    parts = gpt(img, sector)
    assert len(parts) == 1
    start, plen = parts[0]
    with Loop(img, start, plen) as dev:
        fsck_clean(dev)
        ls = run('debugfs', '-R', 'ls -p /', dev).stdout
        for d in ('persistent', 'work', 'cache', 'aux', 'context', 'ulogs', 'kexec'):
            assert '/%s/' % d in ls, ls
        st = run('debugfs', '-R', 'stat /aux/safety/50m', dev).stdout
        assert re.search(r'Size: 52428800\b', st), st
    # 2nd boot, same disk: found by its label, re-used, nothing re-made.
    before = open(img, 'rb').read(1 << 20)
    v, con = boot(initrds[bus.split('-')[0]], img, bus, tmp_path, 2)
    assert v['kind'] == '1' and v['grew'] == '0' and v['boots_before'] == '1', con[-2000:]
    assert 'prepare' not in con
    assert open(img, 'rb').read(1 << 20) == before
    # 3rd boot after the disk grew to 10 GiB: partition and ext4 grown online.
    # 80 groups no longer fit the one descriptor block mkfs made (no
    # resize_inode), so the kernel converts the file system to meta_bg.
    with open(img, 'r+b') as f:
        f.truncate(10 * GIB)
    v, con = boot(initrds[bus.split('-')[0]], img, bus, tmp_path, 3)
    assert v['kind'] == '1' and v['grew'] == '1' and v['boots_before'] == '2', con[-2000:]
    assert int(v['fs_bytes']) > 9.5 * GIB, v
    parts = gpt(img, sector)
    assert parts[0][0] == start and 10 * GIB - parts[0][1] - start < (1 << 20) + 33 * sector
    with Loop(img, start, parts[0][1]) as dev:
        fsck_clean(dev)
        info = run('dumpe2fs', '-h', dev).stdout
        blocks = int(re.search(r'Block count:\s+(\d+)', info).group(1))
        assert blocks == parts[0][1] // 4096
        assert re.search(r'features:.* meta_bg', info), info
