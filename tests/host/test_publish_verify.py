# SPDX-License-Identifier: MIT
"""`cvmboot inspect --verify` on our repositories, on the upstream fixture and
on tampered copies: each tampering must be named precisely (and the
independent checker must see it too)."""
import os
import shutil
import subprocess
import tarfile
import time
import zlib

import pytest

from cvmfsrepo import Repo, RepoError, keygen, openssl, publish

FQRN = 'test.repo'
FIXTURE = os.path.join(os.path.dirname(__file__), '..', 'data', 'cvmfs-upstream')


@pytest.fixture(scope='module')
def published(tmp_path_factory, cvmboot):
    base = tmp_path_factory.mktemp('pubv')
    keys = keygen(FQRN, base / 'keys', cvmboot=cvmboot)
    src = base / 'src'
    os.makedirs(src / 'sw/v1')
    (src / 'sw/v1/.cvmfscatalog').write_bytes(b'')
    (src / 'sw/v1/tool').write_bytes(b'tool v1\n' * 100)
    (src / 'readme').write_bytes(b'hello cvmfs\n')
    os.symlink('readme', src / 'link')
    publish(src, base / 'repo', FQRN, keys, tag='v1')
    return base / 'repo', keys


def inspect(cvmboot, repo, *args):
    return subprocess.run([cvmboot, 'inspect', str(repo), '--verify'] + list(args),
                          capture_output=True, text=True)


def copy(published, tmp_path):
    repo, keys = published
    dst = tmp_path / 'repo'
    shutil.copytree(repo, dst)
    return dst, keys


def flip(path, offset=-1):
    b = bytearray(open(path, 'rb').read())
    b[offset] ^= 0x01
    os.chmod(path, 0o644)
    open(path, 'wb').write(bytes(b))


def test_verify_ours(published, cvmboot):
    repo, keys = published
    r = inspect(cvmboot, repo, '--keys', keys['dir'])
    assert r.returncode == 0, r.stderr
    assert 'manifest signature: OK' in r.stdout and 'all OK' in r.stdout
    assert 'tag:' in r.stdout and 'v1' in r.stdout
    no_key = inspect(cvmboot, repo, '--pubkey', '/nonexistent.pub')
    assert no_key.returncode != 0 and 'no master public key' in no_key.stderr


def test_verify_upstream_fixture(tmp_path, cvmboot):
    for t in ('legacy_aufs_repo_21.tar.gz', 'legacy_aufs_repo_21-keys.tar.gz'):
        with tarfile.open(os.path.join(FIXTURE, t)) as tf:
            tf.extractall(tmp_path)
    repo = tmp_path / 'srv/cvmfs/legacy_aufs.cern.ch'
    pub = str(tmp_path / 'etc/cvmfs/keys/legacy_aufs.cern.ch.pub')
    r = inspect(cvmboot, repo, '--pubkey', pub, '--expired-whitelist-ok')
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'WARNING' in r.stderr and 'EXPIRED' in r.stderr
    assert 'revision:           2' in r.stdout
    assert 'verified: ' in r.stdout
    expired = inspect(cvmboot, repo, '--pubkey', pub)
    assert expired.returncode != 0 and 'whitelist has expired' in expired.stderr
    # and our independent reader agrees on its signatures
    rr = Repo(repo, 'legacy_aufs.cern.ch', pub)
    fp = rr.verify_manifest()
    assert fp == '93:AB:A3:C4:89:BE:F9:B7:3E:90:8F:42:C1:8A:EF:12:BB:05:C4:15'
    rr.verify_whitelist(fp, now=time.mktime((2015, 11, 1, 0, 0, 0, 0, 0, 0)))
    with pytest.raises(RepoError, match='expired'):
        rr.verify_whitelist(fp)


def test_flipped_object(published, tmp_path, cvmboot):
    repo, keys = copy(published, tmp_path)
    r0 = Repo(repo, FQRN, keys['pub'])
    e = r0.walk()['/readme']
    obj = r0.object_path(e['hash'].hex())
    flip(obj)
    r = inspect(cvmboot, repo, '--keys', keys['dir'])
    assert r.returncode != 0
    assert 'content does not match its hash' in r.stderr and '/readme' in r.stderr
    with pytest.raises(RepoError, match='does not match its hash'):
        Repo(repo, FQRN, keys['pub']).check()


def test_flipped_catalog(published, tmp_path, cvmboot):
    repo, keys = copy(published, tmp_path)
    r0 = Repo(repo, FQRN, keys['pub'])
    nested = r0.walk()['/sw/v1']['catalog']
    flip(r0.object_path(nested, 'C'), 100)
    r = inspect(cvmboot, repo, '--keys', keys['dir'])
    assert r.returncode != 0
    assert 'catalog of /sw/v1' in r.stderr and 'does not match its hash' in r.stderr
    with pytest.raises(RepoError, match='does not match its hash'):
        Repo(repo, FQRN, keys['pub']).check()


def test_flipped_manifest_body(published, tmp_path, cvmboot):
    repo, keys = copy(published, tmp_path)
    raw = open(repo / '.cvmfspublished', 'rb').read()
    i = raw.index(b'\nT') + 3
    flip(repo / '.cvmfspublished', i)
    r = inspect(cvmboot, repo, '--keys', keys['dir'])
    assert r.returncode != 0 and 'manifest body does not match its hash line' in r.stderr
    with pytest.raises(RepoError, match='body does not match'):
        Repo(repo, FQRN, keys['pub']).check()


def test_flipped_signature(published, tmp_path, cvmboot):
    repo, keys = copy(published, tmp_path)
    flip(repo / '.cvmfspublished', -5)
    r = inspect(cvmboot, repo, '--keys', keys['dir'])
    assert r.returncode != 0
    assert 'manifest signature does not verify' in r.stderr
    with pytest.raises(RepoError, match='signature does not verify'):
        Repo(repo, FQRN, keys['pub']).check()


def test_swapped_certificate(published, tmp_path, cvmboot):
    """An attacker with their own key pair re-signs the manifest and ships
    their certificate: signatures check out, the whitelist does not list it."""
    repo, keys = copy(published, tmp_path)
    evil = keygen(FQRN, tmp_path / 'evil', cvmboot=cvmboot)
    pem = open(evil['crt'], 'rb').read()
    z = zlib.compress(pem, 6)
    import hashlib
    xh = hashlib.sha1(z).hexdigest()
    os.makedirs(repo / 'data' / xh[:2], exist_ok=True)
    open(repo / 'data' / xh[:2] / (xh[2:] + 'X'), 'wb').write(z)
    raw = open(repo / '.cvmfspublished', 'rb').read()
    body = raw[:raw.index(b'\n--\n') + 1].decode()
    body = '\n'.join('X' + xh if l.startswith('X') else l for l in body.split('\n'))
    h = hashlib.sha1(body.encode()).hexdigest()
    rc, sig, err = openssl('dgst', '-sha1', '-sign', evil['key'], data=h.encode())
    assert rc == 0, err
    open(repo / '.cvmfspublished', 'wb').write(body.encode() + b'--\n' + h.encode() + b'\n' + sig)
    r = inspect(cvmboot, repo, '--keys', keys['dir'])
    assert r.returncode != 0 and 'manifest signature: OK' in r.stdout
    assert 'certificate is not in the whitelist' in r.stderr
    with pytest.raises(RepoError, match='not listed'):
        Repo(repo, FQRN, keys['pub']).check()


def sign_whitelist(repo, keys, expiry, fp, masterkey=None):
    import hashlib
    body = '20240101000000\nE%s\nN%s\n%s\n' % (expiry, FQRN, fp)
    h = hashlib.sha1(body.encode()).hexdigest()
    rc, sig, err = openssl('pkeyutl', '-sign', '-inkey', masterkey or keys['masterkey'],
                           data=h.encode())
    assert rc == 0, err
    open(repo / '.cvmfswhitelist', 'wb').write(body.encode() + b'--\n' + h.encode() + b'\n' + sig)


def test_expired_whitelist(published, tmp_path, cvmboot):
    repo, keys = copy(published, tmp_path)
    fp = Repo(repo, FQRN, keys['pub']).verify_manifest()
    sign_whitelist(repo, keys, '20200101000000', fp)
    r = inspect(cvmboot, repo, '--keys', keys['dir'])
    assert r.returncode != 0 and 'whitelist has expired' in r.stderr
    ok = inspect(cvmboot, repo, '--keys', keys['dir'], '--expired-whitelist-ok')
    assert ok.returncode == 0 and 'WARNING' in ok.stderr
    # a whitelist valid in the future but signed by a stranger's master key
    evil = keygen(FQRN, tmp_path / 'evil', cvmboot=cvmboot)
    sign_whitelist(repo, keys, '20991231000000', fp, masterkey=evil['masterkey'])
    r = inspect(cvmboot, repo, '--keys', keys['dir'])
    assert r.returncode != 0 and 'does not verify with any master public key' in r.stderr


def test_missing_object(published, tmp_path, cvmboot):
    repo, keys = copy(published, tmp_path)
    r0 = Repo(repo, FQRN, keys['pub'])
    e = r0.walk()['/sw/v1/tool']
    os.unlink(r0.object_path(e['hash'].hex()))
    r = inspect(cvmboot, repo, '--keys', keys['dir'])
    assert r.returncode != 0 and 'missing' in r.stderr and '/sw/v1/tool' in r.stderr


@pytest.fixture
def http_server(published):
    """python's http.server on 127.0.0.1 serving the published repository."""
    import socket
    repo, _ = published
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    p = subprocess.Popen(['/usr/bin/python3', '-m', 'http.server', str(port), '--bind',
                          '127.0.0.1', '--directory', str(repo)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield 'http://127.0.0.1:%d' % port
    finally:
        p.terminate()
        p.wait(timeout=10)


def test_verify_over_http(published, http_server, cvmboot, tmp_path):
    _, keys = published
    env = dict(os.environ, TMPDIR=str(tmp_path))
    r = subprocess.run([cvmboot, 'inspect', http_server + '/', '--verify', '--keys',
                        keys['dir']], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'all OK' in r.stdout
    assert os.listdir(tmp_path) == []       # the private mirror is gone
    bad = subprocess.run([cvmboot, 'inspect', http_server + '/nothing-here', '--verify',
                          '--keys', keys['dir']], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and '.cvmfspublished' in bad.stderr


def resign(repo, key, **fields):
    """Rewrites manifest fields (M=hex, Y=hex, ...) and signs it with key."""
    import hashlib
    raw = open(repo / '.cvmfspublished', 'rb').read()
    body = raw[:raw.index(b'\n--\n') + 1].decode()
    body = '\n'.join(k + fields[k] if k in fields else l
                     for l in body.split('\n') for k in [l[:1]])
    h = hashlib.sha1(body.encode()).hexdigest()
    rc, sig, err = openssl('dgst', '-sha1', '-sign', key, data=h.encode())
    assert rc == 0, err
    open(repo / '.cvmfspublished', 'wb').write(body.encode() + b'--\n' + h.encode() + b'\n' + sig)


def put_object(repo, data, suffix):
    import hashlib
    z = zlib.compress(data, 6)
    h = hashlib.sha1(z).hexdigest()
    os.makedirs(repo / 'data' / h[:2], exist_ok=True)
    open(repo / 'data' / h[:2] / (h[2:] + suffix), 'wb').write(z)
    return h


def edit_reflog(repo, stmt):
    """Changes .cvmfsreflog by one SQL statement; returns its new SHA-1."""
    import hashlib
    import sqlite3
    os.chmod(repo / '.cvmfsreflog', 0o644)
    db = sqlite3.connect(str(repo / '.cvmfsreflog'))
    db.execute(stmt)
    db.commit()
    db.close()
    return hashlib.sha1(open(repo / '.cvmfsreflog', 'rb').read()).hexdigest()


def test_verify_metainfo_and_reflog(published, tmp_path, cvmboot):
    """The meta-info object (M) and the reflog (Y) are verified too: each
    damage or forgery, even one re-signed with the publisher's own key, is
    named; the independent checker agrees."""
    repo0, keys = published
    ok = inspect(cvmboot, repo0, '--keys', keys['dir'])
    assert 'meta-info:          OK' in ok.stdout and 'reflog:             OK' in ok.stdout
    f = Repo(repo0, FQRN, keys['pub']).manifest()['fields']
    cases = {
        'flipped meta-info': (lambda d: flip(Repo(d).object_path(f['M'], 'M')),
                              'meta-info): content does not match its hash',
                              'does not match its hash'),
        'missing meta-info': (lambda d: os.unlink(Repo(d).object_path(f['M'], 'M')),
                              'meta-info) is missing', 'missing'),
        'meta-info not JSON, re-signed': (
            lambda d: resign(d, keys['key'], M=put_object(d, b'{"a": 1,}', 'M')),
            'meta-info object: not one JSON object', 'not JSON'),
        'reflog edited': (lambda d: edit_reflog(d, 'DELETE FROM refs WHERE type = 1'),
                          "hash is not the manifest's Y", 'is not the hash'),
        'reflog missing': (lambda d: os.unlink(d / '.cvmfsreflog'),
                           '.cvmfsreflog: the manifest names one (Y) but it cannot be read',
                           'missing'),
        'reflog without the root catalog, re-signed': (
            lambda d: resign(d, keys['key'], Y=edit_reflog(
                d, 'DELETE FROM refs WHERE type = 0 AND hash = "%s"' % f['C'])),
            "the manifest's root catalog (C) %s is not listed" % f['C'], 'not listed'),
        'reflog of another repository, re-signed': (
            lambda d: resign(d, keys['key'], Y=edit_reflog(
                d, "UPDATE properties SET value = 'other.repo' WHERE key = 'fqrn'")),
            'not a reflog of test.repo', 'fqrn'),
        'reflog with a bad row, re-signed': (
            lambda d: resign(d, keys['key'], Y=edit_reflog(
                d, "INSERT INTO refs VALUES ('nothex', 7, 0)")),
            'bad reference row (hash nothex', 'type'),
    }
    for name, (damage, msg, checker_msg) in cases.items():
        d = tmp_path / name.replace(' ', '-').replace(',', '')
        shutil.copytree(repo0, d)
        damage(d)
        r = inspect(cvmboot, d, '--keys', keys['dir'])
        assert r.returncode == 1 and msg in r.stderr, (name, r.stdout, r.stderr)
        with pytest.raises(RepoError, match=checker_msg):
            Repo(d, FQRN, keys['pub']).check()


def test_catalog_schema_revision_unsupported(published, tmp_path, cvmboot):
    """A root catalog whose properties say schema revision 9 (newer than the
    7 the client reads), re-signed: inspect names the catalog and the
    revision, and a publish on top refuses to build on it (both read the
    properties through cvmfs-lite's shared reader)."""
    import sqlite3
    repo, keys = copy(published, tmp_path)
    f = Repo(repo, FQRN, keys['pub']).manifest()['fields']
    db = tmp_path / 'root.db'
    db.write_bytes(Repo(repo).object(f['C'], 'C'))
    c = sqlite3.connect(str(db))
    c.execute("UPDATE properties SET value = '9' WHERE key = 'schema_revision'")
    c.commit()
    c.close()
    data = db.read_bytes()
    resign(repo, keys['key'], C=put_object(repo, data, 'C'), B=str(len(data)))
    r = inspect(cvmboot, repo, '--keys', keys['dir'])
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert 'catalog of /: schema 2.5 revision 9 in its properties' in r.stderr, r.stderr
    src = tmp_path / 'src'
    os.makedirs(src)
    p = publish(src, repo, FQRN, keys, check=False)
    assert p.returncode != 0
    assert 'previous revision: catalog / has schema 2.5 revision 9, not 2.5 revision 2..7' \
        in p.stderr, p.stderr
