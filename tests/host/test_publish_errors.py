# SPDX-License-Identifier: MIT
"""Bad input to `cvmboot publish`: each case fails with an error naming the
path, and the repository stays at its previous valid revision."""
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from cvmfsrepo import Repo, keygen, publish

FQRN = 'test.repo'
NOBODY = 65534


@pytest.fixture
def repo(tmp_path, cvmboot):
    """A repository at revision 1 and its source tree."""
    keys = keygen(FQRN, tmp_path / 'keys', cvmboot=cvmboot)
    src = tmp_path / 'src'
    os.makedirs(src / 'd')
    (src / 'd/ok').write_bytes(b'fine\n')
    publish(src, tmp_path / 'repo', FQRN, keys, tag='v1')
    return tmp_path / 'repo', src, keys


def unchanged(repo, keys, cvmboot, before):
    assert open(repo / '.cvmfspublished', 'rb').read() == before
    r = subprocess.run([cvmboot, 'inspect', str(repo), '--verify', '--keys', keys['dir']],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = Repo(repo, FQRN, keys['pub']).check()
    assert s['revision'] == 1
    assert os.listdir(repo / 'data/txn') == []


def fails(repo, src, keys, cvmboot, *needles, **kw):
    before = open(repo / '.cvmfspublished', 'rb').read()
    r = publish(src, repo, FQRN, kw.pop('keydir', keys), check=False, **kw)
    assert r.returncode == 1, r.stdout + r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr
    assert 'is unchanged (still at its previous revision)' in r.stderr
    unchanged(repo, keys, cvmboot, before)
    return r.stderr


def test_newline_in_name(repo, cvmboot):
    repo, src, keys = repo
    (src / 'd/bad\nname').write_bytes(b'x')
    fails(repo, src, keys, cvmboot, str(src) + '/d/bad\\x0aname', 'contains a newline')


def test_invalid_utf8_name(repo, cvmboot):
    repo, src, keys = repo
    open(os.path.join(os.fsencode(src / 'd'), b'caf\xe9'), 'wb').write(b'x')
    fails(repo, src, keys, cvmboot, str(src) + '/d/caf\\xe9', 'not valid UTF-8')


def test_overlong_path(repo, cvmboot):
    repo, src, keys = repo
    fd = os.open(src / 'd', os.O_RDONLY)
    for _ in range(20):     # 20 * 201 bytes > 3800
        os.mkdir('n' * 200, dir_fd=fd)
        nfd = os.open('n' * 200, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    os.close(fd)
    fails(repo, src, keys, cvmboot, str(src) + '/d/nnnn', 'path of 3821 bytes is longer than 3800')


def test_deep_tree(repo, cvmboot):
    """1,890 nested directories (path 3,784 bytes, below the 3,800 limit):
    published like any tree, not a stack overflow in the walk (issue 13.8)."""
    repo, src, keys = repo
    depth = 1890
    fd = os.open(src / 'd', os.O_RDONLY)
    for _ in range(depth):
        os.mkdir('a', dir_fd=fd)
        nfd = os.open('a', os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    wfd = os.open('f', os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(wfd, b'bottom\n')
    os.close(wfd)
    os.close(fd)
    try:
        r = publish(src, repo, FQRN, keys, check=False)
        assert r.returncode == 0, 'rc %d: %s' % (r.returncode, r.stderr[-2000:])
        rp = Repo(repo, FQRN, keys['pub'])
        s = rp.check()
        assert s['revision'] == 2
        files = rp.files()
        deep = '/d' + '/a' * depth + '/f'
        assert files[deep] == b'bottom\n'
        assert files['/d/ok'] == b'fine\n'
        # our own verifier takes what publish makes
        v = subprocess.run([cvmboot, 'inspect', str(repo), '--verify', '--keys', keys['dir']],
                           capture_output=True, text=True)
        assert v.returncode == 0, v.stderr[-500:]
        # and the next publish reads it back as its previous revision
        (src / 'd/ok').write_bytes(b'again\n')
        publish(src, repo, FQRN, keys)
        assert Repo(repo, FQRN, keys['pub']).files()['/d/ok'] == b'again\n'
    finally:
        # shutil.rmtree recurses in Python 3.11 and would stop at this depth
        subprocess.run(['rm', '-rf', str(src / 'd/a')], check=True)


def test_catalogs_nested_too_deep(repo, cvmboot):
    """257 nested catalogs (a .cvmfscatalog in each of 257 nested
    directories) are refused at publish, naming the path; 256 are fine."""
    repo, src, keys = repo
    fd = os.open(src / 'd', os.O_RDONLY)
    for _ in range(257):
        os.mkdir('c', dir_fd=fd)
        nfd = os.open('c', os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
        os.close(os.open('.cvmfscatalog', os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    os.close(fd)
    fails(repo, src, keys, cvmboot, str(src) + '/d' + '/c' * 257 + ': catalogs nested more '
          'than 256 deep')
    os.unlink(src / ('d' + '/c' * 257) / '.cvmfscatalog')
    publish(src, repo, FQRN, keys)
    # (tests/lib's checker stops at 64 nested catalogs; our inspect goes to 256)
    assert int(Repo(repo, FQRN, keys['pub']).manifest()['fields']['S']) == 2
    v = subprocess.run([cvmboot, 'inspect', str(repo), '--verify', '--keys', keys['dir']],
                       capture_output=True, text=True)
    assert v.returncode == 0, v.stderr[-500:]
    (src / 'd/ok').write_bytes(b'again\n')
    publish(src, repo, FQRN, keys)


def test_xattr_over_limit(repo, cvmboot):
    repo, src, keys = repo
    (src / 'd/big-xattr').write_bytes(b'x')
    os.setxattr(src / 'd/big-xattr', 'user.big', b'v' * 256)
    fails(repo, src, keys, cvmboot, str(src) + '/d/big-xattr', 'user.big', 'at most 255')


def test_key_does_not_match_certificate(repo, cvmboot, tmp_path):
    repo, src, keys = repo
    other = keygen(FQRN, tmp_path / 'other', cvmboot=cvmboot)
    mixed = tmp_path / 'mixed'
    mixed.mkdir()
    for ext in ('pub', 'masterkey', 'crt'):
        shutil.copy(keys[ext], mixed)
    shutil.copy(other['key'], mixed)
    (src / 'd/new').write_bytes(b'new\n')
    fails(repo, src, keys, cvmboot, str(mixed) + '/test.repo.key',
          'does not match the certificate', keydir=str(mixed))


def test_unreadable_file(repo, cvmboot):
    repo, src, keys = repo
    (src / 'd/secret').write_bytes(b'secret\n')
    os.chmod(src / 'd/secret', 0)
    before = open(repo / '.cvmfspublished', 'rb').read()
    pre, work = None, None
    if os.geteuid() == 0:
        # root reads anything: publish as nobody, who owns everything else
        work = tempfile.mkdtemp(prefix='pub-nobody-')
        os.chmod(work, 0o755)
        for d in ('repo', 'src', 'keys'):
            subprocess.run(['cp', '-a', str(repo.parent / d), work], check=True)
        subprocess.run(['chown', '-R', '%d:%d' % (NOBODY, NOBODY), work], check=True)
        os.chown(os.path.join(work, 'src/d/secret'), 0, 0)
        repo, src = Path(work) / 'repo', Path(work) / 'src'
        keys = dict(keys, dir=os.path.join(work, 'keys'))

        def pre():
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
    try:
        cmd = [cvmboot, 'publish', str(src), str(repo), '--name', FQRN, '--keys', keys['dir']]
        r = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=pre)
        assert r.returncode == 1, r.stdout + r.stderr
        assert str(src / 'd/secret') in r.stderr and 'Permission denied' in r.stderr
        unchanged(repo, keys, cvmboot, before)
    finally:
        if work:
            shutil.rmtree(work)


def test_tree_changing_during_publish(repo, cvmboot):
    repo, src, keys = repo
    (src / 'd/growing').write_bytes(b'x' * 4096)
    # many files before it, so that it changes between the walk and its read
    for i in range(300):
        (src / 'd' / ('a%03d' % i)).write_bytes(b'%d\n' % i)
    stop = threading.Event()

    def grow():
        with open(src / 'd/growing', 'ab') as f:
            while not stop.is_set():
                f.write(b'y')
                f.flush()
                time.sleep(0.0005)
    t = threading.Thread(target=grow)
    t.start()
    try:
        fails(repo, src, keys, cvmboot, str(src) + '/d/growing', 'changed while being published')
    finally:
        stop.set()
        t.join()


@pytest.mark.skipif(os.geteuid() != 0, reason='needs root for a small tmpfs')
def test_full_disk(repo, cvmboot, tmp_path):
    """A 1 MiB tmpfs in a private mount namespace runs out of space."""
    repo, src, keys = repo
    (src / 'd/big').write_bytes(os.urandom(3 << 20))
    script = r'''
set -e
mount -t tmpfs -o size=1m tmpfs "$1"
cp -a "$2" "$1/repo"
cp "$1/repo/.cvmfspublished" "$1/before"
set +e
"$3" publish "$4" "$1/repo" --name test.repo --keys "$5" 2>"$1/err"
echo "rc=$?"
cat "$1/err"
cmp "$1/before" "$1/repo/.cvmfspublished" && echo SAME
"$3" inspect "$1/repo" --verify --keys "$5" >/dev/null 2>&1 && echo VERIFIED
ls "$1/repo/data/txn" | wc -l
'''
    mnt = tmp_path / 'mnt'
    mnt.mkdir()
    r = subprocess.run(['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh',
                        str(mnt), str(repo), cvmboot, str(src), keys['dir']],
                       capture_output=True, text=True, timeout=120)
    out = r.stdout
    assert 'rc=1' in out, out + r.stderr
    assert 'No space left on device' in out and str(src / 'd/big') in out, out
    assert 'SAME' in out and 'VERIFIED' in out, out
    assert out.strip().endswith('0'), out


def test_memory_does_not_grow_with_file_size(tmp_path, cvmboot):
    """Streaming: peak RSS publishing a 512 MiB file stays near a 16 MiB one."""
    keys = keygen(FQRN, tmp_path / 'keys', cvmboot=cvmboot)
    rss = {}
    for size in (16 << 20, 512 << 20):
        src = tmp_path / ('src%d' % size)
        src.mkdir()
        with open(src / 'f', 'wb') as f:
            f.truncate(size)        # sparse: cheap to make
            f.seek(size // 2)
            f.write(os.urandom(1 << 20))
        prog = ('import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, '
                'stdout=subprocess.DEVNULL); '
                'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)')
        r = subprocess.run([sys.executable, '-c', prog, cvmboot, 'publish', str(src),
                            str(tmp_path / ('repo%d' % size)), '--name', FQRN, '--keys',
                            keys['dir']], capture_output=True, text=True, check=True)
        rss[size] = int(r.stdout.strip())
    # kB; the bound is the chunk size (16 MiB max, two buffers), not the file
    assert rss[512 << 20] < rss[16 << 20] + 40 * 1024, rss


def test_repository_inside_source(repo, cvmboot):
    repo, src, keys = repo
    r = publish(src, src / 'd' / 'repo', FQRN, keys, check=False)
    assert r.returncode == 1 and 'is inside the source tree' in r.stderr
    assert not os.path.exists(src / 'd' / 'repo')
