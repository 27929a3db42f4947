# SPDX-License-Identifier: MIT
"""aufs-setup switch_root, in a child mount namespace: a stand-in initramfs
on tmpfs switches into a tmpfs "OS" whose init is Debian's busybox-static;
the old contents must be gone (but not other file systems mounted in it),
/dev and /proc carried over, and only the kept descriptors left open."""
import os

import pytest

from conftest import BUILD
from test_aufs_ns import ns_run

BUSYBOX = '/bin/busybox'

INIT = ('echo MARKER; cat /dev/marker; fds=; for f in /proc/$$/fd/*; do [ -L $f ] && fds="$fds ${f##*/}"; done; echo FDS $fds; '
        'echo ROOT $(ls / | tr "\\n" " ")')


@pytest.fixture
def busybox():
    if not os.access(BUSYBOX, os.X_OK):
        pytest.skip('Debian busybox-static is needed (apt-get install busybox-static)')
    return BUSYBOX


def test_switch_root_frees_initramfs_and_closes_fds(tmp_path, busybox):
    t = str(tmp_path)
    ini = t + '/initrd'
    script = '''set -e
mkdir -p {i}/etc {i}/bin {i}/deep/a/b/c {i}/proc {i}/dev {i}/newroot {i}/other
echo x > {i}/etc/file; echo y > {i}/deep/a/b/c/f; ln -s /etc/file {i}/link
mount -t tmpfs t {i}/other; echo keep > {i}/other/keep
mount -t tmpfs t {i}/dev; echo devmarker > {i}/dev/marker
mount -t proc proc {i}/proc
mount -t tmpfs t {i}/newroot
mkdir -p {i}/newroot/bin {i}/newroot/proc {i}/newroot/dev {i}/newroot/etc
cp {bb} {i}/newroot/bin/busybox; echo os > {i}/newroot/etc/os-release
mkdir -p {t}/peek {t}/peekother
mount --bind {i} {t}/peek; mount --bind {i}/other {t}/peekother
exec 7</etc/hostname 8</etc/hostname
{cvm} switch-root-test {i} /newroot --keep 8 --move /dev --move /proc -- \
    /bin/busybox sh -c '{init}'
echo PEEK $(ls -A {t}/peek | tr "\\n" " ")
echo OTHER $(ls -A {t}/peekother | tr "\\n" " ")
'''.format(i=ini, t=t, bb=busybox, cvm=os.path.join(BUILD, 'cvmboot'), init=INIT)
    res = ns_run({'tmpfs': [ini], 'run': [script]})
    r = res['runs'][0]
    assert r['rc'] == 0, r['out'] + r['err']
    lines = dict(l.split(' ', 1) if ' ' in l else (l, '') for l in r['out'].splitlines())
    assert 'MARKER' in lines, r['out']
    assert 'devmarker' in lines, '/dev was not carried over: ' + r['out']
    # The OS's init sees stdin/out/err and the one kept fd, nothing else
    # (the fd that listed /proc/$$/fd is gone by the time [ -L ] looks).
    assert sorted(os.path.basename(f) for f in lines['FDS'].split()) == ['0', '1', '2', '8'], \
        r['out']
    assert lines['ROOT'].split() == ['bin', 'dev', 'etc', 'proc'], r['out']
    # Everything of the old root is gone except the mount point of another fs.
    assert lines['PEEK'].split() == ['other'], r['out']
    assert lines['OTHER'].split() == ['keep'], r['out']
    assert 'ramfs 1' in r['err'] and 'moved 2' in r['err'], r['err']


def test_switch_root_refuses_non_mountpoint(tmp_path, busybox):
    ini = str(tmp_path / 'initrd')
    script = ('set -e; mkdir -p {i}/newroot/bin; cp {bb} {i}/newroot/bin/busybox; '
              'echo x > {i}/file; {cvm} switch-root-test {i} /newroot -- /bin/busybox true; '
              ).format(i=ini, bb=busybox, cvm=os.path.join(BUILD, 'cvmboot'))
    res = ns_run({'tmpfs': [ini], 'run': [script, 'ls %s' % ini]})
    r = res['runs'][0]
    assert r['rc'] == 1 and 'Invalid argument' in r['err'], r
    # Nothing was deleted.
    assert 'file' in res['runs'][1]['out'].split()


def test_switch_root_keeps_a_disk_root(tmp_path, busybox):
    """An old root that is not ramfs/tmpfs (someone booted root= a disk: here
    the host's own file system under tmp_path) is left from but never wiped."""
    ini = str(tmp_path / 'initrd')
    script = ('set -e; mkdir -p {i} {t}/peek; mount --bind {i} {i}; mount --bind {i} {t}/peek; '
              'mkdir {i}/newroot; echo x > {i}/file; '
              'mount -t tmpfs t {i}/newroot; mkdir {i}/newroot/bin; '
              'cp {bb} {i}/newroot/bin/busybox; '
              '{cvm} switch-root-test {i} /newroot -- /bin/busybox true; ls {t}/peek/file'
              ).format(t=str(tmp_path), i=ini, bb=busybox, cvm=os.path.join(BUILD, 'cvmboot'))
    res = ns_run({'run': [script]})
    r = res['runs'][0]
    assert r['rc'] == 0 and 'ramfs 0' in r['err'], r
