# SPDX-License-Identifier: MIT
"""Fault injection between cvmfs-lite and its servers: tests/lib/faults.py
(a proxy on 127.0.0.1) in front of nginx serving a published repository,
mounted with `cvmboot mount`. Whatever a source does (reset mid-body, stall,
flip a byte, send other valid content, 404/500/429, trickle, refuse
connections), readers get the
published bytes or EIO, never other bytes; the client fails over to a good
server; EIO comes only when every source fails; and a source that comes back
is used again. (tests/host/test_mount_faults.py covers malformed HTTP.)"""
import errno
import os

import pytest

from cvmfsmount import Mount
from cvmfsrepo import keygen, publish
from faults import FaultProxy
from servers import Nginx

FQRN = 'faultproxy.cvmboot.org'
NFILES = 4
pytestmark = pytest.mark.skipif(not os.access('/dev/fuse', os.W_OK) or os.geteuid() != 0,
                                reason='needs root and /dev/fuse')


@pytest.fixture(scope='module')
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp('faultproxy')
    tree = base / 'tree'
    os.makedirs(tree / 'd')
    for i in range(NFILES):
        (tree / 'd' / ('f%d' % i)).write_bytes(os.urandom(3000 + 1000 * i))
    keys = keygen(FQRN, base / 'keys')
    publish(tree, base / 'repo', FQRN, keys)
    with Nginx(str(base / 'repo')) as web:
        yield {'tree': tree, 'keys': keys, 'web': web}


@pytest.fixture
def proxies(repo):
    """proxies(n) -> n FaultProxy in front of the repository's nginx; stopped after."""
    made = []

    def make(n, mode='pass'):
        for _ in range(n):
            made.append(FaultProxy(repo['web'].url, mode).start())
        return made[-n:]
    yield make
    for p in made:
        p.stop()


def want(repo, i):
    return (repo['tree'] / 'd' / ('f%d' % i)).read_bytes()


def read(m, i):
    with open(os.path.join(m.mnt, 'd', 'f%d' % i), 'rb') as f:
        return f.read()



@pytest.mark.parametrize('mode,why', [
    ('drop', 'Connection reset by peer'),
    ('stall', 'timed out'),
    ('corrupt', 'refused while arriving'),	# zlib's own check fires first
    ('swap', 'does not match its hash'),
    ('404', 'HTTP 404'),
    ('500', 'HTTP 500'),
    ('429', 'HTTP 429'),
    ('trickle', 'timed out'),
])
def test_faulty_source_fails_over(repo, proxies, tmp_path, mode, why):
    bad, = proxies(1, mode)
    with Mount('%s;%s' % (bad.url, repo['web'].url), tmp_path / 'mnt', FQRN, repo['keys']['pub'],
               tmp_path / 'cache', '--timeout', '1000', '--retries', '0') as m:
        for i in range(NFILES):
            assert read(m, i) == want(repo, i)
        log = m.log()
    assert bad.hits >= 1, 'the fault was never triggered'
    assert why in log, log
    assert 'failover' in log, log


def test_eio_only_when_every_source_fails_then_recovery(repo, proxies, tmp_path):
    a, b = proxies(2)
    with Mount('%s;%s' % (a.url, b.url), tmp_path / 'mnt', FQRN, repo['keys']['pub'],
               tmp_path / 'cache', '--timeout', '1000', '--retries', '0') as m:
        assert sorted(os.listdir(os.path.join(m.mnt, 'd'))) == ['f%d' % i for i in range(NFILES)]
        # One source bad, the other good: the bytes arrive.
        a.set('corrupt')
        assert read(m, 0) == want(repo, 0)
        # Both bad: EIO, never other bytes; metadata still served.
        b.set('500')
        with pytest.raises(OSError) as ei:
            read(m, 1)
        assert ei.value.errno == errno.EIO
        assert a.hits + b.hits >= 2
        assert os.stat(os.path.join(m.mnt, 'd', 'f1')).st_size == len(want(repo, 1))
        # One comes back: the same file now reads right.
        b.set('pass')
        assert read(m, 1) == want(repo, 1)
        # Both refuse connections: EIO; the first one comes back: served again.
        a.down()
        b.down()
        with pytest.raises(OSError) as ei:
            read(m, 2)
        assert ei.value.errno == errno.EIO
        a.set('pass')
        a.up()
        assert read(m, 2) == want(repo, 2)
        assert m.proc.poll() is None, 'the daemon died'
