# SPDX-License-Identifier: MIT
"""Host layer: the build products themselves (static init, initramfs, repro)."""
import hashlib
import os
import shutil
import subprocess

from conftest import BUILD, ROOT


def sha256(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def cpio_names(path):
    data = open(path, 'rb').read()
    off, out = 0, []
    while True:
        h = data[off:off + 110]
        assert h[:6] == b'070701', 'bad newc magic at %d' % off
        f = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        name = data[off + 110:off + 110 + f[11] - 1].decode()
        off = (off + 110 + f[11] + 3) & ~3
        if name == 'TRAILER!!!':
            return out
        out.append((name, f))
        off = (off + f[6] + 3) & ~3


def test_init_is_static():
    out = subprocess.run(['file', os.path.join(BUILD, 'init')], capture_output=True,
                         text=True).stdout
    assert 'statically linked' in out and 'ELF 64-bit' in out, out
    hdrs = subprocess.run(['readelf', '-lW', os.path.join(BUILD, 'init')],
                          capture_output=True, text=True).stdout
    assert 'INTERP' not in hdrs and 'DYNAMIC' not in hdrs


def test_initramfs_members_sorted_owned_by_root():
    names = cpio_names(os.path.join(BUILD, 'initramfs.cpio'))
    assert [n for n, _ in names] == sorted(n for n, _ in names)
    assert 'init' in [n for n, _ in names] and 'dev/console' in [n for n, _ in names]
    epoch = int(os.environ.get('SOURCE_DATE_EPOCH') or source_date_epoch())
    for name, f in names:
        assert f[2] == 0 and f[3] == 0, '%s not owned by 0:0' % name
        assert f[5] == epoch, '%s mtime %d != SOURCE_DATE_EPOCH %d' % (name, f[5], epoch)
    # The kernel needs a compressed archive it can unpack: xz with CRC32.
    xz = subprocess.run(['xz', '-lv', os.path.join(BUILD, 'initramfs.cpio.xz')],
                        capture_output=True, text=True).stdout
    assert 'CRC32' in xz, xz


def source_date_epoch():
    r = subprocess.run(['git', 'log', '-1', '--format=%ct'], cwd=ROOT, capture_output=True,
                       text=True)
    return r.stdout.strip() or '0'


def test_two_clean_builds_are_identical(tmp_path):
    """A second clean build of the same sources in another directory gives
    byte-identical build/init and initramfs. Only the fetched third-party
    sources are copied (fetching is network); everything is rebuilt."""
    files = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=ROOT,
                           capture_output=True, check=True).stdout.split(b'\0')
    src = tmp_path / 'src'
    for f in filter(None, files):
        f = f.decode()
        if not os.path.exists(os.path.join(ROOT, f)):
            continue
        os.makedirs(src / os.path.dirname(f), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), src / f, follow_symlinks=False)
    tp = src / 'build' / 'third_party' / 'src'
    shutil.copytree(os.path.join(BUILD, 'third_party', 'src'), tp, symlinks=True,
                    ignore=shutil.ignore_patterns('bld', 'bld-min', '*.opts', '.lock'))
    env = dict(os.environ, SOURCE_DATE_EPOCH=os.environ.get('SOURCE_DATE_EPOCH') or
               source_date_epoch())
    r = subprocess.run(['make', '-j2', 'build/init', 'build/initramfs.cpio.xz'], cwd=src,
                       env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for p in ('init', 'initramfs.cpio.xz'):
        assert sha256(src / 'build' / p) == sha256(os.path.join(BUILD, p)), \
            '%s differs between two clean builds' % p
