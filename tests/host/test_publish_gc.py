# SPDX-License-Identifier: MIT
"""`cvmboot gc`: several revisions with changing files, some tagged, one tag
removed; the objects to go are computed here independently (python walk of
every kept root catalog, tests/lib/cvmfsrepo.py) and must be exactly what
the dry run lists and what gc removes; the dry run changes nothing; the
safety margin keeps young objects; afterwards the checker passes and every
kept tag mounts in our client and reads right."""
import hashlib
import os
import re
import subprocess

import pytest

from cvmfsrepo import F_CHUNKED, Repo, flag_algo, hex_of, keygen, publish, rand

FQRN = 'test.repo'
CHUNKS = dict(chunk_min='64k', chunk_avg='128k', chunk_max='256k')


def reachable(r, root):
    """Object file names (xx/rest+suffix) one revision needs: its catalogs,
    files and chunks, found by the independent reader."""
    out = set()

    def name(hx, suffix=''):
        return hx[:2] + '/' + hx[2:] + suffix
    seen_cats = set()
    for path, e in r.walk(root).items():
        if e['catalog'] not in seen_cats:
            seen_cats.add(e['catalog'])
            out.add(name(e['catalog'], 'C'))
        if e['flags'] & F_CHUNKED:
            out.update(name(hx, 'P') for _, _, hx in e['chunks'])
        elif e['hash'] is not None:
            out.add(name(hex_of(flag_algo(e['flags']), e['hash'])))
    return out


def state(repo):
    """Everything gc could change: each file under the repository with its bytes' hash."""
    out = {}
    for d, _, files in os.walk(repo):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, repo)] = hashlib.sha1(open(p, 'rb').read()).hexdigest()
    return out


def gc(cvmboot, repo, *args):
    return subprocess.run([cvmboot, 'gc', str(repo)] + [str(a) for a in args],
                          capture_output=True, text=True)


@pytest.fixture(scope='module')
def keys(tmp_path_factory, cvmboot):
    return keygen(FQRN, tmp_path_factory.mktemp('keys') / 'k', cvmboot=cvmboot)


def test_gc(tmp_path, keys, cvmboot):
    src, repo = tmp_path / 'src', tmp_path / 'repo'
    os.makedirs(src / 'sub')
    (src / 'sub/.cvmfscatalog').write_bytes(b'')
    (src / 'common').write_bytes(b'in every revision\n')
    contents = {}
    plan = [('v1', b'a1', 'big1'), ('v2', b'a2', 'big2'), (None, b'a3', 'big3'),
            (None, b'a4', 'big3')]
    roots = []
    for i, (tag, a, big) in enumerate(plan):
        (src / 'a').write_bytes(a * 1000)
        (src / 'sub/big').write_bytes(rand(700000, big))
        contents[i] = {'/a': a * 1000, '/sub/big': rand(700000, big),
                       '/common': b'in every revision\n'}
        publish(src, repo, FQRN, keys, tag=tag, no_auto_tag=tag is None, **CHUNKS)
        roots.append(Repo(repo, FQRN, keys['pub']).manifest()['fields']['C'])
    r = subprocess.run([cvmboot, 'tag', str(repo), 'rm', 'v2', '--keys', keys['dir']],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

    rr = Repo(repo, FQRN, keys['pub'])
    rr.check()
    tags = rr.tags()
    assert sorted(tags) == ['trunk', 'trunk-previous', 'v1']
    f = rr.manifest()['fields']
    # kept: trunk (rev 4), trunk-previous (rev 3), v1 (rev 1); the manifest's X, H, M
    keep = set()
    for t in tags.values():
        keep |= reachable(rr, t['hash'])
    keep |= {f['X'][:2] + '/' + f['X'][2:] + 'X', f['H'][:2] + '/' + f['H'][2:] + 'H',
             f['M'][:2] + '/' + f['M'][2:] + 'M'}
    all_objs = rr.object_files()
    garbage = all_objs - keep
    only_v2 = reachable(rr, roots[1]) - keep
    assert only_v2 and only_v2 <= garbage
    assert any(n.endswith('C') for n in only_v2)        # its root catalog
    assert any(n.endswith('P') for n in only_v2)        # big2's chunks
    garbage_bytes = sum(os.path.getsize(repo / 'data' / n) for n in garbage)

    # the safety margin (default 1 h): everything is young, nothing goes
    before = state(repo)
    r = gc(cvmboot, repo, '--keys', keys['dir'])
    assert r.returncode == 0, r.stderr
    assert 'removed 0 objects, 0 bytes' in r.stdout, r.stdout
    assert set(state(repo)) >= {k for k in before if k.startswith('data/')}

    # the dry run lists exactly the garbage and changes nothing
    before = state(repo)
    r = gc(cvmboot, repo, '--dry-run', '--safety-margin', 0)
    assert r.returncode == 0, r.stderr
    listed = set(re.findall(r'^would remove data/(\S+) ', r.stdout, re.M))
    assert listed == garbage, (sorted(listed ^ garbage))
    assert 'would remove %d objects, %d bytes' % (len(garbage), garbage_bytes) in r.stdout
    assert state(repo) == before

    # --keep-revisions 3 keeps revision 2 (the newest three: 4, 3, 2) and all it needs
    r = gc(cvmboot, repo, '--dry-run', '--safety-margin', 0, '--keep-revisions', 3)
    listed3 = set(re.findall(r'^would remove data/(\S+) ', r.stdout, re.M))
    assert listed3 == garbage - reachable(rr, roots[1]), sorted(listed3 ^ garbage)
    assert not (listed3 & only_v2) and state(repo) == before

    # gc without keys refuses (it re-signs the manifest) and changes nothing
    r = gc(cvmboot, repo, '--safety-margin', 0)
    assert r.returncode == 2 and state(repo) == before

    # the real run
    r = gc(cvmboot, repo, '--keys', keys['dir'], '--safety-margin', 0, '-v')
    assert r.returncode == 0, r.stderr
    print(r.stdout.splitlines()[-1])
    m = re.search(r'removed (\d+) objects, (\d+) bytes;.*; ([0-9.]+) s$', r.stdout, re.M)
    assert m and int(m.group(1)) == len(garbage) and int(m.group(2)) == garbage_bytes
    after = Repo(repo, FQRN, keys['pub']).object_files()
    assert after == all_objs - garbage
    assert not (after & only_v2)
    rr = Repo(repo, FQRN, keys['pub'])
    rr.check()                      # reflog, Y, every tag's tree, all objects
    refs = rr.check_reflog()
    assert (roots[1], 0) not in refs    # the removed root catalog left the reflog
    for name, rev in (('v1', 0), ('trunk-previous', 2), ('trunk', 3)):
        files = rr.files(rr.tags()[name]['hash'])
        for p, data in contents[rev].items():
            assert files[p] == data, (name, p)
    # a second gc finds nothing more
    r = gc(cvmboot, repo, '--keys', keys['dir'], '--safety-margin', 0)
    assert 'removed 0 objects, 0 bytes' in r.stdout, r.stdout

    # every kept tag mounts in our client and reads right
    if not os.access('/dev/fuse', os.W_OK) or os.geteuid() != 0:
        pytest.skip('mount part needs root and /dev/fuse')
    from cvmfsmount import Mount
    from servers import Nginx
    with Nginx(str(repo)) as web:
        for name, rev in (('v1', 0), ('trunk-previous', 2), ('trunk', 3)):
            with Mount(web.url, tmp_path / ('mnt-' + name), FQRN, keys['pub'],
                       tmp_path / ('cache-' + name), '--tag', name) as mt:
                for p, data in contents[rev].items():
                    with open(mt.mnt + p, 'rb') as fh:
                        assert fh.read() == data, (name, p)


def test_gc_refuses_unreadable_kept_catalog(tmp_path, keys, cvmboot):
    """A kept revision's catalog missing: gc removes nothing and says which."""
    src, repo = tmp_path / 'src', tmp_path / 'repo'
    os.makedirs(src)
    for i in range(2):
        (src / 'a').write_bytes(b'%d\n' % i)
        publish(src, repo, FQRN, keys, tag='t%d' % i)
    rr = Repo(repo, FQRN, keys['pub'])
    t0 = rr.tags()['t0']['hash']
    os.unlink(rr.object_path(t0, 'C'))
    before = state(repo)
    r = gc(cvmboot, repo, '--keys', keys['dir'], '--safety-margin', 0)
    assert r.returncode == 1 and t0 in r.stderr and 'nothing was removed' in r.stderr
    assert state(repo) == before


def test_gc_keeps_bundles_of_kept_revisions(tmp_path, keys, cvmboot):
    """Boot-profile bundles are plain objects named only by a /.cvmboot_bundles
    file of the tree: gc keeps them while a kept revision has that index, and
    removes them once none has."""
    src, repo = tmp_path / 'src', tmp_path / 'repo'
    os.makedirs(src)
    for i in range(20):
        (src / ('f%d' % i)).write_bytes(rand(30000, 'b%d' % i))
    publish(src, repo, FQRN, keys, tag='plain')
    rr = Repo(repo, FQRN, keys['pub'])
    objs = tmp_path / 'objects'
    objs.write_text(''.join('data/' + n + '\n' for n in sorted(reachable(rr, rr.manifest()['fields']['C']))))
    r = subprocess.run([cvmboot, 'bundle', '--repo', str(repo), '--objects', str(objs), '--out',
                        str(src / '.cvmboot_bundles'), '--first', '65536', '--max', '262144'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    bundles = [l.split()[1] for l in (src / '.cvmboot_bundles').read_text().splitlines()
               if l.startswith('bundle ')]
    assert bundles
    names = {b[:2] + '/' + b[2:] for b in bundles}
    publish(src, repo, FQRN, keys, tag='bundled')
    r = gc(cvmboot, repo, '--keys', keys['dir'], '--safety-margin', 0)
    assert r.returncode == 0, r.stderr
    assert names <= Repo(repo).object_files()
    # no kept revision has the index any more: the bundles go
    os.unlink(src / '.cvmboot_bundles')
    publish(src, repo, FQRN, keys, no_auto_tag=True)
    publish(src, repo, FQRN, keys, no_auto_tag=True)
    for t in ('bundled', 'plain'):
        subprocess.run([cvmboot, 'tag', str(repo), 'rm', t, '--keys', keys['dir']], check=True,
                       capture_output=True)
    r = gc(cvmboot, repo, '--keys', keys['dir'], '--safety-margin', 0)
    assert r.returncode == 0, r.stderr
    assert not (names & Repo(repo).object_files())
    Repo(repo, FQRN, keys['pub']).check()
