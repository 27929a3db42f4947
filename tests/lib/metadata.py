# SPDX-License-Identifier: MIT
"""An emulated cloud metadata service for tests: EC2 (IMDSv2 tokens
enforced, or IMDSv1 only), GCE and OpenStack user-data endpoints.

It listens on 127.0.0.1 only, on a free port, and runs as its own process so
that VM tests can guestfwd 169.254.169.254:80 to it. Start and stop it with
MetadataServer (by PID):

    with MetadataServer(tmp_path, 'ec2', user_data=b'...') as md:
        ... md.port ... md.requests() ...

Run as a program it serves until killed:
    metadata.py --platform ec2|ec2v1|gce|openstack [--user-data FILE]
                --port-file F --log F
"""
import argparse
import http.server
import json
import os
import secrets
import signal
import subprocess
import sys
import time

PLATFORMS = ('ec2', 'ec2v1', 'gce', 'openstack', 'azure')
# Azure's WireServer (the fabric endpoint, 168.63.129.16): the goal state the
# guest reads before it reports its role instance Ready.
AZURE_GOALSTATE = b'''<?xml version="1.0" encoding="utf-8"?>
<GoalState xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Version>2012-11-30</Version>
  <Incarnation>1</Incarnation>
  <Machine><ExpectedState>Started</ExpectedState></Machine>
  <Container>
    <ContainerId>7b2d4a8e-0000-4000-8000-cvmbootaz01</ContainerId>
    <RoleInstanceList>
      <RoleInstance>
        <InstanceId>7b2d4a8e-0000-4000-8000-cvmbootaz02.vm0</InstanceId>
        <State>Started</State>
      </RoleInstance>
    </RoleInstanceList>
  </Container>
</GoalState>
'''
TOKEN_TTL_HDR = 'X-aws-ec2-metadata-token-ttl-seconds'
TOKEN_HDR = 'X-aws-ec2-metadata-token'


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'metadata-emulator'

    def log_message(self, fmt, *args):
        pass

    def _record(self, body=None):
        hdrs = {k: v for k, v in self.headers.items()
                if k.lower() in ('metadata-flavor', TOKEN_HDR.lower(), TOKEN_TTL_HDR.lower(),
                                 'x-google-metadata-request', 'x-ms-version', 'content-type')}
        rec = {'method': self.command, 'path': self.path, 'headers': hdrs}
        if body is not None:
            rec['body'] = body.decode(errors='replace')
        with open(self.server.log_path, 'a') as f:
            f.write(json.dumps(rec) + '\n')

    def do_POST(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        self._record(body)
        if (self.server.platform == 'azure' and self.path == '/machine/?comp=health' and
                self.headers.get('x-ms-version')):
            return self._send(200)
        self._send(404)

    def _send(self, status, body=b'', extra=()):
        self.send_response(status)
        self.send_header('Content-Length', str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def do_PUT(self):
        self._record()
        srv = self.server
        length = int(self.headers.get('Content-Length') or 0)
        if length:
            self.rfile.read(length)
        if self.path != '/latest/api/token' or srv.platform != 'ec2':
            # An IMDSv1-only service (and everyone else) knows no token.
            return self._send(405 if srv.platform == 'ec2v1' else 404)
        ttl = self.headers.get(TOKEN_TTL_HDR)
        if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self._send(400, b'missing or bad ' + TOKEN_TTL_HDR.encode())
        tok = secrets.token_urlsafe(32)
        srv.tokens.add(tok)
        self._send(200, tok.encode(), [(TOKEN_TTL_HDR, ttl)])

    def do_GET(self):
        self._record()
        srv, path = self.server, self.path
        ud = srv.user_data
        if srv.platform in ('ec2', 'ec2v1') and path.startswith('/latest/'):
            if srv.platform == 'ec2' and self.headers.get(TOKEN_HDR) not in srv.tokens:
                return self._send(401)
            if path == '/latest/user-data':
                return self._send(200, ud) if ud is not None else self._send(404)
            if path == '/latest/meta-data/instance-id':
                return self._send(200, b'i-0123456789abcdef0')
            return self._send(404)
        if srv.platform == 'gce' and path.startswith('/computeMetadata/v1/'):
            if self.headers.get('Metadata-Flavor') != 'Google':
                return self._send(403, b'Missing required header "Metadata-Flavor": "Google"')
            hdr = [('Metadata-Flavor', 'Google')]
            if path == '/computeMetadata/v1/instance/attributes/user-data':
                return self._send(200, ud, hdr) if ud is not None else self._send(404, b'', hdr)
            if path == '/computeMetadata/v1/instance/id':
                return self._send(200, b'4242424242', hdr)
            return self._send(404, b'', hdr)
        if srv.platform == 'azure':
            if path == '/machine/?comp=goalstate' and self.headers.get('x-ms-version'):
                return self._send(200, AZURE_GOALSTATE, [('Content-Type', 'text/xml')])
            return self._send(400 if path.startswith('/machine') else 404)
        if srv.platform == 'openstack':
            if path == '/openstack/latest/user_data':
                return self._send(200, ud) if ud is not None else self._send(404)
            if path == '/openstack/latest/meta_data.json':
                return self._send(200, b'{"uuid": "0000"}')
        self._send(404)


def serve(args):
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    srv.daemon_threads = True
    srv.platform = args.platform
    srv.user_data = open(args.user_data, 'rb').read() if args.user_data else None
    srv.tokens = set()
    srv.log_path = args.log
    open(args.log, 'w').close()
    tmp = args.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, args.port_file)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    srv.serve_forever()


class MetadataServer:
    """Starts metadata.py in its own process; stop() kills it by PID."""

    def __init__(self, workdir, platform, user_data=None):
        assert platform in PLATFORMS, platform
        self.dir = str(workdir)
        self.platform = platform
        self.user_data = user_data
        self.proc = None
        self.port = None
        self.log = os.path.join(self.dir, 'metadata-%s.log' % platform)

    def start(self, timeout=10):
        port_file = os.path.join(self.dir, 'metadata-%s.port' % self.platform)
        if os.path.exists(port_file):
            os.unlink(port_file)
        argv = [sys.executable, os.path.abspath(__file__), '--platform', self.platform,
                '--port-file', port_file, '--log', self.log]
        if self.user_data is not None:
            ud = os.path.join(self.dir, 'metadata-%s.user-data' % self.platform)
            with open(ud, 'wb') as f:
                f.write(self.user_data)
            argv += ['--user-data', ud]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        end = time.monotonic() + timeout
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError('metadata emulator did not start')
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def requests(self):
        """The requests served so far: dicts of method, path, headers."""
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--platform', choices=PLATFORMS, required=True)
    p.add_argument('--user-data')
    p.add_argument('--port-file', required=True)
    p.add_argument('--log', required=True)
    serve(p.parse_args())


if __name__ == '__main__':
    main()
