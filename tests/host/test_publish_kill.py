# SPDX-License-Identifier: MIT
"""Crash safety of `cvmboot publish`: SIGKILL at random moments (seeded,
bounded count, spread over the whole run: walk, contents on all threads,
catalogs, history, reflog, manifest). After each kill the repository must
serve a complete revision: the previous one, or the new one if the kill came
after its manifest; the independent checker passes (signatures, reflog and
Y, every object of every tag) and our client mounts it and reads the files
of that revision. The next publish must then work."""
import os
import random
import signal
import subprocess
import time

import pytest

from cvmfsrepo import Repo, cvmboot_path, keygen, publish, rand

FQRN = 'test.repo'
SEED = int(os.environ.get('CVMBOOT_KILL_SEED', '19'))
KILLS = int(os.environ.get('CVMBOOT_KILL_COUNT', '10'))


def fill(src, gen):
    """A tree of gen's content: many small files, nested catalogs, chunked files."""
    want = {}
    for d in range(8):
        os.makedirs(src / ('d%d' % d), exist_ok=True)
        if d % 3 == 0:
            (src / ('d%d' % d) / '.cvmfscatalog').write_bytes(b'')
            want['/d%d/.cvmfscatalog' % d] = b''
        for i in range(150):
            data = b'gen %d file %d %d\n' % (gen, d, i) * (1 + i % 7)
            (src / ('d%d' % d) / ('f%03d' % i)).write_bytes(data)
            want['/d%d/f%03d' % (d, i)] = data
    for j in range(3):
        data = rand(3 << 20, 'gen%d-%d' % (gen, j))
        (src / ('big%d' % j)).write_bytes(data)
        want['/big%d' % j] = data
    return want


def test_publish_killed_at_random_points(tmp_path, cvmboot):
    rnd = random.Random(SEED)
    keys = keygen(FQRN, tmp_path / 'keys', cvmboot=cvmboot)
    src, repo = tmp_path / 'src', tmp_path / 'repo'
    opts = dict(chunk_min='256k', chunk_avg='512k', chunk_max='1M')
    served = {}                        # root catalog -> {path: bytes}
    want = fill(src, 0)
    t0 = time.monotonic()
    publish(src, repo, FQRN, keys, tag='g0', **opts)
    full = time.monotonic() - t0
    served[Repo(repo, FQRN, keys['pub']).manifest()['fields']['C']] = want
    mount_ok = os.access('/dev/fuse', os.W_OK) and os.geteuid() == 0
    web = None
    if mount_ok:
        from servers import Nginx
        web = Nginx(str(repo))
        web.start()
    outcomes = {'old': 0, 'new': 0}
    gen = 1
    want = fill(src, gen)
    try:
        for k in range(1, KILLS + 1):
            cmd = [cvmboot_path(), 'publish', str(src), str(repo), '--name', FQRN, '--keys',
                   keys['dir'], '--tag', 'g%d' % k, '--rehash']
            for o, v in opts.items():
                cmd += ['--' + o.replace('_', '-'), v]
            before = open(repo / '.cvmfspublished', 'rb').read()
            delay = rnd.uniform(0.0, full * 1.1)
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(delay)
            p.send_signal(signal.SIGKILL)
            p.communicate()
            now = open(repo / '.cvmfspublished', 'rb').read()
            r = Repo(repo, FQRN, keys['pub'])
            r.check()                          # a complete, signed revision
            root = r.manifest()['fields']['C']
            if now == before:
                outcomes['old'] += 1
                assert root in served
            else:
                outcomes['new'] += 1
                served[root] = want
                assert 'g%d' % k in r.tags()
                # new content only once this one is out; a killed publish is
                # retried with the same tree, as a site would (so whatever
                # the killed run left behind is met again)
                gen += 1
                want = fill(src, gen)
            files = r.files(root)
            expect = {p: d for p, d in served[root].items() if not p.endswith('.cvmfscatalog')}
            assert {p: files[p] for p in expect} == expect, 'kill %d after %.3f s' % (k, delay)
            if mount_ok:
                from cvmfsmount import Mount
                with Mount(web.url, tmp_path / ('mnt%d' % k), FQRN, keys['pub'],
                           tmp_path / ('cache%d' % k)) as m:
                    assert m.info.split()[0] == root
                    for p in ('/d0/f000', '/d7/f149', '/big2'):
                        with open(m.mnt + p, 'rb') as fh:
                            assert fh.read() == served[root][p], (k, p)
        print('kills: %d, previous revision kept %d times, new one complete %d times '
              '(full publish %.2f s)' % (KILLS, outcomes['old'], outcomes['new'], full))
        assert outcomes['old'] > 0
        # after all that, the same tree publishes and leaves no temporary files behind
        publish(src, repo, FQRN, keys, tag='final', **opts)
        r = Repo(repo, FQRN, keys['pub'])
        r.check()
        files = r.files()
        assert all(files[p] == d for p, d in want.items() if not p.endswith('.cvmfscatalog'))
        assert os.listdir(repo / 'data' / 'txn') == []
        assert [n for n in os.listdir(repo) if '.tmp.' in n] == []
    finally:
        if web:
            web.stop()
