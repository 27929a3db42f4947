# SPDX-License-Identifier: MIT
"""Issue 13, cases 4 and 11: a hostile HTTP server on 127.0.0.1 in front of a
published repository cannot hold a reader without bound, and its failures
are named.

- an endless header line, 10,000 headers, an endless stream of
  `HTTP/1.1 100 Continue`: the read fails within seconds and the log names
  the cause ("header line too long", "too many headers", "too many 1xx
  responses"), never "Network is unreachable";
- a body trickling just above the low-speed floor: the per-object deadline,
  from the catalog's size (a lying Content-Length does not extend it), ends
  it ("object deadline exceeded");
- `kill -9` of a reader blocked on a trickling server: the process is gone
  within a few seconds (FUSE INTERRUPT answered), not stuck in D state; a
  later reader of the same file gets the right bytes."""
import os
import signal
import socket
import socketserver
import subprocess
import threading
import time

import pytest

from cvmfsmount import Mount
from cvmfsrepo import keygen, publish

FQRN = 'netint.cvmboot.org'
pytestmark = pytest.mark.skipif(not os.access('/dev/fuse', os.W_OK) or os.geteuid() != 0,
                                reason='needs root and /dev/fuse')

SMALL = 60 * 1024		# deadline at 16 KiB/s: 2 windows + ~3.7 s
BIG = 320 * 1024		# deadline ~22 s: far beyond the kill bound below
TRICKLE = (64, 0.04)		# 64 bytes every 40 ms = 1.6 KB/s, above the 1 KB/s floor


class Hostile(socketserver.ThreadingTCPServer):
    """Serves the repository's files honestly, except file objects under
    /data/ (not catalogs, certificates, histories), which get `mode`:
    pass, endless_line, many_headers, continue, trickle, trickle_lie (with a
    Content-Length of 1 GB). A trickle turns
    into an honest fast send as soon as the mode is switched to pass."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root, mode):
        self.root, self.mode, self.hits = root, mode, 0
        self.stopping = threading.Event()
        super().__init__(('127.0.0.1', 0), _Handler)
        self.url = 'http://127.0.0.1:%d' % self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.stopping.set()
        self.shutdown()
        self.server_close()


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        s = self.server
        try:
            while not s.stopping.is_set():
                line = self.rfile.readline(8192)
                if not line:
                    return
                while self.rfile.readline(8192) not in (b'\r\n', b'\n', b''):
                    pass
                path = line.split()[1].decode('latin-1')
                if not self.answer(path):
                    return
        except OSError:
            pass

    def send(self, b):
        self.connection.sendall(b)

    def answer(self, path):
        s = self.server
        try:
            data = open(os.path.join(s.root, path.lstrip('/')), 'rb').read()
        except OSError:
            self.send(b'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
            return True
        head = b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(data)
        mode = s.mode
        if '/data/' not in path or path[-1] in 'CXH' or mode == 'pass':
            self.send(head + data)
            return True
        s.hits += 1
        end = time.monotonic() + 300		# bounds every endless mode
        if mode == 'endless_line':
            self.send(b'HTTP/1.1 200 OK\r\nX-Endless: ')
            while time.monotonic() < end and not s.stopping.is_set():
                self.send(b'a' * 4096)
        elif mode == 'many_headers':
            self.send(b'HTTP/1.1 200 OK\r\n' +
                      b''.join(b'X-Header-%d: v\r\n' % i for i in range(10000)) + head[17:] + data)
        elif mode == 'continue':
            while time.monotonic() < end and not s.stopping.is_set():
                self.send(b'HTTP/1.1 100 Continue\r\n\r\n' * 64)
                time.sleep(0.01)
        elif mode in ('trickle', 'trickle_lie'):
            if mode == 'trickle_lie':	# claims 1 GB: the deadline must not grow with it
                head = b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % (1 << 30)
            self.send(head)
            n, gap = TRICKLE
            for i in range(0, len(data), n):
                if s.stopping.is_set():
                    return False
                if s.mode == 'pass':
                    self.send(data[i:])
                    return True
                self.send(data[i:i + n])
                time.sleep(gap)
            return True
        return False


@pytest.fixture(scope='module')
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp('netint')
    tree = base / 'tree'
    os.makedirs(tree / 'd')
    (tree / 'd' / 'small').write_bytes(os.urandom(SMALL))
    (tree / 'd' / 'big').write_bytes(os.urandom(BIG))
    keys = keygen(FQRN, base / 'keys')
    publish(tree, base / 'repo', FQRN, keys)
    return {'tree': tree, 'keys': keys, 'repo': base / 'repo'}


def _mount(repo, tmp_path, url):
    return Mount(url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], tmp_path / 'c',
                 '--timeout', '1000', '--retries', '0')


def _cat(path):
    return subprocess.Popen(['cat', path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait(p, bound):
    """Exit status of p if it ends within bound seconds, else None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < bound:
        if p.poll() is not None:
            return p.returncode
        time.sleep(0.05)
    return None


def _state(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0]
    except OSError:
        return None


@pytest.mark.parametrize('mode,why', [
    ('endless_line', 'header line too long'),
    ('many_headers', 'too many headers'),
    ('continue', 'too many 1xx responses'),
])
def test_hostile_head_fails_fast_and_named(repo, tmp_path, mode, why):
    evil = Hostile(str(repo['repo']), mode)
    p = None
    try:
        with _mount(repo, tmp_path, evil.url) as m:
            t0 = time.monotonic()
            p = _cat(os.path.join(m.mnt, 'd', 'small'))
            rc = _wait(p, 30)
            took = time.monotonic() - t0
            log = m.log()
            assert rc is not None, 'cat still blocked after 30 s\n' + log
            assert rc != 0 and b'Input/output error' in p.stderr.read(), log
            assert took < 30
            assert evil.hits >= 1
            assert why in log, log
            assert 'Network is unreachable' not in log, log
            assert m.proc.poll() is None
    finally:
        evil.close()		# ends an endless response, so a blocked cat returns
        if p and p.poll() is None:
            p.kill()
            p.wait(60)


@pytest.mark.parametrize('mode', ['trickle', 'trickle_lie'])
def test_trickle_meets_object_deadline(repo, tmp_path, mode):
    evil = Hostile(str(repo['repo']), mode)
    p = None
    try:
        with _mount(repo, tmp_path, evil.url) as m:
            t0 = time.monotonic()
            p = _cat(os.path.join(m.mnt, 'd', 'small'))
            rc = _wait(p, 25)	# the trickle alone would take ~38 s
            took = time.monotonic() - t0
            log = m.log()
            assert rc is not None, 'cat still blocked after 25 s\n' + log
            assert rc != 0, 'a trickle at %.1f KB/s was waited out (%.1f s)' % (
                TRICKLE[0] / TRICKLE[1] / 1000, took)
            assert 'object deadline exceeded' in log, log
            assert 'Network is unreachable' not in log, log
    finally:
        evil.close()
        if p and p.poll() is None:
            p.kill()
            p.wait(60)


def test_kill_9_of_blocked_reader_returns(repo, tmp_path):
    evil = Hostile(str(repo['repo']), 'trickle')
    p = None
    try:
        with _mount(repo, tmp_path, evil.url) as m:
            path = os.path.join(m.mnt, 'd', 'big')
            p = _cat(path)
            time.sleep(2)
            assert p.poll() is None, 'cat ended early: %s' % p.stderr.read()
            assert evil.hits >= 1
            t0 = time.monotonic()
            p.kill()
            rc = _wait(p, 5)
            assert rc is not None, 'killed reader still there after 5 s, state %s' % _state(p.pid)
            assert rc == -signal.SIGKILL
            print('killed reader gone after %.2f s' % (time.monotonic() - t0))
            # a later reader of the same file gets the right bytes
            evil.mode = 'pass'
            q = subprocess.run(['cat', path], capture_output=True, timeout=60)
            assert q.returncode == 0, q.stderr
            assert q.stdout == (repo['tree'] / 'd' / 'big').read_bytes()
            assert m.proc.poll() is None
    finally:
        evil.close()
        if p and p.poll() is None:
            p.wait(60)
