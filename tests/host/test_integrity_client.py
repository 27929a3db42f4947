# SPDX-License-Identifier: MIT
"""cvmfs-lite client under attack (issue 13): a hostile server on 127.0.0.1,
a key holder's re-signed catalogs, a tampered cache directory. Each test is
one numbered case of the issue; each failed on the code before its fix.

  1. a chunk that fails verification: EIO, never a short read; stat size stays
  2. nothing unverified reaches the cache (certificate of a forged manifest,
     zlib bombs), and raw / compressed objects cannot stand for each other
  3. a --root-hash mount keeps the replay floor
  5. cache files: no symlinks followed, truncated objects refetched
  6. an HTTP 404 for the whitelist is an error, not "offline"
"""
import hashlib
import os
import re
import shutil
import sqlite3
import time
import zlib

import pytest

from cvmfsmount import Mount, MountError
from cvmfsrepo import F_CHUNKED, Repo, hex_of, keygen, openssl, publish
from faults import FaultProxy
from servers import Nginx

FQRN = 'integrity.cvmboot.org'
pytestmark = pytest.mark.skipif(not os.access('/dev/fuse', os.W_OK) or os.geteuid() != 0,
                                reason='needs root and /dev/fuse')
ZCONTENT = zlib.compress(b'the real bytes of z.bin, which happen to be a zlib stream\n' * 40)


@pytest.fixture(scope='module')
def repo(tmp_path_factory):
    """Two revisions (v1, v2) of a tree with a chunked file, a plain file,
    and z.bin whose content is itself a zlib stream."""
    base = tmp_path_factory.mktemp('integrity')
    tree = base / 'tree'
    os.makedirs(tree / 'd')
    rnd = __import__('random').Random(13)
    (tree / 'big.bin').write_bytes(rnd.randbytes(3 * 1024 * 1024 + 12345))
    (tree / 'small.bin').write_bytes(rnd.randbytes(100000))
    (tree / 'z.bin').write_bytes(ZCONTENT)
    (tree / 'd' / 'release').write_text('release 1\n')
    keys = keygen(FQRN, base / 'keys')
    r = base / 'repo'
    publish(tree, r, FQRN, keys, tag='v1', chunk_min='256k', chunk_avg='512k', chunk_max='1M')
    v1_manifest = (r / '.cvmfspublished').read_bytes()
    v1_root = Repo(r).manifest()['fields']['C']
    time.sleep(1.1)		# manifest timestamps are seconds
    (tree / 'd' / 'release').write_text('release 2\n')
    publish(tree, r, FQRN, keys, tag='v2', chunk_min='256k', chunk_avg='512k', chunk_max='1M')
    with Nginx(str(r)) as web:
        yield {'base': base, 'tree': tree, 'keys': keys, 'repo': r, 'web': web,
               'v1_manifest': v1_manifest, 'v1_root': v1_root}


def refused(*args, match=None):
    """The mount must be refused (MountError, message matching match);
    returns the message. A mount that comes up anyway is stopped, not leaked."""
    m = Mount(*args)
    try:
        m.start()
    except MountError as e:
        if match:
            assert re.search(match, str(e)), str(e)
        return str(e)
    m.stop()
    pytest.fail('mounted, but must be refused; log:\n' + m.log())


def copy_repo(repo, dst):
    shutil.copytree(str(repo['repo']), str(dst))
    return dst


def put(path, data):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    if os.path.exists(str(path)):
        os.chmod(str(path), 0o644)
    with open(str(path), 'wb') as f:
        f.write(data)


def cache_file(cache, hexhash, raw=False):
    return os.path.join(str(cache), hexhash[:2], hexhash[2:] + ('.raw' if raw else ''))


def entry(r, path):
    return Repo(r).walk()[path]


def sign_manifest(r, key, body):
    """Writes .cvmfspublished of r with this body, signed with key."""
    h = hashlib.sha1(body.encode()).hexdigest()
    rc, sig, err = openssl('dgst', '-sha1', '-sign', key, data=h.encode())
    assert rc == 0, err
    put(r / '.cvmfspublished', body.encode() + b'--\n' + h.encode() + b'\n' + sig)


def manifest_body(r, **fields):
    raw = (r / '.cvmfspublished').read_bytes()
    lines = raw[:raw.index(b'\n--\n') + 1].decode().split('\n')
    out = []
    for l in lines:
        if l and l[0] in fields:
            l = l[0] + fields[l[0]]
        out.append(l)
    return '\n'.join(out)


# ---- 1. never a short read ----

def test_corrupt_chunk_is_eio_not_short_read(repo, tmp_path):
    r = copy_repo(repo, tmp_path / 'r')
    e = entry(r, '/big.bin')
    assert e['flags'] & F_CHUNKED and len(e['chunks']) >= 3
    # the first chunk after the first one that starts inside a page
    bad = [i for i, (o, _, _) in enumerate(e['chunks']) if i and o % 4096]
    assert bad, 'the test needs a chunk boundary that is not page-aligned'
    ci = bad[0]
    off1, size1, h1 = e['chunks'][ci]
    obj = Repo(r).object_path(h1, 'P')
    put(obj, zlib.compress(b'not the chunk' * 1000))
    want = (repo['tree'] / 'big.bin').read_bytes()
    with Nginx(str(r)) as web:
        with Mount(web.url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], tmp_path / 'c',
                   '--retries', '0') as m:
            p = os.path.join(m.mnt, 'big.bin')
            assert os.stat(p).st_size == len(want)
            with pytest.raises(OSError) as ei:
                with open(p, 'rb') as f:
                    got = f.read()
                    # before the fix: success with the bytes before the bad chunk
                    assert False, 'read %d of %d bytes without an error' % (len(got), len(want))
            assert ei.value.errno == 5
            # the size never shrinks, and the good first chunk still reads
            assert os.stat(p).st_size == len(want)
            fd = os.open(p, os.O_RDONLY)
            try:
                assert os.pread(fd, 4096, 0) == want[:4096]
                assert os.pread(fd, 4096, off1 - 8192) == want[off1 - 8192:off1 - 4096]
                # the page where the bad chunk starts: an error, not its good head
                with pytest.raises(OSError) as ei:
                    os.pread(fd, 4096, off1 - off1 % 4096)
                assert ei.value.errno == 5
                # a read across it may stop before it (the kernel's partial
                # read), but never returns a wrong or a missing byte
                got = os.pread(fd, 8192, off1 - off1 % 4096 - 4096)
                assert got == want[off1 - off1 % 4096 - 4096:][:len(got)] and len(got) <= 4096
                assert os.fstat(fd).st_size == len(want)
            finally:
                os.close(fd)
            assert 'read chunk %d of inode' % ci in m.log()


# ---- 5. (and 1) the cache directory: symlinks and truncated objects ----

def test_cache_symlink_and_truncation_refused(repo, tmp_path):
    cache = tmp_path / 'c'
    small = (repo['tree'] / 'small.bin').read_bytes()
    big = (repo['tree'] / 'big.bin').read_bytes()
    url, key = repo['web'].url, repo['keys']['pub']
    with Mount(url, tmp_path / 'mnt', FQRN, key, cache) as m:
        assert open(os.path.join(m.mnt, 'small.bin'), 'rb').read() == small
        assert open(os.path.join(m.mnt, 'big.bin'), 'rb').read() == big
    e = entry(repo['repo'], '/small.bin')
    hs = hex_of('sha1', e['hash'])
    hc = entry(repo['repo'], '/big.bin')['chunks'][1][2]
    assert os.path.getsize(cache_file(cache, hs)) == len(small)
    # a local user plants a symlink to a secret of the very same size
    secret = tmp_path / 'secret'
    secret.write_bytes(b'S' * len(small))
    os.unlink(cache_file(cache, hs))
    os.symlink(str(secret), cache_file(cache, hs))
    # and truncates a cached chunk
    with open(cache_file(cache, hc), 'r+b') as f:
        f.truncate(1000)
    with Mount(url, tmp_path / 'mnt', FQRN, key, cache) as m:
        assert open(os.path.join(m.mnt, 'small.bin'), 'rb').read() == small
        assert open(os.path.join(m.mnt, 'big.bin'), 'rb').read() == big
        assert os.stat(os.path.join(m.mnt, 'big.bin')).st_size == len(big)
        log = m.log()
        assert 'not a regular file of %d bytes' % len(small) in log, log
    assert not os.path.islink(cache_file(cache, hs))
    assert secret.read_bytes() == b'S' * len(small)
    # a fifo is refused too, without blocking the open
    os.unlink(cache_file(cache, hs))
    os.mkfifo(cache_file(cache, hs))
    with Mount(url, tmp_path / 'mnt', FQRN, key, cache) as m:
        assert open(os.path.join(m.mnt, 'small.bin'), 'rb').read() == small


# ---- 2. verify before commit ----

def test_forged_manifest_certificate_never_cached(repo, tmp_path):
    """A network attacker serves a manifest whose X names a zlib bomb: the
    mount is refused and nothing of it is in the cache."""
    r = copy_repo(repo, tmp_path / 'r')
    bomb = zlib.compress(b'\0' * (64 << 20), 9)
    xh = hashlib.sha1(bomb).hexdigest()
    put(Repo(r).object_path(xh, 'X'), bomb)
    put(r / '.cvmfspublished', manifest_body(r, X=xh).encode() + b'--\n' + b'0' * 40 + b'\nsig')
    cache = tmp_path / 'c'
    with Nginx(str(r)) as web:
        refused(web.url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], cache, '--retries', '0',
                match='certificate')
    assert not os.path.exists(cache_file(cache, xh))
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(str(cache))
                for f in fs)
    assert total < (1 << 20), 'cache holds %d bytes after a refused mount' % total


def test_raw_object_cannot_be_planted_compressed(repo, tmp_path):
    """A key holder's repository stores z.bin uncompressed; its bytes are a
    zlib stream. One forged manifest naming them as certificate must not
    make the next (legitimate) mount serve them inflated."""
    # the legitimate repository: z.bin re-published uncompressed (flags
    # compression = none), catalog and manifest re-signed with the repo key
    good = copy_repo(repo, tmp_path / 'good')
    rp = Repo(good)
    m = rp.manifest()['fields']
    root = m['C']
    db_path = str(tmp_path / 'cat.db')
    with open(db_path, 'wb') as f:
        f.write(rp.object(root, 'C'))
    zh = hashlib.sha1(ZCONTENT).digest()
    db = sqlite3.connect(db_path)
    n = db.execute('UPDATE catalog SET flags = flags | (1 << 11), hash = ? WHERE name = ?',
                   (zh, 'z.bin')).rowcount
    assert n == 1
    db.commit()
    db.close()
    cat = zlib.compress(open(db_path, 'rb').read(), 6)
    ch = hashlib.sha1(cat).hexdigest()
    put(rp.object_path(ch, 'C'), cat)
    put(rp.object_path(zh.hex()), ZCONTENT)
    sign_manifest(good, repo['keys']['key'],
                  manifest_body(good, C=ch, B=str(os.path.getsize(db_path))))
    # the attacker's copy: a manifest whose X names z.bin's raw object
    evil = copy_repo(repo, tmp_path / 'evil')
    put(Repo(evil).object_path(zh.hex(), 'X'), ZCONTENT)
    put(evil / '.cvmfspublished', manifest_body(evil, X=zh.hex()).encode() + b'--\n' +
        b'0' * 40 + b'\nsig')
    cache = tmp_path / 'c'
    key = repo['keys']['pub']
    with Nginx(str(evil)) as web:
        refused(web.url, tmp_path / 'mnt', FQRN, key, cache, '--retries', '0')
    with Nginx(str(good)) as web:
        with Mount(web.url, tmp_path / 'mnt', FQRN, key, cache) as mt:
            assert open(os.path.join(mt.mnt, 'z.bin'), 'rb').read() == ZCONTENT
            assert open(os.path.join(mt.mnt, 'd', 'release')).read() == 'release 2\n'
    assert os.path.getsize(cache_file(cache, zh.hex(), raw=True)) == len(ZCONTENT)


# ---- 3. pinning keeps replay protection ----

def test_root_hash_mount_keeps_replay_floor(repo, tmp_path):
    cache = tmp_path / 'c'
    key = repo['keys']['pub']
    with Mount(repo['web'].url, tmp_path / 'mnt', FQRN, key, cache) as m:
        assert open(os.path.join(m.mnt, 'd', 'release')).read() == 'release 2\n'
    # PID 1 pins the snapshot it booted: a --root-hash mount
    with Mount(repo['web'].url, tmp_path / 'mnt', FQRN, key, cache, '--root-hash',
               repo['v1_root']) as m:
        assert open(os.path.join(m.mnt, 'd', 'release')).read() == 'release 1\n'
    # now a network attacker replays the old, validly signed manifest
    r = copy_repo(repo, tmp_path / 'r')
    put(r / '.cvmfspublished', repo['v1_manifest'])
    with Nginx(str(r)) as web:
        refused(web.url, tmp_path / 'mnt', FQRN, key, cache, '--retries', '0', match='replayed')
    # the current manifest is still accepted
    with Mount(repo['web'].url, tmp_path / 'mnt', FQRN, key, cache) as m:
        assert open(os.path.join(m.mnt, 'd', 'release')).read() == 'release 2\n'


# ---- 6. an HTTP error is not "offline" ----

@pytest.mark.parametrize('what', ['.cvmfswhitelist', '.cvmfspublished'])
def test_http_404_is_an_error_not_offline(repo, tmp_path, what):
    cache = tmp_path / 'c'
    key = repo['keys']['pub']
    with Mount(repo['web'].url, tmp_path / 'mnt', FQRN, key, cache) as m:
        pass		# a snapshot in the cache that offline mode could serve
    with FaultProxy(repo['web'].url, mode='404', only=what) as p:
        msg = refused(p.url, tmp_path / 'mnt', FQRN, key, cache, '--retries', '0', match='404')
        assert 'offline' not in msg
        assert p.hits >= 1
    # nobody answering at all is still offline mode
    dead = FaultProxy(repo['web'].url)
    dead.start()
    url = dead.url
    dead.down()
    with Mount(url, tmp_path / 'mnt', FQRN, key, cache, '--retries', '0',
               '--timeout', '500') as m:
        assert 'offline' in m.log()
