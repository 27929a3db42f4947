# SPDX-License-Identifier: MIT
"""Expiring automatic tags, as upstream's CVMFS_AUTO_TAG_TIMESPAN: with
`--auto-tag-timespan SPAN` a publish removes the generic-<time> tags whose
timestamp is older than now - SPAN (upstream's cvmfs_server matches the
names generic[_N]-YYYY-MM-DDThh:mm:ssZ and compares the tag's timestamp to
`date --date "$CVMFS_AUTO_TAG_TIMESPAN"`). Named tags, trunk and
trunk-previous, and names that only look generic stay; gc then reclaims what
only the expired tags kept. The tags are read by the independent checker."""
import os
import re
import subprocess
import time

import pytest

from cvmfsrepo import Repo, RepoError, keygen, publish

FQRN = 'test.repo'
GENERIC = re.compile(r'generic-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z')


@pytest.fixture(scope='module')
def keys(tmp_path_factory, cvmboot):
    return keygen(FQRN, tmp_path_factory.mktemp('keys') / 'k', cvmboot=cvmboot)


def generic(tags):
    return sorted(t for t in tags if GENERIC.fullmatch(t))


def test_old_generic_tags_expire(tmp_path, keys, cvmboot):
    src, repo = tmp_path / 'src', tmp_path / 'repo'
    os.makedirs(src)
    (src / 'f').write_bytes(b'revision 1\n')
    publish(src, repo, FQRN, keys, tag='v1')
    for i in (2, 3):
        (src / 'f').write_bytes(b'revision %d, only here\n' % i)
        publish(src, repo, FQRN, keys)
    r = Repo(repo, FQRN, keys['pub'])
    old = generic(r.tags())
    assert len(old) == 2
    rev3 = r.tags()[old[-1]]['hash']
    assert r.files(rev3)['/f'] == b'revision 3, only here\n'
    # a tag whose name merely starts like one of ours stays; upstream's
    # shapes (seconds only, generic_N-) expire like ours
    for name in ('generic-build', 'generic-2020-01-01T00:00:00Z',
                 'generic_2-2020-01-01T00:00:00Z', 'generic-2020-01-01T00:00:00.5Z'):
        rc = subprocess.run([cvmboot, 'tag', str(repo), 'add', name, '--revision', '1',
                             '--keys', keys['dir']], capture_output=True, text=True)
        assert rc.returncode == 0, rc.stderr
    # a span nothing is older than yet: all stay
    (src / 'f').write_bytes(b'revision 4\n')
    out = publish(src, repo, FQRN, keys, auto_tag_timespan='1 hour ago').stdout
    assert 'removed' not in out
    tags = Repo(repo, FQRN, keys['pub']).tags()
    assert set(old) <= set(tags) and len(generic(tags)) == 3
    # publishes within one second get timestamps one apart, ahead of the
    # clock: wait until the newest is 2 s in the past
    time.sleep(max(0.0, max(t['timestamp'] for t in tags.values()) + 2.2 - time.time()))
    (src / 'f').write_bytes(b'revision 5\n')
    out = publish(src, repo, FQRN, keys, auto_tag_timespan='1s').stdout
    assert '5 generic tags older than 1 s removed' in out, out
    r = Repo(repo, FQRN, keys['pub'])
    r.check()
    tags = r.tags()
    assert len(generic(tags)) == 1, tags            # the new revision's own
    assert tags[generic(tags)[0]]['revision'] == 5
    assert 'generic-2020-01-01T00:00:00Z' not in tags
    assert 'generic_2-2020-01-01T00:00:00Z' not in tags
    for keep in ('v1', 'generic-build', 'generic-2020-01-01T00:00:00.5Z', 'trunk',
                 'trunk-previous'):
        assert keep in tags, keep
    assert tags['trunk-previous']['revision'] == 4
    # gc now drops what only revision 3's expired tag kept
    before = set(r.object_files())
    rc = subprocess.run([cvmboot, 'gc', str(repo), '--keys', keys['dir'], '--safety-margin', '0',
                         '--keep-revisions', '2'], capture_output=True, text=True)
    assert rc.returncode == 0, rc.stderr
    r = Repo(repo, FQRN, keys['pub'])
    r.check()
    gone = before - set(r.object_files())
    assert gone, 'gc reclaimed nothing after the tags expired'
    with pytest.raises(RepoError):
        r.files(rev3)
    assert r.files(r.tags()['v1']['hash'])['/f'] == b'revision 1\n'


@pytest.mark.parametrize('span', ['bla', '', '-3', '4 fortnights ago', '10x', '0'])
def test_bad_timespan_refused(tmp_path, keys, span):
    src, repo = tmp_path / 'src', tmp_path / 'repo'
    os.makedirs(src)
    (src / 'f').write_bytes(b'x\n')
    r = publish(src, repo, FQRN, keys, check=False, auto_tag_timespan=span)
    assert r.returncode == 2 and 'not a time span' in r.stderr, (span, r.stderr)
    assert not os.path.exists(repo / '.cvmfspublished')
