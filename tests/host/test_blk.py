# SPDX-License-Identifier: MIT
"""Host layer, blk: `cvmboot mkfs-scratch` / `grow-scratch` on sparse image files,
judged by the kernel (loop mount) and by e2fsprogs' e2fsck -fn; foreign data is
never touched."""
import hashlib
import os
import re
import struct
import subprocess
import zlib

import pytest

from conftest import BUILD

GIB = 1 << 30
TOOL = os.path.join(BUILD, 'cvmboot')


def run(*argv, check=True):
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=600)
    if check:
        assert r.returncode == 0, '%s: %s%s' % (argv, r.stdout, r.stderr)
    return r


def gpt(path, sector=512):
    """Our own reading of the GPT (not blk's): both headers and CRCs must be
    right, the backup at the last sector. Returns the used entries as byte
    ranges."""
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        def hdr(lba):
            f.seek(lba * sector)
            h = f.read(92)
            assert h[:8] == b'EFI PART', 'no GPT header at LBA %d' % lba
            crc = struct.unpack_from('<I', h, 16)[0]
            assert zlib.crc32(h[:16] + b'\0' * 4 + h[20:]) == crc, 'header CRC at %d' % lba
            my, alt, first, last = struct.unpack_from('<QQQQ', h, 24)
            elba, n, esz, ecrc = struct.unpack_from('<QIII', h, 72)
            f.seek(elba * sector)
            ents = f.read(n * esz)
            assert zlib.crc32(ents) == ecrc, 'entry CRC for header at %d' % lba
            return my, alt, last, ents
        my, alt, last, ents = hdr(1)
        assert alt == size // sector - 1, 'backup header not at the end'
        assert hdr(alt)[3] == ents
        f.seek(0)
        mbr = f.read(512)
        assert mbr[510:512] == b'\x55\xaa' and mbr[446 + 4] == 0xEE
    parts = []
    for i in range(128):
        e = ents[i * 128:(i + 1) * 128]
        if e[:16] != b'\0' * 16:
            first, lastlba = struct.unpack_from('<QQ', e, 32)
            assert first * sector % (1 << 20) == 0, '1 MiB alignment'
            assert lastlba <= last
            parts.append((first * sector, (lastlba + 1 - first) * sector))
    return parts


class Loop:
    """A loop device over a byte range of a file; detached by name at exit."""

    def __init__(self, path, offset=0, size=None, ro=False):
        argv = ['losetup', '--find', '--show', '-o', str(offset)]
        if size:
            argv += ['--sizelimit', str(size)]
        if ro:
            argv.append('-r')
        self.dev = run(*(argv + [path])).stdout.strip()

    def __enter__(self):
        return self.dev

    def __exit__(self, *exc):
        run('losetup', '-d', self.dev, check=False)


def fsck_clean(dev):
    r = run('e2fsck', '-fn', dev, check=False)
    assert r.returncode == 0, 'e2fsck -fn %s: rc %d\n%s%s' % (dev, r.returncode, r.stdout,
                                                            r.stderr)
    return r.stdout


def mkfs(path, size):
    r = run(TOOL, 'mkfs-scratch', path, '--size', str(size))
    m = re.search(r'partition 1 .* at byte (\d+), (\d+) bytes', r.stdout)
    assert m, r.stdout
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize('size', [64 << 20, 1 * GIB, 20 * GIB, 200 * GIB, 2048 * GIB],
                         ids=['64M', '1G', '20G', '200G', '2T'])
def test_mkfs_mount_fsck(tmp_path, size):
    img = str(tmp_path / 'disk.img')
    start, plen = mkfs(img, size)
    assert gpt(img) == [(start, plen)]
    assert start == 1 << 20 and size - plen - start < 2 << 20
    # Metadata only: far less than 1% of the disk is ever written.
    written = os.stat(img).st_blocks * 512
    assert written < max(2 << 20, size // 20000), written
    with Loop(img, start, plen) as dev:
        out = fsck_clean(dev)
        assert '11/' in out
        info = run('dumpe2fs', '-h', dev).stdout
        assert re.search(r'Filesystem volume name:\s+UROOT', info)
        for feat in ('has_journal', 'extent', 'flex_bg', 'metadata_csum', '64bit'):
            assert re.search(r'features:.* %s' % feat, info), feat
        assert 'journal_checksum_v3' in info
        mnt = str(tmp_path / 'mnt')
        os.mkdir(mnt)
        run('mount', '-t', 'ext4', dev, mnt)
        try:
            os.makedirs(os.path.join(mnt, 'persistent', 'etc'))
            for i in range(200):
                with open(os.path.join(mnt, 'persistent', 'etc', 'f%d' % i), 'w') as f:
                    f.write('x' * (i * 97))
            with open(os.path.join(mnt, 'big'), 'wb') as f:
                f.write(os.urandom(8 << 20))
            st = os.statvfs(mnt)
            assert st.f_blocks * st.f_frsize > plen * 0.9
        finally:
            run('umount', mnt)
        fsck_clean(dev)


def test_mkfs_over_old_data(tmp_path):
    """Random bytes everywhere but the first and last MiB (which blankness
    checks): blk writes every metadata block it relies on, so stale bytes in
    unused inode tables, bitmaps and the journal never matter."""
    img = str(tmp_path / 'disk.img')
    size = 256 << 20
    with open(img, 'wb') as f:
        f.truncate(size)
        f.seek(1 << 20)
        f.write(os.urandom(size - (2 << 20)))
    r = run(TOOL, 'mkfs-scratch', img)
    start, plen = [int(x) for x in re.search(r'at byte (\d+), (\d+) bytes', r.stdout).groups()]
    with Loop(img, start, plen) as dev:
        fsck_clean(dev)
        mnt = str(tmp_path / 'mnt')
        os.mkdir(mnt)
        run('mount', '-t', 'ext4', dev, mnt)
        try:
            for i in range(2000):
                with open(os.path.join(mnt, 'f%d' % i), 'w') as f:
                    f.write(str(i))
        finally:
            run('umount', mnt)
        fsck_clean(dev)


def test_mkfs_block_device(tmp_path):
    """On a block device (a loop device with partitions) the kernel is told
    with BLKPG and the partition's node is awaited: it is there on return."""
    img = str(tmp_path / 'disk.img')
    with open(img, 'wb') as f:
        f.truncate(1 * GIB)
    dev = run('losetup', '--find', '--show', '--partscan', img).stdout.strip()
    try:
        r = run(TOOL, 'mkfs-scratch', dev)
        assert '(%sp1)' % dev in r.stdout, r.stdout
        fsck_clean(dev + 'p1')
        mnt = str(tmp_path / 'mnt')
        os.mkdir(mnt)
        run('mount', dev + 'p1', mnt)
        run('umount', mnt)
    finally:
        run('losetup', '-d', dev, check=False)
    assert gpt(img)[0][0] == 1 << 20


def test_mkfs_32bit_descriptors(tmp_path):
    """The 32-byte group descriptor path (no 64bit feature), same oracles."""
    img = str(tmp_path / 'disk.img')
    r = run(TOOL, 'mkfs-scratch', img, '--size', str(20 * GIB), '--no-64bit')
    start, plen = [int(x) for x in re.search(r'at byte (\d+), (\d+) bytes', r.stdout).groups()]
    with Loop(img, start, plen) as dev:
        fsck_clean(dev)
        info = run('dumpe2fs', '-h', dev).stdout
        assert '64bit' not in info and re.search(r'Group descriptor size:\s+32', info) is None
        mnt = str(tmp_path / 'mnt')
        os.mkdir(mnt)
        run('mount', '-t', 'ext4', dev, mnt)
        with open(os.path.join(mnt, 'f'), 'wb') as f:
            f.write(os.urandom(1 << 20))
        run('umount', mnt)
        fsck_clean(dev)


def sha(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def write_at(path, off, data):
    with open(path, 'r+b') as f:
        f.seek(off)
        f.write(data)


FOREIGN = {
    'ext4': (lambda p: run('mkfs.ext4', '-q', '-F', p), 'ext2/3/4 file system'),
    'vfat': (lambda p: run('mkfs.vfat', p), 'vfat file system'),
    'swap': (lambda p: run('mkswap', p), 'swap space'),
    'xfs': (lambda p: write_at(p, 0, b'XFSB\0\0\x10\0'), 'xfs file system'),
    'lvm': (lambda p: write_at(p, 512, b'LABELONE\x01\0\0\0\0\0\0\0\0\0\0\0\x20\0\0\0LVM2 001'),
            'LVM2 physical volume'),
    'mbr': (lambda p: subprocess.run(['sfdisk', '-q', p], input=',32M,83\n', text=True,
                                     check=True), 'MBR partition table'),
    'luks': (lambda p: write_at(p, 0, b'LUKS\xba\xbe\0\x02'), 'LUKS'),
    'mdraid': (lambda p: write_at(p, 4096, b'\xfc\x4e\x2b\xa9\x01\0\0\0'), 'mdraid 1.2'),
    'junk': (lambda p: write_at(p, 300000, b'hello'), 'data we did not write'),
    'junk-end': (lambda p: write_at(p, (64 << 20) - 5000, b'bye'), 'data we did not write'),
}


@pytest.mark.parametrize('kind', sorted(FOREIGN))
def test_foreign_disks_untouched(tmp_path, kind):
    img = str(tmp_path / 'disk.img')
    with open(img, 'wb') as f:
        f.truncate(64 << 20)
    make, name = FOREIGN[kind]
    make(img)
    before = sha(img)
    r = run(TOOL, 'mkfs-scratch', img, check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'not blank' in r.stderr and name in r.stderr, r.stderr
    assert sha(img) == before


def test_refuses_small_missing_readonly_and_rerun(tmp_path):
    img = str(tmp_path / 'disk.img')
    r = run(TOOL, 'mkfs-scratch', img, check=False)
    assert r.returncode == 1 and 'does not exist' in r.stderr
    r = run(TOOL, 'mkfs-scratch', img, '--size', '40M', check=False)
    assert r.returncode == 1 and 'too small' in r.stderr, r.stderr
    os.unlink(img)
    with open(img, 'wb') as f:
        f.truncate(256 << 20)
    with Loop(img, ro=True) as dev:
        r = run(TOOL, 'mkfs-scratch', dev, check=False)
        assert r.returncode == 1 and 'read-only' in r.stderr, r.stderr
    assert os.stat(img).st_blocks == 0
    mkfs(str(tmp_path / 'ok.img'), 256 << 20)
    before = sha(str(tmp_path / 'ok.img'))
    r = run(TOOL, 'mkfs-scratch', str(tmp_path / 'ok.img'), check=False)
    assert r.returncode == 1 and 'already holds a cvmboot scratch' in r.stderr
    assert sha(str(tmp_path / 'ok.img')) == before
    assert run(TOOL, 'mkfs-scratch', check=False).returncode == 2


def test_corrupt_gpt_is_refused(tmp_path):
    img = str(tmp_path / 'disk.img')
    start, plen = mkfs(img, 256 << 20)
    write_at(img, 2 * 512 + 40, b'\x5a')                     # primary entries
    write_at(img, (256 << 20) - 33 * 512 + 40, b'\x5a')      # backup entries
    before = sha(img)
    r = run(TOOL, 'grow-scratch', img, check=False)
    assert r.returncode == 1 and 'GPT corrupt' in r.stderr, r.stderr
    assert sha(img) == before


def has_cap_sys_resource():
    for line in open('/proc/self/status'):
        if line.startswith('CapEff:'):
            return bool(int(line.split()[1], 16) & (1 << 24))
    return False


def test_grow_file(tmp_path):
    """A 1 GiB scratch image grown to 3 GiB with truncate: the GPT backup moves
    to the new end and partition 1 follows it; with CAP_SYS_RESOURCE the ext4
    grows online too (else the kernel refuses and says why; the VM test
    tests/vm/test_vm_scratch.py covers the online resize)."""
    img = str(tmp_path / 'disk.img')
    start, plen = mkfs(img, 1 * GIB)
    with open(img, 'r+b') as f:
        f.truncate(3 * GIB)
    r = run(TOOL, 'grow-scratch', img, check=False)
    parts = gpt(img)
    assert parts[0][0] == start and parts[0][1] == 3 * GIB - (2 << 20), parts
    assert run('losetup', '-j', img).stdout == '', 'grow-scratch left a loop device'
    with Loop(img, start, parts[0][1]) as dev:
        fsck_clean(dev)
        blocks = int(re.search(r'Block count:\s+(\d+)', run('dumpe2fs', '-h', dev).stdout)
                     .group(1))
    if has_cap_sys_resource():
        assert r.returncode == 0, r.stderr
        assert blocks * 4096 > 2.9 * GIB
    else:
        assert r.returncode == 1 and 'CAP_SYS_RESOURCE' in r.stderr, r.stderr
        assert blocks * 4096 < 1 * GIB
    r = run(TOOL, 'grow-scratch', str(tmp_path / 'nothing.img'), check=False)
    assert r.returncode == 1
