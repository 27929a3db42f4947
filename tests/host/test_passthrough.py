# SPDX-License-Identifier: MIT
"""FUSE passthrough in cvmfs-lite on the host: where the kernel offers it
(Linux >= 6.9 with CONFIG_FUSE_PASSTHROUGH), a whole file's verified cache
file is handed to the kernel at OPEN and its reads never reach the daemon;
chunked and empty files, `--no-passthrough` and kernels without it keep the
normal path. The daemon's counters are read from the magic xattr
user.fuse_stats and from its log line at unmount."""
import gzip
import hashlib
import mmap
import os
import platform
import random
import re
import signal
import subprocess
import time

import pytest

from cvmfsmount import Mount
from cvmfsrepo import keygen, publish
from servers import Nginx

FQRN = 'passthrough.cvmboot.org'
pytestmark = pytest.mark.skipif(not os.access('/dev/fuse', os.W_OK) or os.geteuid() != 0,
                                reason='needs root and /dev/fuse')


def kernel_has_passthrough():
    """From the running kernel's own config, not from our daemon."""
    rel = platform.release()
    text = ''
    if os.path.exists('/proc/config.gz'):
        text = gzip.open('/proc/config.gz', 'rt').read()
    elif os.path.exists('/boot/config-' + rel):
        text = open('/boot/config-' + rel).read()
    else:
        pytest.skip('no kernel config to tell whether it has FUSE passthrough')
    return 'CONFIG_FUSE_PASSTHROUGH=y' in text


def stats(mnt):
    v = os.getxattr(mnt, 'user.fuse_stats').decode()
    return {k: int(x) for k, x in re.findall(r'(\w+)=(-?\d+)', v)}


@pytest.fixture(scope='module')
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp('passthrough')
    tree = base / 'tree'
    os.makedirs(tree / 'd')
    rnd = random.Random(14)
    files = {'d/whole.bin': rnd.randbytes(3 * 1024 * 1024 + 4321),	# below chunk_min
             'd/chunked.bin': rnd.randbytes(20 * 1024 * 1024 + 77),
             'd/small.txt': b'small file\n', 'd/empty': b''}
    for rel, data in files.items():
        with open(tree / rel, 'wb') as f:
            f.write(data)
    keys = keygen(FQRN, base / 'keys')
    publish(tree, base / 'repo', FQRN, keys, tag='v1', chunk_min='4M', chunk_avg='8M',
            chunk_max='16M')
    with Nginx(str(base / 'repo')) as web:
        yield {'base': base, 'files': files, 'keys': keys, 'web': web}


def read_all(path):
    with open(path, 'rb') as f:
        return f.read()


def wait_join(cache, n=1):
    """Waits (10 s at most) for the background join of a chunked file."""
    d = os.path.join(str(cache), 'join')
    end = time.monotonic() + 10
    ls = lambda: os.listdir(d) if os.path.isdir(d) else []	# made by the first join
    while time.monotonic() < end and len(ls()) < n:
        time.sleep(0.05)
    assert len(ls()) >= n, 'no join in %s' % d


def check_reads(m, files):
    """Reads every file, checks its bytes; returns the daemon READs each took."""
    took = {}
    for rel, data in files.items():
        before = stats(m.mnt)['daemon_reads']
        got = read_all(os.path.join(m.mnt, rel))
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), rel
        took[rel] = stats(m.mnt)['daemon_reads'] - before
    return took


def test_chunking_as_intended(repo, tmp_path):
    with Mount(repo['web'].url, tmp_path / 'mnt', FQRN, repo['keys']['pub'],
               tmp_path / 'cache') as m:
        cl = lambda rel: os.getxattr(os.path.join(m.mnt, rel), 'user.chunk_list')
        assert len(cl('d/whole.bin').decode().splitlines()) == 2	# header + one object
        assert len(cl('d/chunked.bin').decode().splitlines()) > 2


def test_passthrough_where_the_kernel_offers_it(repo, tmp_path):
    if not kernel_has_passthrough():
        pytest.skip('kernel %s has no FUSE passthrough (test_normal_path covers it)'
                    % platform.release())
    cache = tmp_path / 'cache'
    for boot in ('cold', 'warm'):	# objects fetched at OPEN, then found in the cache
        with Mount(repo['web'].url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], cache) as m:
            s0 = stats(m.mnt)
            assert s0['passthrough'] == 1 and s0['passthrough_error'] == 0, s0
            took = check_reads(m, repo['files'])
            s = stats(m.mnt)
            # whole.bin and small.txt: read by the kernel from the cache file
            assert took['d/whole.bin'] == 0 and took['d/small.txt'] == 0, (boot, took)
            # the chunked file: read by the daemon while its chunks are not all
            # cached at OPEN (cold); an open after that has them joined into one
            # backing file in the background (the next open's); warm: the kernel
            # reads it. The empty one has no object.
            joined = boot == 'warm'
            assert (took['d/chunked.bin'] == 0) == joined, (boot, took)
            assert s['opens'] - s0['opens'] == 4, (boot, s)
            assert s['passthrough_opens'] - s0['passthrough_opens'] == 2 + joined, (boot, s)
            if not joined:
                os.close(os.open(os.path.join(m.mnt, 'd', 'chunked.bin'), os.O_RDONLY))
                wait_join(cache)
            s = stats(m.mnt)
            # two opens of one inode at once share its backing file
            p = os.path.join(m.mnt, 'd', 'whole.bin')
            with open(p, 'rb') as a, open(p, 'rb') as b:
                assert a.read(100) == b.read(100) == repo['files']['d/whole.bin'][:100]
                # mmap goes to the backing file as well
                with mmap.mmap(a.fileno(), 0, prot=mmap.PROT_READ) as mm:
                    assert mm[-5000:] == repo['files']['d/whole.bin'][-5000:]
            s2 = stats(m.mnt)
            assert s2['passthrough_opens'] - s['passthrough_opens'] == 2, s2
            assert s2['daemon_reads'] == s['daemon_reads'], (s, s2)
        log = m.log()
        assert re.search(r'unmounted: \d+ file opens, [1-9]\d* read by the kernel', log), log


def test_no_passthrough_open_beside_a_cached_one(repo, tmp_path):
    """The kernel refuses to open an inode in passthrough mode while it is
    open without (and the reverse): a chunked file opened before its chunks
    were cached stays out of passthrough until that open is closed, then its
    join takes over. Each open below would fail with ETXTBSY otherwise."""
    if not kernel_has_passthrough():
        pytest.skip('kernel %s has no FUSE passthrough' % platform.release())
    data = repo['files']['d/chunked.bin']
    with Mount(repo['web'].url, tmp_path / 'mnt', FQRN, repo['keys']['pub'],
               tmp_path / 'cache') as m:
        p = os.path.join(m.mnt, 'd', 'chunked.bin')
        s0 = stats(m.mnt)
        with open(p, 'rb') as a:		# nothing cached: the daemon reads
            assert a.read() == data		# ... and caches every chunk
            with open(p, 'rb') as b:	# all cached now, but a is open
                assert b.read() == data
            s1 = stats(m.mnt)
            assert s1['passthrough_opens'] == s0['passthrough_opens'], (s0, s1)
        wait_join(tmp_path / 'cache')	# b's open asked for it
        with open(p, 'rb') as c:		# alone: joined, the kernel reads
            assert c.read() == data
            with open(p, 'rb') as d:	# beside it: the same backing file
                assert d.read(4096) == data[:4096]
        s2 = stats(m.mnt)
        assert s2['passthrough_opens'] == s1['passthrough_opens'] + 2, (s1, s2)
        assert s2['daemon_reads'] == s1['daemon_reads'], (s1, s2)


def test_normal_path_without_passthrough(repo, tmp_path):
    """--no-passthrough (and a kernel without it) keep every READ in the daemon."""
    with Mount(repo['web'].url, tmp_path / 'mnt', FQRN, repo['keys']['pub'],
               tmp_path / 'cache', '--no-passthrough') as m:
        s0 = stats(m.mnt)
        assert s0['passthrough'] == 0, s0
        took = check_reads(m, repo['files'])
        s = stats(m.mnt)
        assert s['passthrough_opens'] == 0, s
        assert took['d/whole.bin'] > 0 and took['d/small.txt'] > 0 and \
            took['d/chunked.bin'] > 0, took
        # SIGUSR1: the counters by opcode, with the daemon's time on them
        os.kill(m.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while 'requests so far' not in m.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        line = re.search(r'requests so far: (\d+) file opens, 0 read by the kernel.*'
                         r'requests/daemon time: (.*)', m.log())
        assert line, m.log()
        ops = {k: (int(n), int(ms)) for k, n, ms in
               re.findall(r'(\w+) (\d+)/(\d+)ms', line.group(2))}
        assert ops['read'][0] == s['daemon_reads'] > 0, (ops, s)
        assert ops['open'][0] == int(line.group(1)) == s['opens'], (ops, s)
        assert ops['lookup'][0] > 0 and ops['getxattr'][0] > 0, ops
        assert m.proc.poll() is None	# the signal did not stop the daemon
    assert re.search(r'unmounted: \d+ file opens, 0 read by the kernel', m.log()), m.log()


def test_overlay_on_a_passthrough_mount(repo, tmp_path):
    """The OS root's stack: overlayfs over the FUSE mount (max_stack_depth 1)."""
    if not kernel_has_passthrough():
        pytest.skip('kernel %s has no FUSE passthrough' % platform.release())
    for d in ('upper', 'work', 'ovl'):
        os.makedirs(tmp_path / d)
    with Mount(repo['web'].url, tmp_path / 'mnt', FQRN, repo['keys']['pub'],
               tmp_path / 'cache') as m:
        ovl = str(tmp_path / 'ovl')
        r = subprocess.run(['mount', '-t', 'overlay', 'overlay', '-o',
                            'lowerdir=%s,upperdir=%s,workdir=%s' % (
                                m.mnt, tmp_path / 'upper', tmp_path / 'work'), ovl],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        try:
            s0 = stats(m.mnt)
            want = repo['files']['d/whole.bin']
            assert read_all(os.path.join(ovl, 'd', 'whole.bin')) == want
            s1 = stats(m.mnt)
            assert s1['passthrough_opens'] > s0['passthrough_opens'], (s0, s1)
            assert s1['daemon_reads'] == s0['daemon_reads'], (s0, s1)
            # copy-up of a passthrough file, then a write on top
            with open(os.path.join(ovl, 'd', 'whole.bin'), 'r+b') as f:
                f.write(b'X')
            assert read_all(os.path.join(ovl, 'd', 'whole.bin')) == b'X' + want[1:]
            assert read_all(os.path.join(m.mnt, 'd', 'whole.bin')) == want
        finally:
            subprocess.run(['umount', ovl])
