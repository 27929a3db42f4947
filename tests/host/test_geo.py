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
    # the proxy's host name takes the place of x
    geo.paths.clear()
    urls, log = order('--proxy', 'http://squid.example:3128|http://s2:3128;DIRECT', live, third)
    assert geo.paths[0].startswith('/cvmfs/r.test/api/v1.0/geo/squid.example/'), geo.paths
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
