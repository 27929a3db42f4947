# SPDX-License-Identifier: MIT
"""aufs-setup rebase: one case per rule, each a before/after pair of trees on
tmpfs in a private mount namespace (tmpfs lowers stand in for the cvmfs-lite
FUSE lower; the rules only lstat the lower)."""
import os

import pytest

from conftest import BUILD
from test_aufs_ns import ns_run

STAMP = '20260101T000000Z'

# (id, lower, upper before, upper after, saved tree after, log lines expected)
CASES = [
    ('file-elsewhere-upstream-wins',
     {'usr/bin/tool': 'f:new'}, {'usr/bin/tool': 'f:local'},
     {'usr': 'd', 'usr/bin': 'd'}, None, ['remove       /usr/bin/tool']),
    ('file-under-etc-kept',
     {'etc/motd': 'f:new'}, {'etc/motd': 'f:local'},
     {'etc': 'd', 'etc/motd': 'f:local'}, None, ['keep         /etc/motd']),
    ('file-under-var-kept',
     {'var/log/x': 'f:new'}, {'var/log/x': 'f:local'},
     {'var': 'd', 'var/log': 'd', 'var/log/x': 'f:local'}, None, ['keep         /var/log/x']),
    ('file-under-root-kept',
     {'root/.bashrc': 'f:new'}, {'root/.bashrc': 'f:local'},
     {'root': 'd', 'root/.bashrc': 'f:local'}, None, ['keep         /root/.bashrc']),
    ('prefix-is-a-path-component',
     {'etcetera/x': 'f:new', 'variable/y': 'f:new'},
     {'etcetera/x': 'f:local', 'variable/y': 'f:local'},
     {'etcetera': 'd', 'variable': 'd'}, None,
     ['remove       /etcetera/x', 'remove       /variable/y']),
    ('upper-only-kept',
     {'usr/bin/a': 'f:a'}, {'usr/local/mine': 'f:mine'},
     {'usr': 'd', 'usr/local': 'd', 'usr/local/mine': 'f:mine'}, None,
     ['keep         /usr/local  (local only)']),
    ('whiteout-elsewhere-removed',
     {'usr/bin/gone': 'f:back'}, {'usr/bin/gone': 'w'},
     {'usr': 'd', 'usr/bin': 'd'}, None,
     ['unwhiteout   /usr/bin/gone  (exists upstream']),
    ('whiteout-under-etc-kept',
     {'etc/cron.d/job': 'f:x'}, {'etc/cron.d/job': 'w'},
     {'etc': 'd', 'etc/cron.d': 'd', 'etc/cron.d/job': 'w'}, None,
     ['keep         /etc/cron.d/job  (whiteout']),
    ('whiteout-stale-removed',
     {'etc/other': 'f:x'}, {'etc/old': 'w'},
     {'etc': 'd'}, None, ['unwhiteout   /etc/old  (stale']),
    ('opaque-elsewhere-unmarked-and-merged',
     {'opt/app/lib.so': 'f:new', 'opt/app/data': 'f:new'},
     {'opt/app': 'd:opaque', 'opt/app/lib.so': 'f:local', 'opt/app/mine': 'f:mine'},
     {'opt': 'd', 'opt/app': 'd', 'opt/app/mine': 'f:mine'}, None,
     ['unopaque     /opt/app', 'remove       /opt/app/lib.so']),
    ('opaque-under-etc-kept',
     {'etc/ssh/sshd_config': 'f:new'},
     {'etc/ssh': 'd:opaque', 'etc/ssh/sshd_config': 'f:local'},
     {'etc': 'd', 'etc/ssh': 'd:opaque', 'etc/ssh/sshd_config': 'f:local'}, None,
     ['keep-opaque  /etc/ssh']),
    ('type-file-over-upstream-dir',
     {'usr/share/doc/x/README': 'f:r'}, {'usr/share/doc/x': 'f:local'},
     {'usr': 'd', 'usr/share': 'd', 'usr/share/doc': 'd'}, None,
     ['remove       /usr/share/doc/x  (local file, upstream dir']),
    ('type-symlink-over-upstream-file',
     {'usr/lib/libz.so': 'f:lib'}, {'usr/lib/libz.so': 'l:libz.so.1'},
     {'usr': 'd', 'usr/lib': 'd'}, None,
     ['remove       /usr/lib/libz.so  (local symlink, upstream file']),
    ('type-dir-over-upstream-symlink-saved',
     {'lib': 'l:usr/lib', 'usr/lib/x': 'f:x'},
     {'lib/mine.so': 'f:mine'},
     {}, {'lib': 'd', 'lib/mine.so': 'f:mine'},
     ['save         /lib  (type change: upstream symlink replaces local dir']),
    ('type-dir-over-upstream-file-under-etc-kept',
     {'etc/resolv.conf': 'f:up'}, {'etc/resolv.conf/x': 'f:mine'},
     {'etc': 'd', 'etc/resolv.conf': 'd', 'etc/resolv.conf/x': 'f:mine'}, None,
     ['keep         /etc/resolv.conf  (local dir over upstream non-dir']),
    ('type-file-over-upstream-dir-under-etc-kept',
     {'etc/profile.d/a.sh': 'f:a'}, {'etc/profile.d': 'f:mine'},
     {'etc': 'd', 'etc/profile.d': 'f:mine'}, None,
     ['keep         /etc/profile.d  (local file, upstream dir']),
    ('dpkg-database-reset-to-upstream',
     {'var/lib/dpkg/status': 'f:Package: base\n', 'var/lib/dpkg/info/base.list': 'f:/'},
     {'var/lib/dpkg/status': 'f:Package: base\n\nPackage: mine\n',
      'var/lib/dpkg/info/mine.list': 'f:/usr/bin/mine', 'var/lib/dpkg/info/base.list': 'w',
      'var/lib/misc': 'f:kept'},
     {'var': 'd', 'var/lib': 'd', 'var/lib/misc': 'f:kept'},
     {'var': 'd', 'var/lib': 'd', 'var/lib/dpkg': 'd',
      'var/lib/dpkg/status': 'f:Package: base\n\nPackage: mine\n',
      'var/lib/dpkg/info': 'd', 'var/lib/dpkg/info/mine.list': 'f:/usr/bin/mine',
      'var/lib/dpkg/info/base.list': 'w'},
     ['pkgdb-reset  /var/lib/dpkg  (package database: upstream copy wins']),
    ('rpm-database-reset-to-upstream',
     {'var/lib/rpm/Packages': 'f:up'},
     {'var/lib/rpm/Packages': 'f:local', 'var/lib/rpm/__db.001': 'f:env'},
     {'var': 'd', 'var/lib': 'd'},
     {'var': 'd', 'var/lib': 'd', 'var/lib/rpm': 'd', 'var/lib/rpm/Packages': 'f:local',
      'var/lib/rpm/__db.001': 'f:env'},
     ['pkgdb-reset  /var/lib/rpm']),
    ('rpm-database-local-only-kept',
     {'var/lib/apt/x': 'f:up'}, {'var/lib/rpm/Packages': 'f:local'},
     {'var': 'd', 'var/lib': 'd', 'var/lib/rpm': 'd', 'var/lib/rpm/Packages': 'f:local'}, None,
     ['keep         /var/lib/rpm  (local only)']),
]


@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_rebase_rule(tmp_path, case):
    _, lower, upper, want_upper, want_saved, want_log = case
    lo, rw = str(tmp_path / 'lo'), str(tmp_path / 'rw')
    up, aux = rw + '/persistent', rw + '/aux'
    logf = '%s/rebase-%s.log' % (aux, STAMP)
    res = ns_run({'tmpfs': [lo, rw], 'trees': {lo: lower, up: upper},
                  'run': [[os.path.join(BUILD, 'cvmboot'), 'rebase', lo, up, aux,
                           '--stamp', STAMP], ['cat', logf]],
                  'dump': [up, aux + '/rebase-%s.saved' % STAMP]})
    r, log = res['runs'][0], res['runs'][1]['out']
    assert r['rc'] == 0, r['err'] + log
    assert res['dumps'][up] == want_upper, log
    assert res['dumps'][aux + '/rebase-%s.saved' % STAMP] == want_saved, log
    for line in want_log:
        assert line in log, 'missing %r in log:\n%s' % (line, log)
    assert 'upper has changes: 1' in r['out'], r['out']
    # Every upper entry that was looked at has its decision line.
    assert '# done: visited' in log
    decisions = [l for l in log.splitlines() if l and not l.startswith('#')]
    visited = int(log.split('# done: visited ')[1].split(',')[0])
    assert len(decisions) == visited, log


def test_rebase_deep_tree_no_recursion(tmp_path):
    """1500 nested directories (3000-byte path) on both sides: the walk is
    iterative, so the file at the bottom is decided like any other."""
    deep = '/'.join(['d'] * 1500)
    lo, rw = str(tmp_path / 'lo'), str(tmp_path / 'rw')
    up, aux = rw + '/persistent', rw + '/aux'
    script = ('set -e; mkdir -p {lo}/usr/{d} {up}/usr/{d}; echo new > {lo}/usr/{d}/f; '
              'echo old > {up}/usr/{d}/f; echo mine > {up}/usr/{d}/g; '
              '{cvm} rebase {lo} {up} {aux} --stamp {s}; '
              'test ! -e {up}/usr/{d}/f; test -e {up}/usr/{d}/g; '
              'grep -c "^remove " {aux}/rebase-{s}.log').format(
                  lo=lo, up=up, aux=aux, d=deep, s=STAMP, cvm=os.path.join(BUILD, 'cvmboot'))
    res = ns_run({'tmpfs': [lo, rw], 'run': [script]})
    r = res['runs'][0]
    assert r['rc'] == 0, r['err']
    assert r['out'].strip().endswith('1'), r['out']


def test_rebase_then_overlay_shows_new_snapshot(tmp_path):
    """After a rebase the mounted union shows the new snapshot outside /etc,
    the local edit inside it, and a file deleted upstream-again comes back."""
    ro, rw, root = str(tmp_path / 'ro'), str(tmp_path / 'rw'), str(tmp_path / 'root')
    cvm = os.path.join(BUILD, 'cvmboot')
    res = ns_run({
        'tmpfs': [ro, rw],
        'trees': {ro: {'os/usr/bin/tool': 'f:v2', 'os/etc/motd': 'f:v2', 'os/bin/sh': 'f:sh'},
                  rw + '/persistent': {'usr/bin/tool': 'f:v1-local', 'etc/motd': 'f:mine',
                                       'bin/sh': 'w'}},
        'run': [[cvm, 'rebase', ro + '/os', rw + '/persistent', rw + '/aux', '--stamp', STAMP],
                [cvm, 'aufs-stack', ro, 'os', rw, root]],
        'dump': [root + '/usr', root + '/etc', root + '/bin']})
    for r in res['runs']:
        assert r['rc'] == 0, r['err']
    d = res['dumps']
    assert d[root + '/usr']['bin/tool'] == 'f:v2'
    assert d[root + '/etc']['motd'] == 'f:mine'
    assert d[root + '/bin']['sh'] == 'f:sh'


def test_rebase_bad_args_say_what(tmp_path):
    res = ns_run({'run': [[os.path.join(BUILD, 'cvmboot'), 'rebase', '/nonexistent-lower',
                           str(tmp_path), str(tmp_path / 'aux')]]})
    r = res['runs'][0]
    assert r['rc'] == 1 and '/nonexistent-lower' in r['err'], r


def test_rebase_empty_upper_has_no_changes(tmp_path):
    lo, rw = str(tmp_path / 'lo'), str(tmp_path / 'rw')
    res = ns_run({'tmpfs': [lo, rw], 'trees': {lo: {'usr/x': 'f:x'}},
                  'run': [['mkdir', rw + '/persistent'],
                          [os.path.join(BUILD, 'cvmboot'), 'rebase', lo, rw + '/persistent',
                           rw + '/aux', '--stamp', STAMP]]})
    r = res['runs'][1]
    assert r['rc'] == 0 and 'upper has changes: 0' in r['out'], r
