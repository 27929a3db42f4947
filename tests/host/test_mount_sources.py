# SPDX-License-Identifier: MIT
"""cvmfs-lite client: snapshot selection (tag, date, root hash), server
failover, proxies (a real Squid, a dead proxy first), tampered repositories,
warm-cache restart with every server gone, pinning under a small cache."""
import os
import shutil
import subprocess
import time
import zlib

import pytest

from cvmfsmount import Mount, MountError
from cvmfsrepo import Repo, hex_of, keygen, publish
from servers import Nginx, Squid, free_port

FQRN = 'snap.cvmboot.org'
pytestmark = pytest.mark.skipif(not os.access('/dev/fuse', os.W_OK) or os.geteuid() != 0,
                                reason='needs root and /dev/fuse')


def lib(i):
    return ('library %d\n' % i) * (1000 + 3000 * i)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


@pytest.fixture(scope='module')
def repo(tmp_path_factory):
    """Two revisions: v1 (release 1) and v2 (release 2, one file more)."""
    base = tmp_path_factory.mktemp('sources')
    tree = base / 'tree'
    write(str(tree / 'etc' / 'release'), 'release 1\n')
    write(str(tree / 'usr' / 'bin' / 'tool'), 'tool v1\n')
    write(str(tree / 'sw' / '.cvmfscatalog'), '')
    for i in range(20):
        write(str(tree / 'sw' / ('lib%02d.so' % i)), lib(i))
    write(str(tree / '.ucernvm_pinfiles'), '# pinned by the OS\n/sw/lib00.so\n/sw/lib01.so\n'
          '/etc/release\n/missing/file\n')
    keys = keygen(FQRN, base / 'keys')
    repo = base / 'repo'
    publish(tree, repo, FQRN, keys, tag='v1')
    r1 = Repo(repo).tags()['v1']
    time.sleep(1.1)		# tag timestamps are seconds: keep them apart
    write(str(tree / 'etc' / 'release'), 'release 2\n')
    write(str(tree / 'usr' / 'bin' / 'new'), 'new in v2\n')
    publish(tree, repo, FQRN, keys, tag='v2')
    tags = Repo(repo).tags()
    with Nginx(str(repo)) as web:
        yield {'base': base, 'tree': tree, 'keys': keys, 'repo': repo, 'web': web,
               'tags': tags, 'r1': r1}


def rel(m, *p):
    return open(os.path.join(m.mnt, *p)).read()


def test_snapshot_selection(repo, tmp_path):
    url, key = repo['web'].url, repo['keys']['pub']
    with Mount(url, tmp_path / 'head', FQRN, key, tmp_path / 'c1') as m:
        assert rel(m, 'etc', 'release') == 'release 2\n'
        assert m.info.split()[1] == '2'
    with Mount(url, tmp_path / 'tag', FQRN, key, tmp_path / 'c1', '--tag', 'v1') as m:
        assert rel(m, 'etc', 'release') == 'release 1\n'
        assert not os.path.exists(os.path.join(m.mnt, 'usr', 'bin', 'new'))
        assert m.info.split()[1:] == ['1', 'v1']
        assert os.getxattr(m.mnt, 'user.tag') == b'v1'
    ts1 = repo['r1']['timestamp']
    date = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(ts1))
    with Mount(url, tmp_path / 'date', FQRN, key, tmp_path / 'c1', '--date', date) as m:
        assert rel(m, 'etc', 'release') == 'release 1\n'
    with Mount(url, tmp_path / 'hash', FQRN, key, tmp_path / 'c2', '--root-hash',
               repo['r1']['hash']) as m:
        assert rel(m, 'etc', 'release') == 'release 1\n'
        assert os.getxattr(m.mnt, 'user.root_hash').decode() == repo['r1']['hash']
    with pytest.raises(MountError, match="no tag named 'nope'"):
        Mount(url, tmp_path / 'bad', FQRN, key, tmp_path / 'c1', '--tag', 'nope').start()
    with pytest.raises(MountError, match='YYYY-MM-DDTHH:MM:SSZ'):
        Mount(url, tmp_path / 'bad', FQRN, key, tmp_path / 'c1', '--date', 'yesterday').start()
    with pytest.raises(MountError, match='no tag at or before'):
        Mount(url, tmp_path / 'bad', FQRN, key, tmp_path / 'c1', '--date',
              '2001-01-01T00:00:00Z').start()


def test_failover_one_server_stopped(repo, tmp_path):
    with Nginx(str(repo['repo'])) as a, Nginx(str(repo['repo'])) as b:
        a.stop()
        urls = '%s;%s' % (a.url, b.url)
        with Mount(urls, tmp_path / 'mnt', FQRN, repo['keys']['pub'], tmp_path / 'c',
                   '--timeout', '2000') as m:
            for i in range(20):
                assert rel(m, 'sw', 'lib%02d.so' % i) == lib(i)
            assert os.getxattr(m.mnt, 'user.host').decode() == b.url
            assert 'failover' in m.log()
        assert any('.cvmfspublished' in l for l in b.access_log())


def test_squid_with_dead_proxy_first(repo, tmp_path):
    dead = 'http://127.0.0.1:%d' % free_port()
    with Squid() as squid:
        with Mount(repo['web'].url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], tmp_path / 'c',
                   '--proxy', '%s;%s' % (dead, squid.url), '--timeout', '2000') as m:
            assert rel(m, 'etc', 'release') == 'release 2\n'
            assert rel(m, 'sw', 'lib05.so') == lib(5)
            assert os.getxattr(m.mnt, 'user.proxy').decode() == squid.url
        log = squid.access_log()
        assert any('.cvmfspublished' in l for l in log), log
        assert any('/data/' in l for l in log), log
    # load-balanced group whose members are all dead, then DIRECT
    with Mount(repo['web'].url, tmp_path / 'mnt2', FQRN, repo['keys']['pub'], tmp_path / 'c2',
               '--proxy', '%s|%s;DIRECT' % (dead, 'http://127.0.0.1:%d' % free_port()),
               '--timeout', '2000') as m:
        assert rel(m, 'etc', 'release') == 'release 2\n'


def tamper_copy(repo, tmp_path):
    dst = tmp_path / 'repo'
    shutil.copytree(str(repo['repo']), str(dst))
    return dst


def test_tampered_repositories_refused(repo, tmp_path):
    key = repo['keys']['pub']
    # 1. a manifest byte changed: signature check fails
    r = tamper_copy(repo, tmp_path / 't1')
    p = r / '.cvmfspublished'
    data = bytearray(p.read_bytes())
    i = data.index(b'\nD') + 2
    data[i:i + 1] = b'9'
    p.write_bytes(bytes(data))
    with Nginx(str(r)) as web:
        with pytest.raises(MountError, match='manifest refused'):
            Mount(web.url, tmp_path / 'm1', FQRN, key, tmp_path / 'c1').start()
    # 2. another master key: whitelist signature refused
    other = keygen('other.org', tmp_path / 'okeys')
    with pytest.raises(MountError, match='whitelist refused'):
        Mount(repo['web'].url, tmp_path / 'm2', FQRN, other['pub'], tmp_path / 'c2').start()
    # 3. wrong repository name
    with pytest.raises(MountError, match='whitelist refused'):
        Mount(repo['web'].url, tmp_path / 'm3', 'other.org', key, tmp_path / 'c3').start()
    # 4. a data object altered: reading that file fails, nothing unverified is served
    r = tamper_copy(repo, tmp_path / 't4')
    e = Repo(r).walk()['/sw/lib07.so']
    obj = Repo(r).object_path(hex_of('sha1', e['hash']))
    os.chmod(obj, 0o644)
    with open(obj, 'wb') as f:
        f.write(zlib.compress(b'evil content\n'))
    with Nginx(str(r)) as web:
        with Mount(web.url, tmp_path / 'm4', FQRN, key, tmp_path / 'c4') as m:
            with pytest.raises(OSError) as ei:
                open(os.path.join(m.mnt, 'sw', 'lib07.so')).read()
            assert ei.value.errno == 5
            assert rel(m, 'sw', 'lib06.so') == lib(6)
            assert 'does not match its hash' in m.log()
        # the bad object went nowhere near the cache
        assert not any(os.path.exists(os.path.join(tmp_path / 'c4', d, n))
                       for d, n in [(hex_of('sha1', e['hash'])[:2], hex_of('sha1', e['hash'])[2:])])
    # 5. garbage instead of the whitelist
    r = tamper_copy(repo, tmp_path / 't5')
    (r / '.cvmfswhitelist').write_bytes(b'<html>Oops</html>\n')
    with Nginx(str(r)) as web:
        with pytest.raises(MountError, match='whitelist refused'):
            Mount(web.url, tmp_path / 'm5', FQRN, key, tmp_path / 'c5').start()


def test_warm_cache_restart_without_network(repo, tmp_path):
    cache = tmp_path / 'cache'
    with Nginx(str(repo['repo'])) as web:
        url = web.url
        with Mount(url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], cache) as m:
            want = {}
            for dp, _, fs in os.walk(m.mnt):
                for f in fs:
                    want[os.path.join(dp, f)[len(m.mnt):]] = open(os.path.join(dp, f), 'rb').read()
    # every server stopped now
    with Mount(url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], cache, '--timeout', '500',
               '--retries', '0') as m:
        assert 'offline' in m.log()
        got = {}
        for dp, _, fs in os.walk(m.mnt):
            for f in fs:
                got[os.path.join(dp, f)[len(m.mnt):]] = open(os.path.join(dp, f), 'rb').read()
        assert got == want
    # a pinned snapshot (by root hash) needs no server at all either
    root = m.info.split()[0]
    with Mount(url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], cache, '--root-hash',
               root) as m:
        assert rel(m, 'etc', 'release') == 'release 2\n'


def test_pinned_files_survive_small_cache(repo, tmp_path):
    cache = tmp_path / 'cache'
    with Nginx(str(repo['repo'])) as web:
        url = web.url
        with Mount(url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], cache,
                   '--pin', '@/.ucernvm_pinfiles', '--cache-limit', '1') as m:
            for _ in range(100):
                if 'pinned:' in m.log():
                    break
                time.sleep(0.1)
            assert 'pinned: 4 paths, 3 ok, 1 unavailable' in m.log()
            # churn the 1 MiB cache with every other file
            for i in range(2, 20):
                rel(m, 'sw', 'lib%02d.so' % i)
    with Mount(url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], cache, '--timeout', '500',
               '--retries', '0') as m:
        assert rel(m, 'sw', 'lib00.so') == lib(0)
        assert rel(m, 'sw', 'lib01.so') == lib(1)
        assert rel(m, 'etc', 'release') == 'release 2\n'
        with pytest.raises(OSError):
            rel(m, 'sw', 'lib02.so')	# evicted, and no server to fetch it from


def test_prefetch_parallel_then_offline(repo, tmp_path):
    lst = tmp_path / 'profile'
    lst.write_text('# boot profile\n' + ''.join('/sw/lib%02d.so\n' % i for i in range(10, 20)))
    with Nginx(str(repo['repo'])) as web:
        with Mount(web.url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], tmp_path / 'c',
                   '--prefetch', str(lst), '--timeout', '500', '--retries', '0') as m:
            for _ in range(100):
                if 'prefetched:' in m.log():
                    break
                time.sleep(0.1)
            assert 'prefetched: 10 paths, 10 ok, 0 unavailable' in m.log()
            log = web.access_log()
            web.stop()		# from here on only the cache can answer
            for i in range(10, 20):
                assert rel(m, 'sw', 'lib%02d.so' % i) == lib(i)
            with pytest.raises(OSError):
                rel(m, 'sw', 'lib03.so')
        objs = [l for l in log if '/data/' in l]
        conns = {l.rsplit('conn=', 1)[1] for l in log}
        assert len(objs) >= 10
        # several connections in parallel, each kept alive for several requests
        assert 2 <= len(conns) < len(log)


def test_https_server(repo, tmp_path):
    """HTTPS plugs in through tls/'s wrap hook: a mount over TLS works with
    the right CA and is refused, with the reason, without it."""
    d = str(tmp_path)

    def ossl(*a):
        r = subprocess.run(['openssl'] + list(a), cwd=d, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
         '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650', '-subj', '/CN=mount test CA',
         '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign')
    ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'leaf.key')
    with open(os.path.join(d, 'leaf.ext'), 'w') as f:
        f.write('subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
    ossl('req', '-new', '-key', 'leaf.key', '-subj', '/CN=127.0.0.1', '-out', 'leaf.csr')
    ossl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
         '-days', '3650', '-extfile', 'leaf.ext', '-out', 'leaf.pem')
    port = free_port()
    web = Nginx(str(repo['repo']), extra_http='''
    server {{
        listen 127.0.0.1:{port} ssl;
        root {root};
        ssl_certificate {d}/leaf.pem;
        ssl_certificate_key {d}/leaf.key;
    }}'''.format(port=port, root=repo['repo'], d=d))
    url = 'https://127.0.0.1:%d' % port
    with web:
        with Mount(url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], tmp_path / 'c',
                   '--ca', os.path.join(d, 'ca.pem')) as m:
            assert rel(m, 'etc', 'release') == 'release 2\n'
            assert rel(m, 'sw', 'lib04.so') == lib(4)
            assert os.getxattr(m.mnt, 'user.host').decode() == url
        with pytest.raises(MountError, match='TLS|certificate|trusted'):
            Mount(url, tmp_path / 'mnt2', FQRN, repo['keys']['pub'], tmp_path / 'c2',
                  '--ca', '/etc/ssl/certs/ca-certificates.crt', '--retries', '0').start()
