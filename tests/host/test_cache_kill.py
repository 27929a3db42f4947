# SPDX-License-Identifier: MIT
"""Crash consistency of the cvmfs-lite cache, host form: `cvmboot mount` is
killed with SIGKILL at seeded random moments while readers pull files
through it (downloads, inflation and cache commits in flight), then the
same cache directory is mounted again. Every file must then read back
exactly as published: the cache never serves a half-written or unverified
object. (A power cut, which also loses the page cache, needs the VM tests.)"""
import os
import random
import signal
import threading
import time

import pytest

from cvmfsmount import Mount
from cvmfsrepo import keygen, publish
from faults import FaultProxy
from servers import Nginx

FQRN = 'cachekill.cvmboot.org'
TRIALS = 8
pytestmark = pytest.mark.skipif(not os.access('/dev/fuse', os.W_OK) or os.geteuid() != 0,
                                reason='needs root and /dev/fuse')


@pytest.fixture(scope='module')
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp('cachekill')
    tree = base / 'tree'
    os.makedirs(tree / 'd')
    rnd = random.Random(10)
    for i in range(24):
        size = rnd.choice([0, 1, 4096, 50000, 300000])
        (tree / 'd' / ('f%02d' % i)).write_bytes(rnd.randbytes(size))
    keys = keygen(FQRN, base / 'keys')
    publish(tree, base / 'repo', FQRN, keys, chunk_min=65536, chunk_avg=131072,
            chunk_max=262144)
    with Nginx(str(base / 'repo')) as web:
        yield {'tree': tree, 'keys': keys, 'web': web}


def reader(mnt, names, stop):
    for n in names:
        if stop.is_set():
            return
        try:
            with open(os.path.join(mnt, 'd', n), 'rb') as f:
                while f.read(16384):
                    pass
        except OSError:
            return		# the daemon is gone: ENOTCONN / ECONNABORTED


def test_sigkill_during_reads_then_remount(repo, tmp_path):
    names = sorted(os.listdir(repo['tree'] / 'd'))
    cache = tmp_path / 'cache'
    rnd = random.Random(20261122)
    # A slow source makes the kill land inside transfers, not between them.
    with FaultProxy(repo['web'].url, 'trickle', only='/data/') as slow:
        for trial in range(TRIALS):
            slow.set('pass' if trial % 2 else 'trickle')
            m = Mount('%s;%s' % (slow.url, repo['web'].url), tmp_path / 'mnt', FQRN,
                      repo['keys']['pub'], cache, '--timeout', '500', '--retries', '0').start()
            stop = threading.Event()
            order = names[:]
            rnd.shuffle(order)
            ts = [threading.Thread(target=reader, args=(m.mnt, order[k::3], stop))
                  for k in range(3)]
            for t in ts:
                t.start()
            time.sleep(rnd.uniform(0.02, 0.6))
            os.kill(m.pid, signal.SIGKILL)
            m.proc.wait(10)
            stop.set()
            m.stop()		# lazy unmount of the dead mount
            for t in ts:
                t.join(10)
                assert not t.is_alive(), 'a reader hangs on the dead mount'
    # Whatever was committed before the kills, the cache serves only right bytes.
    objs = [f for d in os.listdir(cache) if len(d) == 2 and os.path.isdir(cache / d)
            for f in os.listdir(cache / d)]
    assert len(objs) >= 10, 'too few objects were cached to check anything: %r' % objs
    with Mount(repo['web'].url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], cache) as m:
        for n in names:
            with open(os.path.join(m.mnt, 'd', n), 'rb') as f:
                assert f.read() == (repo['tree'] / 'd' / n).read_bytes(), n
