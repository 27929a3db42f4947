# SPDX-License-Identifier: MIT
"""Geo-API server ordering (boot/geo.c) through `cvmboot geo-order`, which
runs PID 1's code over net/http, against a small local server answering
GET /cvmfs/<repo>/api/v1.0/geo/<proxy-or-x>/<host1,host2,...>."""
import http.server
import os
import socket
import subprocess
import threading

import pytest

from conftest import BUILD

TOOL = os.path.join(BUILD, 'cvmboot')


class Geo(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.server.paths.append(self.path)
        status, body = self.server.answer
        self.send_response(status)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def geo():
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Geo)
    srv.paths = []
    srv.answer = (200, b'3,1,2\n')
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def closed_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def order(*args):
    r = subprocess.run([TOOL, 'geo-order'] + list(args), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split(), r.stderr


def test_geo_order(geo):
    dead = 'http://127.0.0.1:%d/cvmfs/r.test' % closed_port()
    live = 'http://127.0.0.1:%d/cvmfs/r.test' % geo.server_address[1]
    third = 'http://localhost:%d/cvmfs/r.test' % geo.server_address[1]
    # the first server does not answer: the second one is asked
    urls, log = order(dead, live, third)
    assert urls == [third, dead, live], log
    assert geo.paths == ['/cvmfs/r.test/api/v1.0/geo/x/127.0.0.1,127.0.0.1,localhost'], geo.paths
    # a DIRECT first group: asked directly, with x
    geo.paths.clear()
    geo.answer = (200, b'2,1')
    urls, log = order('--proxy', 'DIRECT;http://127.0.0.1:%d' % closed_port(), live, third)
    assert urls == [third, live], log
    assert geo.paths[0].startswith('/cvmfs/r.test/api/v1.0/geo/x/'), geo.paths
    # bad answers and HTTP errors keep the configured order, saying why
    for answer in ((200, b'1,1\n'), (200, b'2,x'), (200, b'3,1'), (200, b''), (404, b'no')):
        geo.answer = answer
        urls, log = order(live, third)
        assert urls == [live, third], (answer, log)
        assert 'keeping the configured' in log, (answer, log)
    geo.answer = (200, b'2,1')
    urls, log = order(live, third)
    assert urls == [third, live], log
    assert 'geo-api: %s orders the servers 2,1; first now %s' % (live, third) in log, log


class Proxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy: takes absolute-form GETs and relays them."""
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def do_GET(self):
        import http.client
        import urllib.parse
        self.server.seen.append(self.path)
        u = urllib.parse.urlsplit(self.path)
        if u.scheme != 'http':		# not through a proxy: refuse
            self.send_response(400)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
        c.request('GET', u.path + ('?' + u.query if u.query else ''))
        r = c.getresponse()
        body = r.read()
        self.send_response(r.status)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_geo_through_proxy(geo):
    """With a proxy configured the Geo API is asked through it (absolute-form
    request to the proxy), as cvmfs-lite's requests go, and the proxy's host
    names the client's location; a proxy that is down keeps the order."""
    prx = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Proxy)
    prx.seen = []
    geo.answer = (200, b'2,1')
    threading.Thread(target=prx.serve_forever, daemon=True).start()
    try:
        live = 'http://127.0.0.1:%d/cvmfs/r.test' % geo.server_address[1]
        third = 'http://localhost:%d/cvmfs/r.test' % geo.server_address[1]
        proxy = 'http://127.0.0.1:%d' % prx.server_address[1]
        urls, log = order('--proxy', '%s|http://127.0.0.2:1;DIRECT' % proxy, live, third)
        assert urls == [third, live], log
        want = '%s/api/v1.0/geo/127.0.0.1/127.0.0.1,localhost' % live
        assert prx.seen == [want], prx.seen
        assert geo.paths == ['/cvmfs/r.test/api/v1.0/geo/127.0.0.1/127.0.0.1,localhost'], \
            geo.paths
        # the proxy is down: nobody answers, the configured order stays
        geo.paths.clear()
        urls, log = order('--proxy', 'http://127.0.0.1:%d' % closed_port(), live, third)
        assert urls == [live, third], log
        assert 'no server answered' in log and geo.paths == [], (log, geo.paths)
    finally:
        prx.shutdown()
        prx.server_close()
