# SPDX-License-Identifier: MIT
"""Helpers for the aufs-setup host tests (no tests here): build trees on
tmpfs mounts inside a private mount namespace, run build/cvmboot verbs there
and dump the trees back, so nothing ever touches the host's mounts.

Tree spec: {relative path: value}; "d" dir, "d:opaque" dir with
trusted.overlay.opaque=y, "f:TEXT" file, "l:TARGET" symlink, "w" whiteout
(0/0 character device). Parent directories are created as plain dirs.

Run as a script by ns_run() under `unshare -m --propagation private`."""
import json
import os
import stat
import subprocess
import sys

HERE = os.path.abspath(__file__)
OPAQUE = 'trusted.overlay.opaque'


def build(root, spec):
    for rel in sorted(spec):
        val = spec[rel]
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if val.startswith('d'):
            os.makedirs(p, exist_ok=True)
            if val == 'd:opaque':
                os.setxattr(p, OPAQUE, b'y', follow_symlinks=False)
        elif val.startswith('f:'):
            with open(p, 'w') as f:
                f.write(val[2:])
        elif val.startswith('l:'):
            os.symlink(val[2:], p)
        elif val == 'w':
            os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(0, 0))
        else:
            raise ValueError('bad tree spec %r for %s' % (val, rel))


def describe(p):
    st = os.lstat(p)
    if stat.S_ISDIR(st.st_mode):
        try:
            op = os.getxattr(p, OPAQUE, follow_symlinks=False)
        except OSError:
            op = b''
        return 'd:opaque' if op == b'y' else 'd'
    if stat.S_ISLNK(st.st_mode):
        return 'l:' + os.readlink(p)
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return 'w'
    if stat.S_ISREG(st.st_mode):
        with open(p, errors='replace') as f:
            return 'f:' + f.read()
    return '?%o' % st.st_mode


def dump(root):
    out = {}
    if not os.path.lexists(root):
        return None
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, root)] = describe(p)
    return out


def child(job):
    res = {'runs': [], 'dumps': {}}
    for d in job.get('tmpfs', []):
        os.makedirs(d, exist_ok=True)
        subprocess.run(['mount', '-t', 'tmpfs', 'tmpfs', d], check=True)
    for d, spec in job.get('trees', {}).items():
        os.makedirs(d, exist_ok=True)
        build(d, spec)
    for cmd in job.get('run', []):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                           shell=isinstance(cmd, str), executable='/bin/bash' if
                           isinstance(cmd, str) else None)
        res['runs'].append({'rc': r.returncode, 'out': r.stdout, 'err': r.stderr})
    for d in job.get('dump', []):
        res['dumps'][d] = dump(d)
    json.dump(res, sys.stdout)


def ns_run(job):
    """Runs job (tmpfs, trees, run, dump) in a private mount namespace."""
    r = subprocess.run(['unshare', '-m', '--propagation', 'private', sys.executable, HERE],
                       input=json.dumps(job), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


if __name__ == '__main__':
    child(json.load(sys.stdin))
