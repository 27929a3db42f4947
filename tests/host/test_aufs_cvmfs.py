# SPDX-License-Identifier: MIT
"""aufs-setup over a real cvmfs-lite FUSE lower: two snapshots published with
`cvmboot publish`, served by nginx on 127.0.0.1, the newer one mounted with
`cvmboot mount`; an upper layer made against the older one is rebased onto
it and the union is mounted with our options in a private mount namespace."""
import os

import pytest

from cvmfsmount import Mount
from cvmfsrepo import keygen, publish
from servers import Nginx
from test_aufs_ns import build, ns_run

from conftest import BUILD

FQRN = 'os.cvmboot.test'
pytestmark = pytest.mark.skipif(not os.access('/dev/fuse', os.W_OK) or os.geteuid() != 0,
                                reason='needs root and /dev/fuse')

V1 = {'cvm4/usr/bin/tool': 'f:v1', 'cvm4/etc/motd': 'f:v1', 'cvm4/usr/share/doc/a': 'f:a',
      'cvm4/var/lib/dpkg/status': 'f:Package: base\n'}
V2 = {'cvm4/usr/bin/tool': 'f:v2', 'cvm4/etc/motd': 'f:v2', 'cvm4/usr/share/doc/a': 'f:a',
      'cvm4/usr/share/gone': 'f:back in v2', 'cvm4/var/lib/dpkg/status': 'f:Package: base\n',
      'cvm4/usr/lib/new': 'f:new in v2'}
UPPER = {'usr/bin/tool': 'f:local edit', 'etc/motd': 'f:local motd', 'usr/share/gone': 'w',
         'usr/local/mine': 'f:mine', 'var/lib/dpkg/status': 'f:Package: base\n\nPackage: mine\n'}


def test_rebase_and_union_over_cvmfs_lite(tmp_path):
    keys = keygen(FQRN, tmp_path / 'keys')
    repo = tmp_path / 'repo'
    for tag, tree in (('v1', V1), ('v2', V2)):
        src = tmp_path / ('src-' + tag)
        build(str(src), tree)
        publish(src, repo, FQRN, keys, tag=tag)
    mnt, rw, root = tmp_path / 'ro', str(tmp_path / 'rw'), str(tmp_path / 'root')
    cvm = os.path.join(BUILD, 'cvmboot')
    with Nginx(str(repo)) as web, \
            Mount(web.url, mnt, FQRN, keys['pub'], tmp_path / 'cache', '--tag', 'v2') as m:
        assert m.info.split()[2] == 'v2', m.info
        script = '''set -e
{cvm} rebase {ro}/cvm4 {rw}/persistent {rw}/aux --stamp S
{cvm} aufs-stack {ro} cvm4 {rw} {root}
echo "tool=$(cat {root}/usr/bin/tool) motd=$(cat {root}/etc/motd) gone=$(cat {root}/usr/share/gone)"
echo "new=$(cat {root}/usr/lib/new) mine=$(cat {root}/usr/local/mine)"
echo "dpkg=$(tr '\\n' ' ' < {root}/var/lib/dpkg/status)"
echo written > {root}/usr/lib/new; cat {root}/mnt/.rw/persistent/usr/lib/new {root}/mnt/.ro/cvm4/usr/lib/new; echo
grep " {root} " /proc/self/mountinfo
'''.format(cvm=cvm, ro=str(mnt), rw=rw, root=root)
        res = ns_run({'tmpfs': [rw], 'trees': {rw + '/persistent': UPPER}, 'run': [script]})
    r = res['runs'][0]
    assert r['rc'] == 0, r['out'] + r['err']
    out = r['out'].splitlines()
    assert 'removed 1 whiteouts 1' in out[1] and 'saved 1' in out[1], out[1]
    assert out[3] == 'tool=v2 motd=local motd gone=back in v2', r['out']
    assert out[4] == 'new=new in v2 mine=mine', r['out']
    # The package database is the new snapshot's; the local one was saved.
    assert out[5] == 'dpkg=Package: base ', r['out']
    # Copy-up writes the upper only; the FUSE lower stays as published.
    assert out[6:8] == ['written', 'new in v2'], r['out']
    assert ' - overlay ' in out[8] and 'lowerdir=%s/cvm4' % mnt in out[8], out[8]
