# SPDX-License-Identifier: MIT
"""VM layer: the scratch disk through the real image (build/initrd.img, PID 1's
disk-find and disk stages) on virtio, NVMe and 4Kn NVMe disks: a blank disk is
partitioned, formatted and laid out; the next boot finds it by its label and
re-uses it unchanged; a disk grown between boots is grown online. The host
then judges the image with its own GPT reader, e2fsck -fn, debugfs and
dumpe2fs (helpers of tests/host/test_blk.py)."""
import os
import re
import sys

import pytest

import qemu
from bootenv import BootEnv
from conftest import BUILD, ROOT

sys.path.insert(0, os.path.join(ROOT, 'tests', 'host'))
from test_blk import GIB, Loop, fsck_clean, gpt, run  # noqa: E402

BOOT_S = 180
LAYOUT = ('persistent', 'work', 'cache', 'aux', 'context', 'ulogs', 'kexec')

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='needs root (loop devices)')


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    e = BootEnv(BUILD, tmp_path_factory.mktemp('scratch'))
    e.keygen()
    e.publish('v1')
    e.serve()
    yield e
    e.stop()


def disk(img, bus):
    if bus == 'nvme-4k':
        # 4 KiB logical sectors (4Kn disks exist in clouds): GPT at byte 4096.
        return ['-drive', 'file=%s,if=none,id=d0,format=raw' % img, '-device',
                'nvme,drive=d0,serial=cvmboot0,logical_block_size=4096,'
                'physical_block_size=4096']
    return qemu.disk_args(img, bus=bus)


def boot(env, initrd, img, bus, tmp_path, n):
    log = str(tmp_path / ('console%d.log' % n))
    with qemu.VM(initrd, log=log, net_args=env.net_args(), extra=disk(img, bus)) as vm:
        took = vm.wait_exit(BOOT_S)
        con = vm.console()
    assert took is not None, 'boot %d: no power-off in %d s:\n%s' % (n, BOOT_S, con[-4000:])
    assert 'TESTOS: boot %d' % n in con and 'TESTOS: done' in con, con[-4000:]
    return con


@pytest.mark.parametrize('bus', ['nvme', 'virtio', 'nvme-4k'])
def test_blank_then_reuse_then_grow(env, tmp_path, bus):
    sector = 4096 if bus == 'nvme-4k' else 512
    initrd = env.initrd()
    img = str(tmp_path / 'scratch.img')
    with open(img, 'wb') as f:
        f.truncate(1 * GIB)
    # 1st boot: no UROOT anywhere, so the blank disk is chosen, partitioned
    # (one partition), formatted and laid out.
    con = boot(env, initrd, img, bus, tmp_path, 1)
    assert 'no scratch file system (UROOT): first boot' in con, con[-3000:]
    made = re.search(r'cvmboot: disk: made (/dev/\S+) on (\S+) \((\d+) MiB\)', con)
    assert made, con[-3000:]
    part, dev = made.group(1), made.group(2)
    assert part in ('/dev/%s1' % dev, '/dev/%sp1' % dev), made.group(0)
    parts = gpt(img, sector)
    assert len(parts) == 1, parts
    start, plen = parts[0]
    with Loop(img, start, plen) as loopdev:
        fsck_clean(loopdev)
        ls = run('debugfs', '-R', 'ls -p /', loopdev).stdout
        for d in LAYOUT:
            assert '/%s/' % d in ls, ls
        st = run('debugfs', '-R', 'stat /aux/safety/50m', loopdev).stdout
        assert re.search(r'Size: 52428800\b', st), st
    # 2nd boot, same disk: found by its label and re-used; the partition
    # table (and everything up to the partition's start) is left alone.
    before = open(img, 'rb').read(1 << 20)
    con = boot(env, initrd, img, bus, tmp_path, 2)
    assert 'cvmboot: disk-find: scratch %s on %s' % (part, dev) in con, con[-3000:]
    assert 'disk: made' not in con and 'first boot' not in con and 'grew' not in con
    assert open(img, 'rb').read(1 << 20) == before
    # 3rd boot after the disk grew to 10 GiB: partition and ext4 grown online.
    # 80 groups no longer fit the one descriptor block mkfs made (no
    # resize_inode), so the kernel converts the file system to meta_bg.
    with open(img, 'r+b') as f:
        f.truncate(10 * GIB)
    con = boot(env, initrd, img, bus, tmp_path, 3)
    grew = re.search(r'cvmboot: disk: grew to (\d+) MiB', con)
    assert grew and int(grew.group(1)) > 9.5 * 1024, con[-3000:]
    parts = gpt(img, sector)
    assert parts[0][0] == start and 10 * GIB - parts[0][1] - start < (1 << 20) + 33 * sector
    with Loop(img, start, parts[0][1]) as loopdev:
        fsck_clean(loopdev)
        info = run('dumpe2fs', '-h', loopdev).stdout
        blocks = int(re.search(r'Block count:\s+(\d+)', info).group(1))
        assert blocks == parts[0][1] // 4096
        assert re.search(r'features:.* meta_bg', info), info
