# SPDX-License-Identifier: MIT
"""cvmfs-lite client on the host: trees published with `cvmboot publish`,
served by nginx on 127.0.0.1, mounted with `cvmboot mount` (in-tree FUSE),
compared with their source; snapshots, failover, proxies, tampering,
offline restart and concurrency."""
import hashlib
import os
import random
import subprocess
import threading
import zlib

import pytest

from cvmfsmount import Mount, MountError, compare_trees
from cvmfsrepo import keygen, publish
from servers import Nginx

FQRN = 'test.cvmboot.org'
pytestmark = pytest.mark.skipif(not os.access('/dev/fuse', os.W_OK) or os.geteuid() != 0,
                                reason='needs root and /dev/fuse')


def make_tree(root):
    """Every kind of entry CernVM-FS preserves."""
    rnd = random.Random(42)
    os.makedirs(root)
    p = lambda *a: os.path.join(root, *a)
    with open(p('hello.txt'), 'w') as f:
        f.write('hello cvmfs\n')
    open(p('empty'), 'w').close()
    os.makedirs(p('dir', 'sub', 'deeper'))
    os.makedirs(p('nested', 'inner'))
    open(p('nested', '.cvmfscatalog'), 'w').close()
    open(p('nested', 'inner', '.cvmfscatalog'), 'w').close()
    for i in range(40):
        with open(p('dir', 'file%02d' % i), 'wb') as f:
            f.write(rnd.randbytes(rnd.randrange(0, 9000)))
    with open(p('nested', 'inner', 'data.bin'), 'wb') as f:
        f.write(rnd.randbytes(300000))
    with open(p('nested', 'n.txt'), 'w') as f:
        f.write('in a nested catalog\n')
    # a file big enough to be cut into several chunks (chunk sizes set at publish)
    with open(p('dir', 'sub', 'big.bin'), 'wb') as f:
        f.write(rnd.randbytes(3 * 1024 * 1024 + 12345))
    # hardlinks: a group of three and a pair
    with open(p('dir', 'hl1'), 'w') as f:
        f.write('linked three times\n')
    os.link(p('dir', 'hl1'), p('dir', 'hl2'))
    os.link(p('dir', 'hl1'), p('dir', 'sub', 'hl3'))
    with open(p('pairA'), 'w') as f:
        f.write('pair\n')
    os.link(p('pairA'), p('pairB'))
    # symlinks: relative, absolute, dangling, into a nested catalog, variant
    os.symlink('hello.txt', p('link_rel'))
    os.symlink('/etc/hostname', p('link_abs'))
    os.symlink('does/not/exist', p('link_dangling'))
    os.symlink('../nested/n.txt', p('dir', 'link_nested'))
    os.symlink('$(CVMBOOT_TEST_VAR:-fallback)/x', p('link_variant'))
    # specials
    os.mkfifo(p('fifo'))
    os.mknod(p('dir', 'chardev'), 0o020644, os.makedev(1, 3))
    os.mknod(p('dir', 'blockdev'), 0o060600, os.makedev(7, 9))
    # modes, owners, times, xattrs, odd names
    os.chmod(p('dir', 'file00'), 0o4755)
    os.chmod(p('dir', 'sub'), 0o1777)
    os.chmod(p('dir', 'file01'), 0o600)
    os.chown(p('dir', 'file02'), 1234, 5678)
    os.chown(p('dir', 'sub', 'deeper'), 4321, 8765)
    os.utime(p('dir', 'file03'), ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    os.setxattr(p('hello.txt'), 'user.color', b'blue')
    os.setxattr(p('hello.txt'), 'user.empty', b'')
    os.setxattr(p('dir'), 'user.dirattr', b'\x00\x01binary')
    with open(p('dir', 'name with spaces & ünïcödé'), 'w') as f:
        f.write('odd name\n')
    with open(p('dir', 'L' * 255), 'w') as f:
        f.write('long name\n')
    os.utime(p('dir'), ns=(1_500_000_000_000_000_001, 1_500_000_000_000_000_001))


@pytest.fixture(scope='module')
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp('mount')
    tree = base / 'tree'
    make_tree(str(tree))
    keys = keygen(FQRN, base / 'keys')
    repo = base / 'repo'
    publish(tree, repo, FQRN, keys, tag='v1', chunk_min='256k', chunk_avg='512k',
            chunk_max='1M')
    with Nginx(str(repo)) as web:
        yield {'base': base, 'tree': tree, 'keys': keys, 'repo': repo, 'web': web}


def mnt_of(repo, name):
    d = repo['base'] / ('mnt-' + name)
    d.mkdir(exist_ok=True)
    return d


def test_tree_equals_source(repo, tmp_path):
    os.environ['CVMBOOT_TEST_VAR'] = '/opt/var'
    try:
        with Mount(repo['web'].url, mnt_of(repo, 'eq'), FQRN, repo['keys']['pub'],
                   tmp_path / 'cache') as m:
            mnt = m.mnt
            n = compare_trees(str(repo['tree']), mnt,
                              expand={'$(CVMBOOT_TEST_VAR:-fallback)/x': '/opt/var/x'})
            assert n > 60
            r = subprocess.run(['diff', '-r', '--no-dereference', str(repo['tree']), mnt],
                               capture_output=True, text=True)
            # diff cannot compare fifos/devices; everything else must match
            bad = [l for l in r.stdout.splitlines() if 'fifo' not in l and 'character special'
                   not in l and 'block special' not in l and 'link_variant' not in l]
            assert not bad, r.stdout
            # hardlinks: one inode per group, link counts right
            a = os.stat(os.path.join(mnt, 'dir', 'hl1'))
            assert a.st_ino == os.stat(os.path.join(mnt, 'dir', 'sub', 'hl3')).st_ino
            assert a.st_nlink == 3
            assert a.st_ino != os.stat(os.path.join(mnt, 'pairA')).st_ino
            # magic xattrs
            info = m.info.split()
            assert os.getxattr(mnt, 'user.root_hash').decode() == info[0]
            assert os.getxattr(mnt, 'user.revision').decode() == info[1] == '1'
            assert os.getxattr(mnt, 'user.fqrn').decode() == FQRN
            assert os.getxattr(mnt, 'user.host').decode() == repo['web'].url
            assert os.getxattr(mnt, 'user.proxy').decode() == 'DIRECT'
            assert b'BEGIN PUBLIC KEY' in os.getxattr(mnt, 'user.pubkeys')
            data = open(os.path.join(repo['tree'], 'hello.txt'), 'rb').read()
            want = hashlib.sha1(zlib.compress(data, 6)).hexdigest()
            assert os.getxattr(os.path.join(mnt, 'hello.txt'), 'user.hash').decode() == want
            cl = os.getxattr(os.path.join(mnt, 'dir', 'sub', 'big.bin'),
                             'user.chunk_list').decode().splitlines()
            assert cl[0] == 'hash,offset,size' and len(cl) > 3
            # read-only
            with pytest.raises(OSError):
                open(os.path.join(mnt, 'hello.txt'), 'w')
            with pytest.raises(OSError):
                os.mkdir(os.path.join(mnt, 'newdir'))
    finally:
        del os.environ['CVMBOOT_TEST_VAR']


def test_chunked_random_reads(repo, tmp_path):
    src = open(os.path.join(repo['tree'], 'dir', 'sub', 'big.bin'), 'rb').read()
    rnd = random.Random(7)
    with Mount(repo['web'].url, mnt_of(repo, 'chunk'), FQRN, repo['keys']['pub'],
               tmp_path / 'cache') as m:
        fd = os.open(os.path.join(m.mnt, 'dir', 'sub', 'big.bin'), os.O_RDONLY)
        try:
            for _ in range(200):
                off = rnd.randrange(0, len(src) + 100)
                n = rnd.randrange(1, 300000)
                assert os.pread(fd, n, off) == src[off:off + n], (off, n)
        finally:
            os.close(fd)
    # every chunk object was fetched from the server and verified
    chunks = [l for l in repo['web'].access_log() if 'P HTTP' in l]
    assert len(chunks) >= 3


def test_concurrent_readers(repo, tmp_path):
    tree = str(repo['tree'])
    files = ['dir/sub/big.bin', 'nested/inner/data.bin'] + ['dir/file%02d' % i for i in
                                                            range(10, 16)]
    want = {f: hashlib.sha256(open(os.path.join(tree, f), 'rb').read()).hexdigest()
            for f in files}
    got, errors = {}, []
    with Mount(repo['web'].url, mnt_of(repo, 'conc'), FQRN, repo['keys']['pub'],
               tmp_path / 'cache') as m:
        def reader(f):
            try:
                h = hashlib.sha256()
                with open(os.path.join(m.mnt, f), 'rb') as fh:
                    while True:
                        b = fh.read(65536)
                        if not b:
                            break
                        h.update(b)
                got[f] = h.hexdigest()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append((f, e))
        ts = [threading.Thread(target=reader, args=(f,)) for f in files]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
    assert not errors
    assert got == want


def test_upstream_fixture_matches_index(tmp_path):
    fx = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data', 'cvmfs-upstream')
    subprocess.run(['tar', '-C', str(tmp_path), '-xzf', os.path.join(
        fx, 'legacy_aufs_repo_21.tar.gz')], check=True)
    subprocess.run(['tar', '-C', str(tmp_path), '-xzf', os.path.join(
        fx, 'legacy_aufs_repo_21-keys.tar.gz')], check=True)
    name = 'legacy_aufs.cern.ch'
    key = tmp_path / 'etc/cvmfs/keys' / (name + '.pub')
    with Nginx(str(tmp_path / 'srv')) as web:
        url = web.url + '/cvmfs/@fqrn@'
        # expired in 2015: refused unless explicitly accepted
        with pytest.raises(MountError, match='expired'):
            Mount(url, tmp_path / 'm0', name, key, tmp_path / 'c0').start()
        with Mount(url, tmp_path / 'mnt', name, key, tmp_path / 'cache',
                   '--accept-expired-whitelist') as m:
            assert 'EXPIRED whitelist' in m.log()
            check_upstream_tree(m.mnt)


def check_upstream_tree(mnt):
    J = lambda *a: os.path.join(mnt, *a)
    content = {'foo': b'foo\n', 'bar': b'bar\n', 'baz': b'baz\n'}

    def files(d, names):
        for n in names:
            base = n.split('_')[-1] if n.startswith('hardlink') else n
            base = {'1': 'bar', '2': 'bar'}.get(base, base)
            assert open(J(d, n), 'rb').read() == content[base], (d, n)

    def group(d, names, nlink):
        inos = {os.lstat(J(d, n)).st_ino for n in names}
        assert len(inos) == 1, (d, names)
        assert all(os.lstat(J(d, n)).st_nlink == nlink for n in names), (d, names)

    def ls(d):
        return sorted(os.listdir(J(d)))

    assert ls('') == sorted(['foo', 'hardlink_foo', 'bar', 'hardlink_bar', 'baz', 'hardlink_baz',
                             'needs_commit_due_to_child', 'needs_migration',
                             'doesnt_need_migration'])
    files('', ['foo', 'hardlink_foo', 'bar', 'hardlink_bar', 'baz', 'hardlink_baz'])
    for n in ('foo', 'bar', 'baz'):
        group('', [n, 'hardlink_' + n], 2)
    d = 'needs_commit_due_to_child'
    assert ls(d) == sorted(['foo', 'bar', 'baz', '.cvmfscatalog', 'symlink_baz',
                            'simple_directory', 'needs_migration'])
    assert os.readlink(J(d, 'symlink_baz')) == 'baz'
    assert ls(d + '/simple_directory') == sorted(['foo', 'bar', 'baz', 'symlink_foo'])
    assert os.readlink(J(d, 'simple_directory', 'symlink_foo')) == 'foo'
    dm = d + '/needs_migration'
    assert ls(dm) == sorted(['baz', '.cvmfscatalog', 'foo', 'hardlink_foo', 'bar',
                             'hardlink_bar_1', 'hardlink_bar_2'])
    group(dm, ['foo', 'hardlink_foo'], 2)
    group(dm, ['bar', 'hardlink_bar_1', 'hardlink_bar_2'], 3)
    files(dm, ['baz', 'foo', 'hardlink_foo', 'bar'])
    assert open(J(dm, 'hardlink_bar_2'), 'rb').read() == b'bar\n'
    d = 'needs_migration'
    assert ls(d) == sorted(['foo', 'baz', '.cvmfscatalog', 'bar', 'hardlink_bar', 'symlink_foo',
                            'hardlink_symlink_foo_1', 'hardlink_symlink_foo_2',
                            'simple_directory', 'doesnt_need_migration'])
    group(d, ['bar', 'hardlink_bar'], 2)
    group(d, ['symlink_foo', 'hardlink_symlink_foo_1', 'hardlink_symlink_foo_2'], 3)
    for n in ('symlink_foo', 'hardlink_symlink_foo_1', 'hardlink_symlink_foo_2'):
        assert os.readlink(J(d, n)) == 'foo'
    assert ls(d + '/simple_directory') == sorted(['bar', 'baz', 'symlink_foo', 'foo',
                                                  'hardlink_foo'])
    group(d + '/simple_directory', ['foo', 'hardlink_foo'], 2)
    assert ls(d + '/doesnt_need_migration') == sorted(['foo', 'bar', 'baz', '.cvmfscatalog'])
    d = 'doesnt_need_migration'
    assert ls(d) == sorted(['foo', 'bar', 'baz', '.cvmfscatalog', 'symlink_foo', 'symlink_bar',
                            'simple_directory', 'doesnt_need_migration_either'])
    assert os.readlink(J(d, 'symlink_bar')) == 'bar'
    de = d + '/doesnt_need_migration_either'
    assert ls(de) == sorted(['foo', 'bar', 'baz', '.cvmfscatalog', 'symlink_foo'])
    assert not os.path.islink(J(de, 'symlink_foo'))
    assert open(J(de, 'symlink_foo'), 'rb').read() == b'foo\n'
    assert os.path.getsize(J(de, '.cvmfscatalog')) == 0
