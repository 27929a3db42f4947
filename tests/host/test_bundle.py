# SPDX-License-Identifier: MIT
"""Boot-profile bundles: `cvmboot bundle` packs the objects a first mount
fetched into a few bundle objects; a mount with --bundles fetches each in one
GET and commits every object in it after checking its own hash. A damaged
bundle or a lying index costs requests, never a wrong byte."""
import os
import random
import shutil
import subprocess
import time

import pytest

from cvmfsmount import Mount
from cvmfsrepo import cvmboot_path, keygen, publish
from servers import Nginx

FQRN = 'bundle.cvmboot.org'
INDEX = '.cvmboot_bundles'
pytestmark = pytest.mark.skipif(not os.access('/dev/fuse', os.W_OK) or os.geteuid() != 0,
                                reason='needs root and /dev/fuse')


def contents():
    rnd = random.Random(7)
    files = {}
    for i in range(24):	# text (compresses) and random bytes (does not)
        files['usr/lib/lib%02d.so' % i] = (('symbol %d\n' % i) * (200 + 150 * i)).encode()
        files['usr/share/blob%02d' % i] = bytes(rnd.getrandbits(8) for _ in range(3000 + 97 * i))
    files['sw/big.dat'] = bytes(rnd.getrandbits(8) for _ in range(600 * 1024))	# chunked
    files['sw/.cvmfscatalog'] = b''
    files['sw/tool'] = b'nested catalog tool\n'
    return files


def wait_log(m, text, tries=300):
    for _ in range(tries):
        if text in m.log():
            return True
        time.sleep(0.1)
    return False


def profile(files):
    return [p for p in sorted(files) if not p.endswith('.cvmfscatalog')]


@pytest.fixture(scope='module')
def repo(tmp_path_factory):
    """Tag 'plain' (no bundles), then the objects a full read of it fetched,
    bundled, and tag 'bundled' (the same tree plus the index)."""
    base = tmp_path_factory.mktemp('bundle')
    tree, repo = base / 'tree', base / 'repo'
    files = contents()
    for p, data in files.items():
        os.makedirs(os.path.dirname(str(tree / p)), exist_ok=True)
        (tree / p).write_bytes(data)
    keys = keygen(FQRN, base / 'keys')
    opts = dict(chunk_min=64 * 1024, chunk_avg=128 * 1024, chunk_max=256 * 1024)
    publish(tree, repo, FQRN, keys, tag='plain', **opts)
    with Nginx(str(repo)) as web:
        with Mount(web.url, base / 'mnt', FQRN, keys['pub'], base / 'rec-cache',
                   '--tag', 'plain') as m:
            for p in profile(files):
                with open(os.path.join(m.mnt, p), 'rb') as f:
                    assert f.read() == files[p]
        log = web.access_log()
    objs = base / 'objects'
    objs.write_text(''.join(l + '\n' for l in log))
    r = subprocess.run([cvmboot_path(), 'bundle', '--repo', str(repo), '--objects', str(objs),
                        '--out', str(tree / INDEX), '--first', '65536', '--max', '262144'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    publish(tree, repo, FQRN, keys, tag='bundled', **opts)
    index = (tree / INDEX).read_text()
    yield {'base': base, 'tree': tree, 'repo': repo, 'keys': keys, 'files': files,
           'index': index, 'opts': opts, 'nobj': sum(1 for l in log if '/data/' in l)}


def bundle_lines(index):
    return [l for l in index.splitlines() if l.startswith('bundle ')]


def mount_bundled(r, web, tmp, name, *extra, tag='bundled'):
    return Mount(web.url, tmp / ('mnt-' + name), FQRN, r['keys']['pub'], tmp / ('c-' + name),
                 '--tag', tag, '--bundles', '/' + INDEX, '--timeout', '1000',
                 '--retries', '0', *extra)


def read_all(m, files):
    for p in profile(files):
        with open(os.path.join(m.mnt, p), 'rb') as f:
            assert f.read() == files[p], p


def test_bundle_index_format(repo):
    idx = repo['index']
    assert idx.startswith('# cvmboot bundles 1\n')
    bl = bundle_lines(idx)
    # 64 KiB first, doubling to 256 KiB: several bundles, the first one small
    assert 3 <= len(bl) < repo['nobj']
    # each bundle closes at the object that reaches its target (64 KiB doubling)
    for i, (b, ps) in enumerate(pieces_by_bundle(idx)[:-1]):
        lens = [int(l.split()[1]) for l in idx.splitlines()
                if l and not l.startswith(('#', 'bundle ')) and l.split()[0] in ps]
        target = min(65536 << i, 262144)
        assert sum(lens) - lens[-1] < target <= sum(lens), (i, lens)
    pieces = [l for l in idx.splitlines() if l and not l.startswith(('#', 'bundle '))]
    assert len(pieces) == len(set(pieces))	# every object once
    # no root catalog (the bundled tag has its own), no certificate or history;
    # the nested catalog (sw/, unchanged in the next revision) stays
    assert {p.split()[0][40:] for p in pieces} == {'', 'P', 'C'}, pieces
    assert sum(p.split()[0].endswith('C') for p in pieces) == 1, pieces
    assert {p.split()[2] for p in pieces} == {'z'}	# the publisher compresses every object
    for l in bl:
        h = l.split()[1]
        assert os.path.getsize(os.path.join(str(repo['repo']), 'data', h[:2], h[2:])) == \
            int(l.split()[2])


def test_bundles_replace_requests(repo, tmp_path):
    with Nginx(str(repo['repo'])) as web:
        with mount_bundled(repo, web, tmp_path, 'ok') as m:
            assert wait_log(m, 'bundles:'), m.log()
            nb = len(bundle_lines(repo['index']))
            assert 'bundles: %d bundles (0 failed, 0 cached)' % nb in m.log(), m.log()
            assert ' 0 bad,' in m.log()
            log = web.access_log()
            web.stop()		# from here on only what the bundles brought can answer
            read_all(m, repo['files'])
    data = [l for l in log if '/data/' in l]
    # the catalogs of the mount, the index, one GET per bundle: far fewer than a file each
    assert len(data) <= nb + 6, data
    assert len(data) < repo['nobj'] / 2


def test_warm_mount_fetches_no_bundle(repo, tmp_path):
    """A second mount of the same cache finds every bundle's objects cached,
    and then skips the prefetch of the boot profile (the bundles hold it)."""
    plist = tmp_path / 'prefetch.txt'
    plist.write_text(''.join('/%s\n' % p for p in profile(repo['files'])))
    with Nginx(str(repo['repo'])) as web:
        with mount_bundled(repo, web, tmp_path, 'w1', '--prefetch', plist) as m:
            assert wait_log(m, 'prefetched:'), m.log()
            assert 'prefetch: skipped' not in m.log()
        crumb = tmp_path / 'c-w1' / ('snapshot.' + FQRN)
        st0 = os.stat(crumb)
        n0 = len(web.access_log())
        with mount_bundled(repo, web, tmp_path, 'w1', '--prefetch', plist) as m:
            nb = len(bundle_lines(repo['index']))
            assert wait_log(m, 'bundles: %d bundles (0 failed, %d cached)' % (nb, nb)), m.log()
            assert wait_log(m, 'prefetch: skipped, every bundle was in the cache'), m.log()
            assert 'prefetched:' not in m.log().split('cached)')[-1], m.log()
            read_all(m, repo['files'])
            # the same snapshot again: its breadcrumb is not rewritten (no flush)
            st1 = os.stat(crumb)
            assert (st1.st_ino, st1.st_mtime_ns) == (st0.st_ino, st0.st_mtime_ns)
        bundle_gets = [l for l in web.access_log()[n0:]
                       if any(b.split()[1][2:] in l for b in bundle_lines(repo['index']))]
        assert bundle_gets == []


def corrupt_copy(repo, tmp, mutate):
    """A copy of the repository whose first data bundle is changed by mutate(bytes)."""
    dst = tmp / 'repo'
    shutil.copytree(str(repo['repo']), str(dst))
    h = bundle_lines(repo['index'])[1].split()[1]
    p = os.path.join(str(dst), 'data', h[:2], h[2:])
    data = bytearray(open(p, 'rb').read())
    os.chmod(p, 0o644)
    with open(p, 'wb') as f:
        f.write(mutate(data))
    return dst


def test_damaged_bundle_costs_requests_not_bytes(repo, tmp_path):
    def flip(d):
        d[len(d) // 2] ^= 0xff
        return bytes(d)
    with Nginx(str(corrupt_copy(repo, tmp_path, flip))) as web:
        with mount_bundled(repo, web, tmp_path, 'bad') as m:
            assert wait_log(m, 'bundles:'), m.log()
            assert 'failed its check; it is fetched on its own' in m.log()
            assert 'bundles: %d bundles (1 failed, 0 cached)' % len(bundle_lines(repo['index'])) \
                in m.log(), m.log()
            read_all(m, repo['files'])	# the damaged object came on its own


def test_truncated_bundle(repo, tmp_path):
    with Nginx(str(corrupt_copy(repo, tmp_path, lambda d: bytes(d[:len(d) // 3])))) as web:
        with mount_bundled(repo, web, tmp_path, 'short') as m:
            assert wait_log(m, 'bundles:'), m.log()
            assert '(1 failed, 0 cached)' in m.log(), m.log()
            read_all(m, repo['files'])


def republish_with_index(repo, tmp, text):
    """Same tree, index replaced by text, published as tag 'edited' of a copy."""
    tree, dst = tmp / 'tree', tmp / 'repo'
    shutil.copytree(str(repo['tree']), str(tree))
    shutil.copytree(str(repo['repo']), str(dst))
    (tree / INDEX).write_text(text)
    publish(tree, dst, FQRN, repo['keys'], tag='edited', **repo['opts'])
    return dst


def test_lying_index_never_serves_wrong_bytes(repo, tmp_path):
    """A key holder's buggy index: pieces flagged uncompressed, and a length off
    by one (every later cut misaligned). Files still read back exactly."""
    out, n = [], 0
    for l in repo['index'].splitlines():
        f = l.split()
        if len(f) == 3 and not l.startswith(('#', 'bundle ')):
            n += 1
            if n % 2:
                f[2] = '-'
            if n in (3, 4):	# the same bundle size, the cut between them moved
                f[1] = str(int(f[1]) + (1 if n == 3 else -1))
            l = ' '.join(f)
        out.append(l)
    dst = republish_with_index(repo, tmp_path, '\n'.join(out) + '\n')
    with Nginx(str(dst)) as web:
        with mount_bundled(repo, web, tmp_path, 'lie', tag='edited') as m:
            assert wait_log(m, 'bundles:'), m.log()
            read_all(m, repo['files'])


def test_bad_index_is_logged_and_ignored(repo, tmp_path):
    dst = republish_with_index(repo, tmp_path, '# cvmboot bundles 1\nbundle nothex 12\n')
    with Nginx(str(dst)) as web:
        with mount_bundled(repo, web, tmp_path, 'badidx', tag='edited') as m:
            assert wait_log(m, 'bad index at line 2'), m.log()
            read_all(m, repo['files'])


def test_no_index_in_repository(repo, tmp_path):
    with Nginx(str(repo['repo'])) as web:
        with Mount(web.url, tmp_path / 'mnt', FQRN, repo['keys']['pub'], tmp_path / 'c',
                   '--tag', 'plain', '--bundles', '/' + INDEX) as m:
            assert wait_log(m, 'none in this repository'), m.log()
            read_all(m, repo['files'])


def test_bundle_metadata_on_request(repo, tmp_path):
    """--metadata bundles the recorded catalogs and certificate too."""
    objs, out = repo['base'] / 'objects', tmp_path / 'idx'
    r = subprocess.run([cvmboot_path(), 'bundle', '--repo', str(repo['repo']), '--objects',
                        str(objs), '--out', str(out), '--metadata'], capture_output=True,
                       text=True)
    assert r.returncode == 0 and 'left out' not in r.stdout, r
    suffixes = {l.split()[0][40:] for l in out.read_text().splitlines()
                if l and not l.startswith(('#', 'bundle '))}
    assert {'C', 'X', 'H'} <= suffixes, suffixes
    r = subprocess.run([cvmboot_path(), 'bundle', '--repo', str(repo['repo']), '--objects',
                        str(objs), '--out', str(out)], capture_output=True, text=True)
    assert r.returncode == 0 and 'root catalogs, certificates, ... left out' in r.stdout, r


def test_bundle_verb_refuses_bad_input(repo, tmp_path):
    lst = tmp_path / 'list'
    lst.write_text('data/00/' + '0' * 38 + '\n')
    r = subprocess.run([cvmboot_path(), 'bundle', '--repo', str(repo['repo']), '--objects',
                        str(lst), '--out', str(tmp_path / 'idx')], capture_output=True, text=True)
    assert r.returncode == 1 and 'data/00/' in r.stderr and not (tmp_path / 'idx').exists()
    r = subprocess.run([cvmboot_path(), 'bundle', '--repo', str(tmp_path), '--objects',
                        str(lst), '--out', str(tmp_path / 'idx')], capture_output=True, text=True)
    assert r.returncode == 1 and 'not a published repository' in r.stderr


def pieces_by_bundle(index):
    """[(bundle hex, [piece hex, ...]), ...] in the index's order."""
    out = []
    for l in index.splitlines():
        if l.startswith('bundle '):
            out.append((l.split()[1], []))
        elif l and not l.startswith('#'):
            out[-1][1].append(l.split()[0])
    return out


def slow_bundles(index, rate, only=None):
    """nginx lines that send the bundles (or only those of only) at rate."""
    return ''.join('location = /data/%s/%s { limit_rate %s; }\n' % (b[:2], b[2:], rate)
                   for b, _ in pieces_by_bundle(index) if only is None or b in only)


def listed_gets(log, index):
    """GETs of an object listed in a bundle, other than the bundles themselves."""
    listed = {p[2:] for _, ps in pieces_by_bundle(index) for p in ps}
    return [l for l in log if '/data/' in l and l.split()[1].split('/')[-1] in listed]


def test_read_during_bundles_waits_for_them(repo, tmp_path):
    """Reads while the (slow) bundles are still coming: no object of a bundle
    is fetched a second time on its own; the bundle a read waits for is
    fetched ahead of its turn (read in reverse order)."""
    idx = repo['index']
    with Nginx(str(repo['repo']), extra_server=slow_bundles(idx, '256k')) as web:
        with mount_bundled(repo, web, tmp_path, 'during', '--timeout', '5000') as m:
            assert wait_log(m, 'bundle index: %d bundles' % len(bundle_lines(idx))), m.log()
            n0 = len(web.access_log())	# the mount's own (certificate, catalogs)
            t0 = time.time()
            for p in reversed(profile(repo['files'])):
                with open(os.path.join(m.mnt, p), 'rb') as f:
                    assert f.read() == repo['files'][p], p
            took = time.time() - t0
            assert wait_log(m, 'bundles: '), m.log()
        log = web.access_log()[n0:]
    sent = sum(int(l.split()[4]) for l in log)
    print('read all during the bundles: %.2f s, %d GETs, %d bytes, of them %d GETs of listed '
          'objects' % (took, len(log), sent, len(listed_gets(log, idx))))
    assert listed_gets(log, idx) == [], (listed_gets(log, idx), m.log())
    assert '(0 failed, 0 cached)' in m.log() and ' 0 bad,' in m.log(), m.log()
    assert 'not there after' not in m.log(), m.log()
    ahead = int(m.log().split(' fetched ahead of their turn')[0].rsplit(' ', 1)[1])
    assert ahead >= 1, m.log()
    print('%d bundles fetched ahead of their turn' % ahead)


def test_failed_bundle_while_a_read_waits(repo, tmp_path):
    """A bundle that is gone (404) while reads wait for it: they fetch their
    objects on their own and read the right bytes."""
    dst = tmp_path / 'repo'
    shutil.copytree(str(repo['repo']), str(dst))
    bl = pieces_by_bundle(repo['index'])
    gone = bl[-1][0]
    os.unlink(os.path.join(str(dst), 'data', gone[:2], gone[2:]))
    with Nginx(str(dst), extra_server=slow_bundles(repo['index'], '128k')) as web:
        with mount_bundled(repo, web, tmp_path, 'gone', '--timeout', '5000') as m:
            assert wait_log(m, 'bundle index:'), m.log()
            n0 = len(web.access_log())
            read_all(m, repo['files'])
            assert wait_log(m, 'bundles: '), m.log()
        log = web.access_log()[n0:]
    assert '(1 failed, 0 cached)' in m.log(), m.log()
    got = {l.split()[1].split('/')[-1] for l in listed_gets(log, repo['index'])}
    assert got and got <= {p[2:] for p in bl[-1][1]}, got	# only the lost bundle's


def test_stalled_bundle_wait_is_bounded(repo, tmp_path):
    """Bundles that trickle in: a read of one of their objects waits at most
    about that object's own download deadline, then fetches it on its own."""
    listed = {h for _, ps in pieces_by_bundle(repo['index']) for h in ps}
    with Nginx(str(repo['repo']), extra_server=slow_bundles(repo['index'], '8k')) as web:
        # nginx's limit_rate sends a burst a second: a 3 s window lets it go on
        with mount_bundled(repo, web, tmp_path, 'stall', '--timeout', '3000') as m:
            assert wait_log(m, 'bundle index:'), m.log()
            names = {}
            for p in profile(repo['files']):
                try:
                    names[os.getxattr(os.path.join(m.mnt, p), 'user.hash').decode()] = p
                except OSError:
                    pass	# chunked: no single hash
            p = next(names[h] for h in sorted(listed) if h in names)
            t0 = time.time()
            with open(os.path.join(m.mnt, p), 'rb') as f:
                assert f.read() == repo['files'][p]
            took = time.time() - t0
            assert 'not there after' in m.log(), m.log()
            print('read of a stalled bundle\'s object: %.2f s' % took)
    # bound: 2 x the 3 s low-speed window + its length at 16 KiB/s, plus slack
    assert took < 9, took
