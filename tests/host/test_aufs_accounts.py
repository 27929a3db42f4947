# SPDX-License-Identifier: MIT
"""aufs-setup account merge on tmpfs in a private mount namespace: the
known-answer merge (id conflicts, aliases, members, local passwords), and
that a malformed line or a failing rename changes nothing at all."""
import os

import pytest

from conftest import BUILD, ROOT
from test_aufs_ns import ns_run

DATA = os.path.join(ROOT, 'tests', 'data', 'aufs-setup', 'accounts')
NAMES = ['passwd', 'group', 'shadow', 'gshadow']
STAMP = '20260101T000000Z'


def files(side):
    out = {}
    for n in NAMES:
        with open(os.path.join(DATA, side, n)) as f:
            out['etc/' + n] = 'f:' + f.read()
    return out


def run_merge(tmp_path, upstream, local, aux_tree=None, extra=()):
    lo, rw = str(tmp_path / 'lo'), str(tmp_path / 'rw')
    trees = {lo: upstream, rw + '/persistent': local}
    if aux_tree:
        trees[rw + '/aux'] = aux_tree
    cmd = [os.path.join(BUILD, 'cvmboot'), 'merge-accounts', lo + '/etc',
           rw + '/persistent/etc', rw + '/aux', '--stamp', STAMP]
    res = ns_run({'tmpfs': [lo, rw], 'trees': trees,
                  'run': [['mkdir', '-p', rw + '/persistent/etc'], cmd] + list(extra),
                  'dump': [rw + '/persistent', rw + '/aux']})
    return res['runs'][1], res['dumps'][rw + '/persistent'], res['dumps'][rw + '/aux']


def test_merge_known_answer(tmp_path):
    r, upper, aux = run_merge(tmp_path, files('upstream'), files('local'))
    assert r['rc'] == 0, r['err']
    for n in NAMES:
        with open(os.path.join(DATA, 'expected', n)) as f:
            assert upper['etc/' + n] == 'f:' + f.read(), n
    for n in ['uid_map', 'gid_map']:
        with open(os.path.join(DATA, 'expected', n)) as f:
            assert aux[n] == 'f:' + f.read(), n
    assert 'users added 3 groups added 2 uids mapped 3 gids mapped 4 members 5' in r['out']
    log = aux['account_merge-%s.log' % STAMP]
    assert 'add user alice id 1002 (upstream 1000)' in log, log
    # The old files are kept as backups next to the log.
    assert aux['account_merge-%s.backup/passwd' % STAMP] == files('local')['etc/passwd']
    # No temporary file is left in the OS's /etc.
    assert not [k for k in upper if 'cvmboot-new' in k], upper


def test_merge_keeps_local_password_and_mode(tmp_path):
    lo, rw = str(tmp_path / 'lo'), str(tmp_path / 'rw')
    etc = rw + '/persistent/etc'
    res = ns_run({'tmpfs': [lo, rw], 'trees': {lo: files('upstream'), rw + '/persistent':
                                                files('local')},
                  'run': ['chmod 640 %s/shadow && chgrp 42 %s/shadow' % (etc, etc),
                          [os.path.join(BUILD, 'cvmboot'), 'merge-accounts', lo + '/etc', etc,
                           rw + '/aux', '--stamp', STAMP],
                          'stat -c "%a %g" {0}/shadow; grep ^root: {0}/shadow'.format(etc)]})
    assert res['runs'][1]['rc'] == 0, res['runs'][1]['err']
    out = res['runs'][2]['out'].split('\n')
    assert out[0] == '640 42' and out[1].startswith('root:$6$local$secret:'), out


def test_nothing_local_writes_empty_maps(tmp_path):
    r, upper, aux = run_merge(tmp_path, files('upstream'), {'etc/hostname': 'f:x'},
                              aux_tree={'uid_map': 'f:5 6\n', 'gid_map': 'f:5 6\n'})
    assert r['rc'] == 0 and 'merged 0' in r['out'], r
    assert aux['uid_map'] == 'f:' and aux['gid_map'] == 'f:'
    assert 'etc/passwd' not in upper


BAD = [
    ('upstream', 'passwd', 'alice:x:1000:1000:Alice:/home/alice\n', 9,
     'expected 7 fields'),
    ('upstream', 'group', 'broken:x:abc:\n', 11, "id 'abc' is not a number"),
    ('local', 'shadow', 'bob:$6$x:19100:0:99999:7:::\n', 9, 'duplicate name'),
    ('local', 'gshadow', 'too:many:fields:here:x\n', 7, 'more than 4 fields'),
    ('local', 'passwd', 'eve:x:1005:users:Eve:/home/eve:/bin/sh\n', 9,
     "group id 'users' is not a number"),
]


@pytest.mark.parametrize('side,name,line,lineno,msg', BAD,
                         ids=['%s-%s' % (b[0], b[1]) for b in BAD])
def test_malformed_line_changes_nothing(tmp_path, side, name, line, lineno, msg):
    up, loc = files('upstream'), files('local')
    tree = up if side == 'upstream' else loc
    tree['etc/' + name] += line
    old_aux = {'uid_map': 'f:7 8\n', 'gid_map': 'f:9 10\n'}
    r, upper, aux = run_merge(tmp_path, up, loc, aux_tree=dict(old_aux))
    assert r['rc'] == 1, r
    where = '%s/etc/%s:%d: ' % ('lo' if side == 'upstream' else 'rw/persistent', name, lineno)
    assert where in r['err'] and msg in r['err'] and 'nothing was changed' in r['err'], r['err']
    assert upper == dict(loc, etc='d'), 'local files changed'
    assert aux['uid_map'] == old_aux['uid_map'] and aux['gid_map'] == old_aux['gid_map']


def test_failed_rename_rolls_back(tmp_path):
    """gid_map is a directory: its rename fails after the four account files
    were already renamed; they must be put back as they were."""
    loc = files('local')
    r, upper, aux = run_merge(tmp_path, files('upstream'), loc,
                              aux_tree={'uid_map': 'f:7 8\n', 'gid_map/x': 'f:'})
    assert r['rc'] == 1 and 'gid_map' in r['err'], r
    assert upper == dict(loc, etc='d'), upper
    assert aux['uid_map'] == 'f:7 8\n'


def test_merge_with_only_some_files_local(tmp_path):
    """Only passwd and group were changed locally: shadow and gshadow start
    from upstream's, so they come out as upstream's, and passwd as usual."""
    loc = files('local')
    del loc['etc/shadow'], loc['etc/gshadow']
    r, upper, aux = run_merge(tmp_path, files('upstream'), loc)
    assert r['rc'] == 0, r['err']
    up = files('upstream')
    assert upper['etc/shadow'] == up['etc/shadow'] and upper['etc/gshadow'] == up['etc/gshadow']
    with open(os.path.join(DATA, 'expected', 'passwd')) as f:
        assert upper['etc/passwd'] == 'f:' + f.read()
