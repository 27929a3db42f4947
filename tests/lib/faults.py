# SPDX-License-Identifier: MIT
"""A fault-injecting HTTP proxy for tests, on 127.0.0.1, in front of one
upstream server (e.g. nginx serving a published repository).

    with FaultProxy('http://127.0.0.1:%d' % nginx.port) as p:
        p.set('corrupt')        # or drop, stall, trickle, 404, 500, 429, pass
        ... p.url ...           # give it to the client as a server
        p.hits                  # responses that were faulted
        p.down(); p.up()        # close / reopen the listening socket (same port)

Modes (applied to requests whose path contains `only`, default '/data/';
other requests are relayed honestly):
    pass     relay the upstream response as is (keep-alive kept)
    drop     send the head with the full Content-Length and half the body,
             then reset the connection (RST, SO_LINGER 0)
    stall    send the head and the first 100 bytes, then nothing (the
             connection stays open until the client gives up or stop())
    corrupt  the whole response with one byte of the body flipped
    swap     a well-formed zlib stream of other content, with status 200
             (only the object hash can tell)
    trickle  the body one byte every 0.2 s
    404, 500, 429   that status with a short text body

The upstream is asked with a fresh HTTP/1.1 GET for every request; only GET
is supported (the cvmfs client sends nothing else)."""
import http.client
import socket
import threading
import time
import urllib.parse
import zlib

MODES = ('pass', 'drop', 'stall', 'corrupt', 'swap', 'trickle', '404', '500', '429')
REASONS = {200: 'OK', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error'}


class FaultProxy:
    def __init__(self, upstream, mode='pass', only='/data/', port=0):
        u = urllib.parse.urlsplit(upstream)
        self.up_host, self.up_port = u.hostname, u.port or 80
        self.mode = mode
        self.only = only
        self.hits = 0
        self.requests = 0
        self.port = port
        self.url = None
        self._lsock = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns = set()
        self._thread = None

    # ---- control ----
    def set(self, mode, only=None):
        assert mode in MODES, mode
        with self._lock:
            self.mode = mode
            if only is not None:
                self.only = only

    def start(self):
        self.up()
        return self

    def up(self):
        """Listens (again) on the same port."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', self.port))
        s.listen(64)
        self.port = s.getsockname()[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        self._lsock = s
        self._stop.clear()
        self._thread = threading.Thread(target=self._accept, args=(s,), daemon=True)
        self._thread.start()

    def down(self):
        """Stops listening and resets every open connection: the port then
        refuses connections until up()."""
        self._stop.set()
        if self._lsock:
            try:
                self._lsock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._lsock.close()
            self._lsock = None
        if self._thread:
            self._thread.join(5)
            self._thread = None
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            _reset(c, wake=True)

    stop = down

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- serving ----
    def _accept(self, lsock):
        while not self._stop.is_set():
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            with self._lock:
                self._conns.add(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        f = c.makefile('rb')
        try:
            while not self._stop.is_set():
                line = f.readline(8192)
                if not line:
                    return
                parts = line.split()
                while True:		# skip the request's headers
                    h = f.readline(8192)
                    if h in (b'\r\n', b'\n', b''):
                        break
                if len(parts) < 2 or parts[0] != b'GET':
                    c.sendall(b'HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n'
                              b'Connection: close\r\n\r\n')
                    return
                path = parts[1].decode('latin-1')
                if not self._answer(c, path):
                    return
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(c)
            try:
                f.close()
                c.close()
            except OSError:
                pass

    def _fetch(self, path):
        conn = http.client.HTTPConnection(self.up_host, self.up_port, timeout=30)
        try:
            conn.request('GET', path)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def _answer(self, c, path):
        """Sends one response; returns True if the connection may go on."""
        with self._lock:
            self.requests += 1
            mode = self.mode if self.only in path else 'pass'
            if mode != 'pass':
                self.hits += 1
        if mode in ('404', '500', '429'):
            body = b'fault injected: %s\n' % mode.encode()
            st = int(mode)
            c.sendall(b'HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n' %
                      (st, REASONS[st].encode(), len(body)) + body)
            return True
        status, body = self._fetch(path)
        head = b'HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n' % (
            status, REASONS.get(status, 'Status').encode(), len(body))
        if mode == 'pass' or status != 200 or not body:
            c.sendall(head + body)
            return True
        if mode == 'swap':
            other = zlib.compress(b'not the object that was asked for\n' * 8)
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(other) + other)
            return True
        if mode == 'corrupt':
            i = len(body) // 2
            c.sendall(head + body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:])
            return True
        if mode == 'drop':
            c.sendall(head + body[:len(body) // 2])
            _reset(c)
            return False
        if mode == 'stall':
            c.sendall(head + body[:100])
            while not self._stop.wait(0.1):
                pass
            return False
        if mode == 'trickle':
            c.sendall(head)
            for b in body:
                if self._stop.is_set():
                    return False
                c.sendall(bytes([b]))
                time.sleep(0.2)
            return True
        raise AssertionError(mode)


def _reset(c, wake=False):
    """Ends c with a TCP RST instead of a FIN (SO_LINGER 0) when the serving
    thread drops its file object and closes the fd. wake: also shut it down
    now, to wake a thread blocked reading it (down())."""
    try:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
        if wake:
            c.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        c.close()
    except OSError:
        pass
