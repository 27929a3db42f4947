# SPDX-License-Identifier: MIT
"""Host layer, blk: a disk whose partition table was wiped but whose file
systems stayed where they were (first MiB all zeros, data at a usual partition
start: sector 63, 1 MiB, powers of two up to 1 GiB) is not blank: `cvmboot
mkfs-scratch` refuses it, names what it found and where, and leaves every
byte as it was (issue 13, case 9). The one exception is blk's own file system
from a first boot interrupted before the table was written: never mounted, it
is made again."""
import os
import re
import subprocess

import pytest

from conftest import BUILD
from test_blk import Loop, mkfs, run, sha

TOOL = os.path.join(BUILD, 'cvmboot')
MIB = 1 << 20
DISK = 256 * MIB


def blank(path, size=DISK):
    with open(path, 'wb') as f:
        f.truncate(size)


def put_fs(tmp_path, disk, off, argv, size=32 * MIB):
    """A file system made by its own tool, copied to byte off of disk."""
    fs = str(tmp_path / 'fs.img')
    blank(fs, size)
    run(*(argv + [fs]))
    with open(fs, 'rb') as src, open(disk, 'r+b') as dst:
        dst.seek(off)
        while True:
            b = src.read(MIB)
            if not b:
                break
            dst.write(b)
    os.unlink(fs)


def refused(disk, name, off):
    before = sha(disk)
    r = run(TOOL, 'mkfs-scratch', disk, check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'not blank' in r.stderr and name in r.stderr, r.stderr
    assert 'at byte %d ' % off in r.stderr, r.stderr
    assert sha(disk) == before, 'the disk was written'


EXT4 = ['mkfs.ext4', '-q', '-F']
STARTS = {'sector63': 63 * 512, '1M': MIB, '2M': 2 * MIB, '8M': 8 * MIB, '1G': 1 << 30}


@pytest.mark.parametrize('where', sorted(STARTS))
def test_ext4_without_table_is_refused(tmp_path, where):
    """The reported case: mkfs.ext4 in a partition at 1 MiB, then the table
    gone (wipefs of the disk, a zeroed first MiB): formatted until now."""
    disk = str(tmp_path / 'disk.img')
    off = STARTS[where]
    blank(disk, max(DISK, off + 64 * MIB))
    put_fs(tmp_path, disk, off, EXT4)
    with open(disk, 'rb') as f:
        if off >= MIB:
            assert f.read(MIB) == b'\0' * MIB
    refused(disk, 'ext2/3/4 file system', off + 0x438)


FOREIGN_AT_1M = {
    'vfat': (['mkfs.vfat'], 'vfat file system', 0x36),
    'swap': (['mkswap'], 'swap space', 4096 - 10),
}


@pytest.mark.parametrize('kind', sorted(FOREIGN_AT_1M))
def test_other_signatures_at_1m(tmp_path, kind):
    argv, name, rel = FOREIGN_AT_1M[kind]
    disk = str(tmp_path / 'disk.img')
    blank(disk)
    put_fs(tmp_path, disk, MIB, argv)
    refused(disk, name, MIB + rel)


def test_zfs_label_at_1m(tmp_path):
    disk = str(tmp_path / 'disk.img')
    blank(disk)
    with open(disk, 'r+b') as f:
        f.seek(MIB + 128 * 1024 + 5 * 1024)
        f.write(b'\x0c\xb1\xba\0\0\0\0\0')
    refused(disk, 'ZFS label', MIB + 133 * 1024)


def wipe_table(disk):
    """What an interrupted first boot leaves: no table (first and last MiB
    zero), the file system already at 1 MiB."""
    size = os.path.getsize(disk)
    with open(disk, 'r+b') as f:
        f.write(b'\0' * MIB)
        f.seek(size - MIB)
        f.write(b'\0' * MIB)


def test_interrupted_first_boot_is_made_again(tmp_path):
    """blk writes the file system first and the table last: a boot killed in
    between leaves blk's own, never mounted ext4 at 1 MiB and no table. That
    disk is still ours (also without its primary superblock: killed earlier)."""
    disk = str(tmp_path / 'disk.img')
    start, plen = mkfs(disk, DISK)
    assert start == MIB
    wipe_table(disk)
    r = run(TOOL, 'mkfs-scratch', disk)
    assert re.search(r'partition 1 .* at byte %d' % MIB, r.stdout), r.stdout
    wipe_table(disk)
    with open(disk, 'r+b') as f:
        f.seek(MIB)
        f.write(b'\0' * 4096)           # the primary superblock goes last
    run(TOOL, 'mkfs-scratch', disk)
    with Loop(disk, MIB, plen) as dev:
        r = run('e2fsck', '-fn', dev, check=False)
        assert r.returncode == 0, r.stdout + r.stderr


def test_used_scratch_without_table_is_refused(tmp_path):
    """Once mounted, blk's file system holds somebody's data: a wiped table
    does not make it ours again."""
    disk = str(tmp_path / 'disk.img')
    start, plen = mkfs(disk, DISK)
    mnt = str(tmp_path / 'mnt')
    os.mkdir(mnt)
    with Loop(disk, start, plen) as dev:
        run('mount', '-t', 'ext4', dev, mnt)
        try:
            with open(os.path.join(mnt, 'precious'), 'w') as f:
                f.write('data')
        finally:
            run('umount', mnt)
    wipe_table(disk)
    refused(disk, 'ext2/3/4 file system', MIB + 0x438)


def test_other_label_or_size_is_refused(tmp_path):
    """Never mounted but not blk's plan for this disk (a smaller ext4 that
    blk made with its label elsewhere, e.g. copied from another disk)."""
    disk = str(tmp_path / 'disk.img')
    small = str(tmp_path / 'small.img')
    mkfs(small, 128 * MIB)
    blank(disk)
    with open(small, 'rb') as src, open(disk, 'r+b') as dst:
        src.seek(MIB)
        dst.seek(MIB)
        dst.write(src.read(120 * MIB))
    refused(disk, 'ext2/3/4 file system', MIB + 0x438)
