# SPDX-License-Identifier: MIT
"""cvmfs-lite client against a misbehaving server: garbage, truncated bodies,
wrong Content-Length, an HTML error page with status 200, bad chunking, a
trickling server, a redirect loop. Each is a logged error and a failover to
the good server; readers never see a wrong byte."""
import http.server
import os
import threading
import time

import pytest

from cvmfsmount import Mount
from cvmfsrepo import keygen, publish
from servers import Nginx

FQRN = 'faults.cvmboot.org'
pytestmark = pytest.mark.skipif(not os.access('/dev/fuse', os.W_OK) or os.geteuid() != 0,
                                reason='needs root and /dev/fuse')


class Evil(http.server.ThreadingHTTPServer):
    """Serves the repository's .cvmfs* files honestly and every /data/
    object in the broken way named by mode."""
    daemon_threads = True

    def __init__(self, root, mode, only_files=False):
        self.root, self.mode, self.hits, self.only_files = root, mode, 0, only_files
        super().__init__(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self.server_address[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def do_GET(self):
        s = self.server
        path = os.path.join(s.root, self.path.lstrip('/'))
        try:
            data = open(path, 'rb').read()
        except OSError:
            self.send_error(404)
            return
        if '/data/' not in self.path or (s.only_files and self.path[-1] in 'CXH'):
            self.send_response(200)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        s.hits += 1
        w = self.wfile
        m = s.mode
        if m == 'garbage':
            w.write(b'\x00\xffgarbage, not HTTP\r\n\r\n')
        elif m == 'truncated':
            w.write(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(data))
            w.write(data[:len(data) // 2])
        elif m == 'longer':
            w.write(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % (len(data) + 10))
            w.write(data)
        elif m == 'negative':
            w.write(b'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n' + data)
        elif m == 'html200':
            body = b'<html><body>Service temporarily unavailable</body></html>\n'
            w.write(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
        elif m == 'badchunk':
            w.write(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' + data)
        elif m == 'trickle':
            w.write(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(data))
            try:
                for b in data:
                    w.write(bytes([b]))
                    w.flush()
                    time.sleep(0.3)
            except OSError:
                pass
        elif m == 'redirect':
            w.write(b'HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n' %
                    self.path.encode())
        w.flush()
        self.close_connection = True


@pytest.fixture(scope='module')
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp('faults')
    tree = base / 'tree'
    os.makedirs(tree / 'd')
    for i in range(5):
        (tree / 'd' / ('f%d' % i)).write_bytes(os.urandom(20000 + i))
    keys = keygen(FQRN, base / 'keys')
    publish(tree, base / 'repo', FQRN, keys)
    with Nginx(str(base / 'repo')) as web:
        yield {'base': base, 'tree': tree, 'keys': keys, 'repo': base / 'repo', 'web': web}


@pytest.mark.parametrize('mode,why', [
    ('garbage', 'bad HTTP status line'),
    ('truncated', 'connection closed before the body ended'),
    ('longer', 'connection closed before the body ended'),
    ('negative', 'bad Content-Length'),
    ('html200', 'refused while arriving'),
    ('badchunk', 'bad chunked encoding'),
    ('trickle', 'timed out'),
    ('redirect', 'HTTP 302'),
])
def test_bad_server_fails_over(repo, tmp_path, mode, why):
    evil = Evil(str(repo['repo']), mode)
    t = threading.Thread(target=evil.serve_forever, daemon=True)
    t.start()
    try:
        with Mount('%s;%s' % (evil.url, repo['web'].url), tmp_path / 'mnt', FQRN,
                   repo['keys']['pub'], tmp_path / 'c', '--timeout', '1000',
                   '--retries', '0') as m:
            for i in range(5):
                got = open(os.path.join(m.mnt, 'd', 'f%d' % i), 'rb').read()
                assert got == (repo['tree'] / 'd' / ('f%d' % i)).read_bytes()
            log = m.log()
            assert why in log, log
            assert 'failover' in log
        assert evil.hits >= 1
    finally:
        evil.shutdown()
        evil.server_close()


def test_every_source_bad_gives_eio(repo, tmp_path):
    evil = Evil(str(repo['repo']), 'html200', only_files=True)
    t = threading.Thread(target=evil.serve_forever, daemon=True)
    t.start()
    try:
        with Mount(evil.url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], tmp_path / 'c',
                   '--retries', '0') as m:
            with pytest.raises(OSError) as ei:
                open(os.path.join(m.mnt, 'd', 'f0'), 'rb').read()
            assert ei.value.errno == 5
            # the daemon is still alive and serving metadata
            assert sorted(os.listdir(os.path.join(m.mnt, 'd'))) == ['f%d' % i for i in range(5)]
            assert m.proc.poll() is None
    finally:
        evil.shutdown()
        evil.server_close()
