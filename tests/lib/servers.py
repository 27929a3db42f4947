# SPDX-License-Identifier: MIT
"""Local test servers on 127.0.0.1 free ports, each with a private config and
directory, stopped by PID (never by name).

    with Nginx(root_dir) as web:          # serves root_dir at web.url
        urlopen(web.url + '/file')
        web.access_log()                  # list of request lines seen so far
    with Squid() as proxy:                # forwarding proxy at proxy.url
        ...
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError('server exited with %s before listening' % proc.returncode)
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('nothing listens on 127.0.0.1:%d after %.0f s' % (port, timeout))


def _stop(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Nginx:
    """nginx in the foreground serving root_dir (read-only) on 127.0.0.1.

    .port, .url ('http://127.0.0.1:PORT'), .access_log() -> list of
    'GET /path HTTP/1.1" status bytes "referer" "agent" conn=N' lines (N
    numbers the TCP connection: keep-alive shows as repeats), .stop(),
    .start() (same port)."""

    def __init__(self, root_dir, port=None, extra_http='', extra_server=''):
        self.root = os.path.abspath(root_dir)
        self.port = port or free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.dir = tempfile.mkdtemp(prefix='nginx-')
        self.extra_http = extra_http
        self.extra_server = extra_server
        self.proc = None

    def _conf(self):
        d = self.dir
        return '''
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    log_format cvmboot '$remote_addr [$time_local] "$request" $status $body_bytes_sent '
                       '"$http_referer" "$http_user_agent" conn=$connection';
    access_log {d}/access.log cvmboot;
    client_body_temp_path {d}/tmp_body;
    proxy_temp_path {d}/tmp_proxy;
    fastcgi_temp_path {d}/tmp_fcgi;
    uwsgi_temp_path {d}/tmp_uwsgi;
    scgi_temp_path {d}/tmp_scgi;
    sendfile on;
    keepalive_timeout 60;
    keepalive_requests 100000;
    {extra_http}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ autoindex off; }}
        {extra_server}
    }}
}}
'''.format(d=d, port=self.port, root=self.root, extra_http=self.extra_http,
           extra_server=self.extra_server)

    def start(self):
        with open(os.path.join(self.dir, 'nginx.conf'), 'w') as f:
            f.write(self._conf())
        self.proc = subprocess.Popen(
            ['nginx', '-p', self.dir, '-c', os.path.join(self.dir, 'nginx.conf')],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, 'stderr'), 'w'))
        wait_port(self.port, proc=self.proc)
        return self

    def stop(self):
        _stop(self.proc)
        self.proc = None

    def access_log(self):
        try:
            with open(os.path.join(self.dir, 'access.log')) as f:
                return [l.split('"', 1)[1].strip() if '"' in l else l.strip() for l in f]
        except FileNotFoundError:
            return []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Squid:
    """squid as a forwarding proxy on 127.0.0.1 (no disk cache by default:
    memory only), allowed to reach 127.0.0.1 only. .port, .url, .access_log()."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.dir = tempfile.mkdtemp(prefix='squid-')
        self.proc = None

    def _conf(self):
        d = self.dir
        return '''
http_port 127.0.0.1:{port}
pid_filename {d}/squid.pid
cache_log {d}/cache.log
access_log stdio:{d}/access.log squid
cache_store_log none
coredump_dir {d}
netdb_filename none
cache_mem 64 MB
maximum_object_size_in_memory 16 MB
acl localdst dst 127.0.0.1/32
acl Safe_ports port 1-65535
http_access deny !localdst
http_access allow localhost
http_access deny all
shutdown_lifetime 0 seconds
dns_nameservers 127.0.0.1
visible_hostname cvmboot-test
'''.format(d=d, port=self.port)

    def start(self):
        # squid drops to user 'proxy' when started as root: let it write here.
        os.chmod(self.dir, 0o777)
        conf = os.path.join(self.dir, 'squid.conf')
        with open(conf, 'w') as f:
            f.write(self._conf())
        # -N: no daemon, so the PID we hold is squid's; -d1: errors to stderr.
        self.proc = subprocess.Popen(['squid', '-N', '-f', conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, 'stderr'), 'w'))
        wait_port(self.port, timeout=30, proc=self.proc)
        return self

    def stop(self):
        _stop(self.proc, timeout=15)
        self.proc = None

    def access_log(self):
        try:
            with open(os.path.join(self.dir, 'access.log')) as f:
                return [l.strip() for l in f]
        except FileNotFoundError:
            return []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
