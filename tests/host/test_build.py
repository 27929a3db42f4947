# SPDX-License-Identifier: MIT
"""Host layer: the build products themselves (static init, initramfs, repro)."""
import hashlib
import os
import shutil
import subprocess

from conftest import BUILD, ROOT, TP


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


CHECK_STATIC = os.path.join(ROOT, 'linker', 'check-static')


def check_static(path):
    return subprocess.run([CHECK_STATIC, path], capture_output=True, text=True)


def test_check_static_refuses_dynamic_binaries(tmp_path):
    """The build's guard (linker/check-static, run on every build/init) must
    refuse what a wrong link gives, naming the cause, and pass a static one."""
    src = tmp_path / 'hello.c'
    src.write_text('int main(void) { return 0; }\n')
    cases = [('dynamic', ['gcc'], 'has a program interpreter; link with -static'),
             ('static-pie', ['gcc', '-static-pie', '-fPIE'],
              'has a dynamic section; link with -static, not -static-pie'),
             ('static', ['musl-gcc', '-static'], None)]
    for name, cc, why in cases:
        exe = str(tmp_path / name)
        r = subprocess.run(cc + ['-o', exe, str(src)], capture_output=True, text=True)
        assert r.returncode == 0, '%s: %s' % (' '.join(cc), r.stderr)
        r = check_static(exe)
        if why is None:
            assert r.returncode == 0, '%s: %s' % (name, r.stderr)
        else:
            assert r.returncode == 1 and why in r.stderr, '%s: rc %d %s' % (name, r.returncode,
                                                                            r.stderr)


def test_init_is_static():
    """build/init itself: a static x86-64 executable, no interpreter, no
    dynamic section, stripped (the initramfs carries it as PID 1)."""
    init = os.path.join(BUILD, 'init')
    r = check_static(init)
    assert r.returncode == 0, r.stderr
    with open(init, 'rb') as f:
        ehdr = f.read(20)
    # ELFCLASS64, little-endian, ET_EXEC (2), EM_X86_64 (62)
    assert ehdr[:4] == b'\x7fELF' and ehdr[4] == 2 and ehdr[5] == 1, ehdr
    assert int.from_bytes(ehdr[16:18], 'little') == 2, 'not ET_EXEC (a PIE?)'
    assert int.from_bytes(ehdr[18:20], 'little') == 62
    syms = subprocess.run(['readelf', '-SW', init], capture_output=True, text=True).stdout
    assert '.symtab' not in syms and '.interp' not in syms, syms


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
    byte-identical build/init, initramfs, ISO and raw disk. Only the fetched third-party
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
    shutil.copytree(os.path.join(TP, 'src'), tp, symlinks=True,
                    ignore=shutil.ignore_patterns('bld', 'bld-min', '*.opts', '.lock'))
    # A clean make of its own: not the B=/TP= of a make check that runs us.
    env = {k: v for k, v in os.environ.items()
           if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKEOVERRIDES', 'MAKELEVEL')}
    env['SOURCE_DATE_EPOCH'] = os.environ.get('SOURCE_DATE_EPOCH') or source_date_epoch()
    # The images too: the kernel comes from the machine's kernel cache
    # (boot/kernel.mk; the same key), the writers must add nothing of their own.
    r = subprocess.run(['make', '-j2', 'build/init', 'build/initramfs.cpio.xz',
                        'build/cvmboot.iso', 'build/cvmboot.hdd'], cwd=src,
                       env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for p in ('init', 'initramfs.cpio.xz', 'ca.cpio.xz', 'cvmboot.iso', 'cvmboot.hdd'):
        assert sha256(src / 'build' / p) == sha256(os.path.join(BUILD, p)), \
            '%s differs between two clean builds' % p


def test_cvmfs_lite_internal_headers_stay_inside():
    """Other modules include cvmfs-lite's public header (cvmfs-lite.h) and
    nothing else of it but format.h (the repository format, shared with
    cvmfs-pub) and cli.h (the host tool's verb): internal.h and fuse.h are
    for cvmfs-lite/ and its tests only (docs/STYLE.md §1)."""
    import re
    allowed = {'cvmfs-lite.h', 'format.h', 'cli.h'}
    inc = re.compile(r'^\s*#\s*include\s+"cvmfs-lite/([^"]+)"', re.M)
    bad = []
    for top in sorted(os.listdir(ROOT)):
        if top in ('cvmfs-lite', 'tests', 'third_party', 'docs') or top.startswith(('.', 'build')):
            continue
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith(('.c', '.h')):
                    p = os.path.join(d, f)
                    for h in inc.findall(open(p, errors='replace').read()):
                        if h not in allowed:
                            bad.append('%s includes cvmfs-lite/%s' % (os.path.relpath(p, ROOT), h))
    assert not bad, 'only cvmfs-lite/cvmfs-lite.h is public: ' + '; '.join(bad)
