# SPDX-License-Identifier: MIT
"""Mount a repository with `cvmboot mount --foreground` for a test, and
compare a mounted tree with its source.

    with Mount(url, mnt, 'test.repo', keys['pub'], cache) as m:
        ...                     # m.pid, m.info ('<root hash> <revision> <tag>'), m.log()
"""
import os
import signal
import stat as S
import subprocess

from cvmfsrepo import cvmboot_path


class MountError(Exception):
    """`cvmboot mount` refused; the message is its verdict line."""


def is_mounted(path):
    path = os.path.realpath(path)
    with open('/proc/self/mounts') as f:
        return any(l.split()[1] == path for l in f)


class Mount:
    """Runs `cvmboot mount URL MNT --foreground ...` until it reports OK, and
    on exit sends SIGTERM to that PID (clean unmount) and waits for it."""

    def __init__(self, url, mnt, name, key, cache, *extra, timeout=60):
        self.mnt = str(mnt)
        self.logpath = os.path.join(str(cache) + '.log')
        keys = key if isinstance(key, (list, tuple)) else [key]
        self.cmd = [cvmboot_path(), 'mount', url, self.mnt, '--name', name, '--cache', str(cache),
                    '--foreground', '--log', self.logpath]
        for k in keys:
            self.cmd += ['--key', str(k)]
        self.cmd += [str(e) for e in extra]
        self.timeout = timeout
        self.proc = None
        self.info = None

    def log(self):
        try:
            with open(self.logpath) as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def start(self):
        os.makedirs(self.mnt, exist_ok=True)
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith('OK '):
            self.proc.wait(self.timeout)
            raise MountError((line.strip() or 'no verdict (exit %s): %s' %
                              (self.proc.returncode, self.proc.stderr.read())) +
                             '\n--- log ---\n' + self.log())
        self.info = line[3:].strip()
        self.pid = self.proc.pid
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                subprocess.run(['umount', '-l', self.mnt])
                self.proc.kill()
                self.proc.wait()
        if is_mounted(self.mnt):
            subprocess.run(['umount', '-l', self.mnt])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def same_content(a, b):
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def compare_trees(src, mnt, expand=None):
    """Every path, type, mode, uid, gid, size, mtime (s and ns), nlink of
    files, rdev, symlink target, xattr and regular file content of src must
    be the same under mnt; hardlinked files must share one inode on mnt and
    others must not. expand: {raw link target: expected expanded target}.
    Returns the number of entries compared; raises AssertionError naming
    the first difference."""
    n = 0
    ino_groups = {}
    seen_mnt_inos = {}
    for dirpath, dirs, files in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        mdir = os.path.normpath(os.path.join(mnt, rel_dir))
        want = sorted(dirs + files)
        have = sorted(os.listdir(mdir))
        assert want == have, '%s: entries %s != %s' % (rel_dir, want, have)
        for name in dirs + files:
            s = os.path.join(dirpath, name)
            m = os.path.join(mdir, name)
            rel = os.path.join(rel_dir, name)
            a, b = os.lstat(s), os.lstat(m)
            for field in ('st_mode', 'st_uid', 'st_gid', 'st_mtime_ns'):
                assert getattr(a, field) == getattr(b, field), \
                    '%s: %s %r != %r' % (rel, field, getattr(a, field), getattr(b, field))
            if S.S_ISREG(a.st_mode):
                assert a.st_size == b.st_size, '%s: size' % rel
                assert a.st_nlink == b.st_nlink, '%s: nlink %d != %d' % (rel, a.st_nlink,
                                                                         b.st_nlink)
                assert same_content(s, m), '%s: content differs' % rel
                ino_groups.setdefault(a.st_ino, set()).add(b.st_ino)
                other = seen_mnt_inos.setdefault(b.st_ino, a.st_ino)
                assert other == a.st_ino, '%s: shares inode %d with an unrelated file' % (
                    rel, b.st_ino)
            elif S.S_ISLNK(a.st_mode):
                t = os.readlink(s)
                want_t = expand.get(t, t) if expand else t
                assert os.readlink(m) == want_t, '%s: link %r != %r' % (rel, os.readlink(m),
                                                                        want_t)
                assert b.st_size == len(want_t.encode()), '%s: link size' % rel
            elif S.S_ISCHR(a.st_mode) or S.S_ISBLK(a.st_mode):
                assert a.st_rdev == b.st_rdev, '%s: rdev' % rel
            if not S.S_ISLNK(a.st_mode):
                xa = {k: os.getxattr(s, k, follow_symlinks=False)
                      for k in os.listxattr(s, follow_symlinks=False) if k.startswith('user.')}
                xb = {k: os.getxattr(m, k, follow_symlinks=False)
                      for k in os.listxattr(m, follow_symlinks=False)}
                assert xa == xb, '%s: xattrs %r != %r' % (rel, xa, xb)
            n += 1
    for src_ino, mnt_inos in ino_groups.items():
        assert len(mnt_inos) == 1, 'hardlinks of source inode %d got inodes %s' % (
            src_ino, mnt_inos)
    return n
