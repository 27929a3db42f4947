# SPDX-License-Identifier: MIT
"""The repository's meta-info object (manifest M) and reference log
(.cvmfsreflog, manifest Y) that upstream's GC and replication tools read:
written by every publish and tag edit, judged by tests/lib/cvmfsrepo.py
(python's sqlite3/json/hashlib, from the format spec), and the repository
still mounts in our client."""
import json
import os
import sqlite3

import pytest

from cvmfsrepo import Repo, RepoError, keygen, publish

FQRN = 'test.repo'


@pytest.fixture(scope='module')
def keys(tmp_path_factory, cvmboot):
    return keygen(FQRN, tmp_path_factory.mktemp('keys') / 'k', cvmboot=cvmboot)


def refs_of(repo):
    db = sqlite3.connect(os.path.join(str(repo), '.cvmfsreflog'))
    try:
        return sorted(db.execute('SELECT hash, type FROM refs'))
    finally:
        db.close()


def test_reflog_and_metainfo_each_publish(tmp_path, keys, cvmboot):
    import subprocess
    src, repo = tmp_path / 'src', tmp_path / 'repo'
    os.makedirs(src)
    roots, hists, metas = [], [], []
    for i in range(3):
        (src / 'f').write_bytes(b'revision %d\n' % i)
        publish(src, repo, FQRN, keys, tag='r%d' % i)
        r = Repo(repo, FQRN, keys['pub'])
        summary = r.check()
        f = r.manifest()['fields']
        roots.append(f['C'])
        hists.append(f['H'])
        metas.append(f['M'])
        refs = r.check_reflog()
        # every root catalog published so far is listed, with the right type
        for h in roots:
            assert (h, 0) in refs
        for h in hists:
            assert (h, 2) in refs
        assert summary['refs'] == len(refs)
    # the meta-info stays the same unless a new one is given
    assert len(set(metas)) == 1
    info = Repo(repo, FQRN, keys['pub']).metainfo()
    for k in ('administrator', 'email', 'organisation', 'description', 'url',
              'recommended-stratum0', 'recommended-stratum1s', 'custom'):
        assert k in info, k
    assert FQRN in info['description']
    # --meta-info FILE replaces it
    mi = tmp_path / 'meta.json'
    mi.write_text(json.dumps({'administrator': 'Ada', 'email': 'ada@example.org',
                              'recommended-stratum1s': ['http://s1.example.org/cvmfs/' + FQRN],
                              'custom': {'x': [1, 2.5e3, True, None, 'ü\\"']}}))
    (src / 'f').write_bytes(b'revision 3\n')
    publish(src, repo, FQRN, keys, meta_info=str(mi), no_auto_tag=True)
    r = Repo(repo, FQRN, keys['pub'])
    r.check()
    assert r.metainfo()['administrator'] == 'Ada'
    assert (r.manifest()['fields']['M'], 3) in r.check_reflog()
    # a tag edit (new history object) updates the reflog and Y too
    rc = subprocess.run([cvmboot, 'tag', str(repo), 'rm', 'r0', '--keys', keys['dir']],
                        capture_output=True, text=True)
    assert rc.returncode == 0, rc.stderr
    r = Repo(repo, FQRN, keys['pub'])
    r.check()
    assert (r.manifest()['fields']['H'], 2) in r.check_reflog()


def test_bad_metainfo_refused(tmp_path, keys):
    src, repo = tmp_path / 'src', tmp_path / 'repo'
    os.makedirs(src)
    (src / 'f').write_bytes(b'x\n')
    publish(src, repo, FQRN, keys)
    before = open(repo / '.cvmfspublished', 'rb').read()
    for bad in ('[1, 2]', '{"a": 1,}', '{"a": tru}', '{"a": "x"} trailing', ''):
        mi = tmp_path / 'bad.json'
        mi.write_text(bad)
        r = publish(src, repo, FQRN, keys, meta_info=str(mi), check=False)
        assert r.returncode == 1 and 'not one JSON object' in r.stderr, (bad, r.stderr)
        assert open(repo / '.cvmfspublished', 'rb').read() == before
    r = publish(src, repo, FQRN, keys, meta_info=str(tmp_path / 'none.json'), check=False)
    assert r.returncode == 1 and 'none.json: cannot read' in r.stderr


def test_checker_sees_reflog_damage(tmp_path, keys):
    """The independent checker fails on each kind of reflog damage."""
    import shutil
    src, repo = tmp_path / 'src', tmp_path / 'repo'
    os.makedirs(src)
    (src / 'f').write_bytes(b'x\n')
    publish(src, repo, FQRN, keys)
    Repo(repo, FQRN, keys['pub']).check()

    def damaged(edit, msg):
        d = tmp_path / ('copy-%d' % len(os.listdir(tmp_path)))
        shutil.copytree(repo, d)
        edit(d)
        with pytest.raises(RepoError, match=msg):
            Repo(d, FQRN, keys['pub']).check()

    def sql(stmt):
        def run(d):
            db = sqlite3.connect(os.path.join(str(d), '.cvmfsreflog'))
            db.execute(stmt)
            db.commit()
            db.close()
        return run
    damaged(lambda d: os.unlink(d / '.cvmfsreflog'), 'reflog .* missing')
    damaged(sql("DELETE FROM refs WHERE type = 0"), 'Y .* is not the hash')
    f = Repo(repo, FQRN, keys['pub']).manifest()['fields']
    damaged(lambda d: os.unlink(Repo(d).object_path(f['M'], 'M')), 'missing')
