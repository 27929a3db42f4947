# SPDX-License-Identifier: MIT
"""The parallel publisher's output does not depend on its thread count: the
same tree published with 1, 2 and 8 workers (compress, hash and store in a
pool; one catalog writer) at the same --publish-time gives the same
repository bytes: the same object files with the same contents, the same root
catalog hash and the same history. The tree is made to race: files with the
same content (two workers store one object), hardlinks, nested catalogs and
large files cut into many chunks, some shared between files."""
import hashlib
import os

from cvmfsrepo import Repo, keygen, publish, rand

FQRN = 'test.repo'
CHUNKS = dict(chunk_min='64k', chunk_avg='128k', chunk_max='256k')
WHEN = 1767225600           # 2026-01-01T00:00:00Z


def tree(src):
    for d in range(6):
        os.makedirs(src / ('d%d' % d))
        if d % 2:
            (src / ('d%d' % d) / '.cvmfscatalog').write_bytes(b'')
        for i in range(120):
            # every 3rd file repeats another directory's content
            body = b'dir %d file %d\n' % (d if i % 3 else 0, i) * (1 + i % 11)
            (src / ('d%d' % d) / ('f%03d' % i)).write_bytes(body)
        os.link(src / ('d%d' % d) / 'f000', src / ('d%d' % d) / 'hard')
        os.symlink('f001', src / ('d%d' % d) / 'link')
    shared = rand(900 << 10, 'shared')
    for j in range(4):
        (src / ('big%d' % j)).write_bytes(rand(1 << 20, 'big%d' % j) + shared)
    (src / 'big-copy').write_bytes(open(src / 'big0', 'rb').read())


def snapshot(repo):
    """{relative path under data/: sha1 of the file's bytes}."""
    out = {}
    base = os.path.join(str(repo), 'data')
    for d in sorted(os.listdir(base)):
        if d == 'txn':
            continue
        for n in os.listdir(os.path.join(base, d)):
            out[d + '/' + n] = hashlib.sha1(open(os.path.join(base, d, n), 'rb').read()).hexdigest()
    return out


def test_same_repository_whatever_the_thread_count(tmp_path, cvmboot):
    keys = keygen(FQRN, tmp_path / 'keys', cvmboot=cvmboot)
    src = tmp_path / 'src'
    tree(src)
    snaps, roots = {}, {}
    for n in (1, 2, 8):
        repo = tmp_path / ('repo%d' % n)
        publish(src, repo, FQRN, keys, tag='v1', threads=n, publish_time=WHEN, **CHUNKS)
        r = Repo(repo, FQRN, keys['pub'])
        r.check()
        f = r.manifest()['fields']
        roots[n] = (f['C'], f['H'], f['T'])
        snaps[n] = snapshot(repo)
        walk = r.walk()
        assert len(walk['/big1']['chunks']) > 4, 'the big files are chunked'
    assert roots[1][2] == str(WHEN)
    assert roots[2] == roots[1] and roots[8] == roots[1]
    assert snaps[2] == snaps[1] and snaps[8] == snaps[1], \
        (set(snaps[2]) ^ set(snaps[1]), set(snaps[8]) ^ set(snaps[1]))


def test_publish_time_refused_when_bad(tmp_path, cvmboot):
    keys = keygen(FQRN, tmp_path / 'keys', cvmboot=cvmboot)
    src = tmp_path / 'src'
    os.makedirs(src)
    for bad in ('0', 'yesterday', '-5', '12x'):
        r = publish(src, tmp_path / 'repo', FQRN, keys, check=False, publish_time=bad)
        assert r.returncode == 2 and 'give Unix seconds' in r.stderr, (bad, r.stderr)


def test_publish_time_stays_after_the_previous_revision(tmp_path, cvmboot):
    """A --publish-time before the previous revision's timestamp is moved
    after it, as a clock that went back would be."""
    keys = keygen(FQRN, tmp_path / 'keys', cvmboot=cvmboot)
    src, repo = tmp_path / 'src', tmp_path / 'repo'
    os.makedirs(src)
    (src / 'f').write_bytes(b'1\n')
    publish(src, repo, FQRN, keys, publish_time=WHEN)
    (src / 'f').write_bytes(b'2\n')
    publish(src, repo, FQRN, keys, publish_time=WHEN - 3600)
    r = Repo(repo, FQRN, keys['pub'])
    r.check()
    assert int(r.manifest()['fields']['T']) == WHEN + 1
