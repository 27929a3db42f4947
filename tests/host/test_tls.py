# SPDX-License-Identifier: MIT
"""Host layer: HTTPS with `cvmboot fetch` (net/http + tls) against nginx with
TLS on 127.0.0.1, certificates made here with the openssl command line: a good
one, an expired one, one for another host and one from an untrusted CA; then
session resumption and a CONNECT tunnel through squid."""
import os
import re
import subprocess
import time

import pytest

from servers import Nginx, Squid, free_port


def openssl(*args, cwd):
    r = subprocess.run(['openssl'] + list(args), cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, 'openssl %s: %s' % (' '.join(args), r.stderr)


def make_pki(d):
    """CA, untrusted CA, and leaf certificates. OpenSSL 3.0 has no -not_after:
    `x509 -req -days -1` gives notAfter = yesterday (checked below)."""
    for ca, cn in (('ca', 'cvmboot host-test CA'), ('other', 'cvmboot rogue CA')):
        openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                '-keyout', ca + '.key', '-out', ca + '.pem', '-days', '3650', '-subj', '/CN=' + cn,
                '-addext', 'basicConstraints=critical,CA:true',
                '-addext', 'keyUsage=critical,keyCertSign', cwd=d)
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
            '-out', 'leaf.key', cwd=d)
    leaves = {
        'good': ('ca', 'localhost', 'DNS:localhost,IP:127.0.0.1', '3650'),
        'expired': ('ca', 'localhost', 'DNS:localhost,IP:127.0.0.1', '-1'),
        'wronghost': ('ca', 'wrong.example', 'DNS:wrong.example', '3650'),
        'untrusted': ('other', 'localhost', 'DNS:localhost,IP:127.0.0.1', '3650'),
    }
    for name, (ca, cn, san, days) in leaves.items():
        with open(os.path.join(d, name + '.ext'), 'w') as f:
            f.write('subjectAltName=%s\nextendedKeyUsage=serverAuth\n' % san)
        openssl('req', '-new', '-key', 'leaf.key', '-subj', '/CN=' + cn, '-out', name + '.csr',
                cwd=d)
        openssl('x509', '-req', '-in', name + '.csr', '-CA', ca + '.pem', '-CAkey', ca + '.key',
                '-CAcreateserial', '-days', days, '-extfile', name + '.ext',
                '-out', name + '.pem', cwd=d)
    r = subprocess.run(['openssl', 'x509', '-in', 'expired.pem', '-noout', '-checkend', '0'],
                       cwd=d, capture_output=True, text=True)
    assert 'will expire' in r.stdout, 'expired.pem is not expired: ' + r.stdout


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    d = str(tmp_path_factory.mktemp('tls'))
    make_pki(d)
    www = os.path.join(d, 'www')
    os.mkdir(www)
    body = os.urandom(300000)
    with open(os.path.join(www, 'file'), 'wb') as f:
        f.write(body)
    ports = {name: free_port() for name in ('good', 'expired', 'wronghost', 'untrusted')}
    web = Nginx(www)  # its private directory web.dir also takes our log
    web.extra_http = '''
    log_format tls '$server_port $ssl_session_reused $ssl_protocol "$ssl_server_name" $ssl_cipher "$request" $status';
    ssl_session_cache shared:tls:1m;
    ''' + ''.join('''
    server {{
        listen 127.0.0.1:{port} ssl;
        root {www};
        access_log {log} tls;
        ssl_certificate {d}/{name}.pem;
        ssl_certificate_key {d}/leaf.key;
    }}'''.format(port=p, www=www, d=d, name=n, log=os.path.join(web.dir, 'tls.log'))
        for n, p in ports.items())
    with web:
        yield {'dir': d, 'ports': ports, 'body': body, 'web': web}


def fetch(cvmboot, url, *args, timeout=60):
    return subprocess.run([cvmboot, 'fetch', url] + list(args), capture_output=True,
                          timeout=timeout)


def tls_log(site):
    try:
        with open(os.path.join(site['web'].dir, 'tls.log')) as f:
            return [l.split() for l in f]
    except FileNotFoundError:
        return []


@pytest.mark.parametrize('host', ['127.0.0.1', 'localhost'])
def test_https_fetch_sni_tls12(cvmboot, site, tmp_path, host):
    out = tmp_path / 'out'
    url = 'https://%s:%d/file' % (host, site['ports']['good'])
    r = fetch(cvmboot, url, '--ca', os.path.join(site['dir'], 'ca.pem'), '-o', str(out))
    assert r.returncode == 0, r.stderr.decode()
    assert out.read_bytes() == site['body']
    line = [l for l in tls_log(site) if l[0] == str(site['ports']['good'])][-1]
    assert line[2] == 'TLSv1.2', line
    # SNI names DNS hosts only; RFC 6066 3 forbids IP literals in it.
    assert line[3] == ('"localhost"' if host == 'localhost' else '"-"'), line


@pytest.mark.parametrize('server,host,ca,reason', [
    ('expired', '127.0.0.1', 'ca', r'certificate expired: CN=localhost was valid until \d{4}-'),
    ('wronghost', 'localhost', 'ca',
     r'host name mismatch: wanted localhost, certificate has DNS:wrong\.example$'),
    ('wronghost', '127.0.0.1', 'ca',
     r'host name mismatch: wanted 127\.0\.0\.1, certificate has DNS:wrong\.example$'),
    ('good', '127.0.0.1', 'other',
     r'not signed by a trusted CA: CN=localhost is issued by CN=cvmboot host-test CA'),
    ('untrusted', 'localhost', 'ca',
     r'not signed by a trusted CA: CN=localhost is issued by CN=cvmboot rogue CA'),
])
def test_https_refused(cvmboot, site, tmp_path, server, host, ca, reason):
    out = tmp_path / 'out'
    url = 'https://%s:%d/file' % (host, site['ports'][server])
    r = fetch(cvmboot, url, '--ca', os.path.join(site['dir'], ca + '.pem'), '-o', str(out))
    err = r.stderr.decode().strip()
    assert r.returncode != 0, err
    assert re.search(reason, err, re.M), err
    assert err.startswith('cvmboot fetch: %s: TLS: %s: ' % (url, host)), err
    assert not out.exists()


def test_session_resumption(cvmboot, site, tmp_path):
    """Three connections, one session cache: one full handshake, then two
    resumed ones, and nginx agrees ($ssl_session_reused)."""
    port = site['ports']['good']
    before = len(tls_log(site))
    r = fetch(cvmboot, 'https://localhost:%d/file' % port, '--ca',
              os.path.join(site['dir'], 'ca.pem'), '-o', str(tmp_path / 'out'),
              '--resume-test', '3')
    err = r.stderr.decode()
    assert r.returncode == 0, err
    kinds = re.findall(r'connection (\d): (full|resumed) handshake, ([\d.]+) ms', err)
    assert [k[1] for k in kinds] == ['full', 'resumed', 'resumed'], err
    seen = [l[1] for l in tls_log(site)[before:] if l[0] == str(port)]
    assert seen == ['.', 'r', 'r'], tls_log(site)[before:]
    assert (tmp_path / 'out').read_bytes() == site['body']


def test_https_through_connect_proxy(cvmboot, site, tmp_path):
    port = site['ports']['good']
    out = tmp_path / 'out'
    with Squid() as proxy:
        r = fetch(cvmboot, 'https://127.0.0.1:%d/file' % port, '--proxy', proxy.url,
                  '--ca', os.path.join(site['dir'], 'ca.pem'), '-o', str(out))
        assert r.returncode == 0, r.stderr.decode()
        assert out.read_bytes() == site['body']
        # squid logs a tunnel once it has closed, a moment after fetch exits.
        want, end = 'CONNECT 127.0.0.1:%d' % port, time.monotonic() + 10
        while not any(want in l for l in proxy.access_log()) and time.monotonic() < end:
            time.sleep(0.1)
        assert any(want in l for l in proxy.access_log()), proxy.access_log()


def test_unreadable_ca_named(cvmboot, site, tmp_path):
    r = fetch(cvmboot, 'https://127.0.0.1:%d/file' % site['ports']['good'],
              '--ca', str(tmp_path / 'missing.pem'))
    assert r.returncode == 1
    assert 'missing.pem: No such file or directory' in r.stderr.decode()


def test_der_bundle_from_build_converter(cvmboot, root, site, tmp_path):
    """tls/ca-der.py (the build step behind $(B)/tls/ca.der) turns a commented
    PEM bundle into concatenated DER that fetch trusts; garbage is refused."""
    pem = tmp_path / 'bundle.pem'
    pem.write_text('# site bundle\n' + open(os.path.join(site['dir'], 'other.pem')).read() +
                   '\n# our CA\n' + open(os.path.join(site['dir'], 'ca.pem')).read())
    der = tmp_path / 'ca.der'
    conv = os.path.join(root, 'tls', 'ca-der.py')
    r = subprocess.run(['/usr/bin/python3', conv, str(pem), str(der)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    r = fetch(cvmboot, 'https://localhost:%d/file' % site['ports']['good'], '--ca', str(der),
              '-o', str(tmp_path / 'out'))
    assert r.returncode == 0, r.stderr.decode()
    assert (tmp_path / 'out').read_bytes() == site['body']
    r = subprocess.run(['/usr/bin/python3', conv, os.path.join(site['dir'], 'good.ext'),
                        str(tmp_path / 'bad.der')], capture_output=True, text=True)
    assert r.returncode == 1 and 'neither PEM nor concatenated DER' in r.stderr, r.stderr
    assert not (tmp_path / 'bad.der').exists()
