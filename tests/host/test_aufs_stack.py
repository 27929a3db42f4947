# SPDX-License-Identifier: MIT
"""aufs-setup union root and shutdown, on tmpfs in a private mount namespace.
The lower is a tmpfs standing in for the cvmfs-lite FUSE mount (no
cvmfs-lite test helpers existed in tests/lib when this was written)."""
import os

import pytest

from conftest import BUILD
from test_aufs_ns import ns_run

CVM = os.path.join(BUILD, 'cvmboot')
OS_TREE = {'cvm4/usr/bin/tool': 'f:tool', 'cvm4/usr/share/doc/a': 'f:a',
           'cvm4/etc/motd': 'f:hello', 'cvm4/tmp': 'd', 'cvm4/var/tmp': 'd', 'cvm4/run': 'd'}


def mounts_below(mountinfo, prefix):
    out = {}
    for line in mountinfo.splitlines():
        f = line.split()
        mp = f[4]
        if mp == prefix or mp.startswith(prefix + '/'):
            out[mp[len(prefix):] or '/'] = (f[f.index('-') + 1], f[5])
    return out


@pytest.mark.parametrize('api', ['fsopen', 'mount(2)'])
def test_stack_layout_and_options(tmp_path, api):
    """Both kernel interfaces: the new mount API and the mount(2) fallback
    that kernels before 5.2 (or a seccomp filter hiding fsopen) get."""
    t = str(tmp_path)
    ro, rw, root = t + '/ro', t + '/rw', t + '/root'
    script = '''set -e
{cvm} aufs-stack {ro} cvm4 {rw} {root} --prepare-initramfs {cvm} {legacy}
cat {root}/usr/bin/tool; echo
echo new > {root}/newfile; cat {root}/mnt/.rw/persistent/newfile
cat {root}/mnt/.ro/cvm4/etc/motd; echo
cmp {cvm} {root}/run/initramfs/shutdown && test -x {root}/run/initramfs/shutdown
ls {root}/run/initramfs | tr "\\n" " "; echo
/usr/bin/python3 -c "import os
try:
    os.rename('{root}/usr/share', '{root}/usr/share2'); print('renamed')
except OSError as e:
    print('rename errno', e.errno)"
cat /proc/self/mountinfo
'''.format(cvm=CVM, ro=ro, rw=rw, root=root, legacy='--legacy-mount' if api != 'fsopen' else '')
    res = ns_run({'tmpfs': [ro, rw], 'trees': {ro: OS_TREE}, 'run': [script]})
    r = res['runs'][0]
    assert r['rc'] == 0, r['out'] + r['err']
    out = r['out'].splitlines()
    assert '(%s)' % api in out[0], out[0]
    for opt in ['redirect_dir=off', 'index=off', 'nfs_export=off', 'xino=off', 'metacopy=off']:
        assert opt in out[0], out[0]
    assert out[1:4] == ['tool', 'new', 'hello'], out
    assert out[4].split() == ['dev', 'oldroot', 'proc', 'run', 'shutdown', 'sys'], out[4]
    # redirect_dir=off: renaming a lower directory is refused with EXDEV
    # (mv then copies), so no upper entry ever points into an old snapshot.
    assert out[5] == 'rename errno 18', out[5]
    m = mounts_below('\n'.join(out[6:]), root)
    assert m['/'][0] == 'overlay', m
    assert m['/mnt/.ro'][0] == 'tmpfs' and m['/mnt/.rw'][0] == 'tmpfs', m
    assert m['/run'][0] == 'tmpfs', m
    # ro and rw were moved, not bound: nothing is mounted at the old places.
    assert not mounts_below('\n'.join(out[6:]), ro) and not mounts_below('\n'.join(out[6:]), rw)


@pytest.mark.parametrize('api', ['fsopen', 'mount(2)'])
def test_stack_drops_options_the_kernel_refuses(tmp_path, api):
    """How an older kernel is met: an option it does not know is EINVAL and
    is dropped, newest first, and the mount goes on with the rest. Here an
    option no kernel knows stands in for one this kernel predates."""
    t = str(tmp_path)
    cmd = [CVM, 'aufs-stack', t + '/ro', 'cvm4', t + '/rw', t + '/root', '--extra-opt',
           'cvmboot_no_such_option=1'] + (['--legacy-mount'] if api != 'fsopen' else [])
    res = ns_run({'tmpfs': [t + '/ro', t + '/rw'], 'trees': {t + '/ro': OS_TREE},
                  'run': [cmd, 'cat %s/root/usr/bin/tool' % t]})
    r = res['runs'][0]
    assert r['rc'] == 0, r['err']
    assert '(%s)' % api in r['out'] and 'cvmboot_no_such_option' not in r['out'], r['out']
    assert 'index=off' in r['out'] and 'metacopy=off' in r['out'], r['out']
    assert res['runs'][1]['out'] == 'tool'


def test_stack_rejects_bad_cernvm_path(tmp_path):
    t = str(tmp_path)
    res = ns_run({'tmpfs': [t + '/ro', t + '/rw'], 'trees': {t + '/ro': OS_TREE},
                  'run': [[CVM, 'aufs-stack', t + '/ro', '../etc', t + '/rw', t + '/root'],
                          [CVM, 'aufs-stack', t + '/ro', 'cvm5', t + '/rw', t + '/root']]})
    bad, missing = res['runs']
    assert bad['rc'] == 1 and "cernvm_path '../etc'" in bad['err'], bad
    assert missing['rc'] == 1 and 'lower %s/ro/cvm5' % t in missing['err'], missing


def test_shutdown_leaves_scratch_read_only(tmp_path):
    t = str(tmp_path)
    ro, rw, root = t + '/ro', t + '/rw', t + '/root'
    script = '''set -e
mkdir -p {t}/peek; mount --bind {rw} {t}/peek
{cvm} aufs-stack {ro} cvm4 {rw} {root}
mount -t tmpfs t {root}/tmp; mount -t tmpfs t {root}/var/tmp; mkdir {root}/var/tmp/sub
mount -t tmpfs t {root}/var/tmp/sub
sleep 60 & pid=$!
trap 'kill $pid 2>/dev/null' EXIT
echo $pid > {root}/.cvmfs_pids
{cvm} shutdown-test {root} poweroff
set +e
wait $pid; echo "sleep status $?"
touch {t}/peek/after 2>/dev/null && echo "scratch writable" || echo "scratch read-only"
grep -c " {root}" /proc/self/mountinfo || true
'''.format(cvm=CVM, ro=ro, rw=rw, root=root, t=t)
    res = ns_run({'tmpfs': [ro, rw], 'trees': {ro: OS_TREE}, 'run': [script]})
    r = res['runs'][0]
    assert r['rc'] == 0, r['out'] + r['err']
    out = r['out'].splitlines()[1:]
    # tmp, var/tmp, var/tmp/sub and the run tmpfs; mnt/.ro and mnt/.rw are kept
    assert 'unmounted 4 detached 0 signalled 1 overlay_ro 1 scratch_ro 1' in out[0], r['out']
    assert out[1] == 'sleep status 143', r['out']	# 128 + SIGTERM
    assert out[2] == 'scratch read-only', r['out']
    assert out[3] == '0', 'mounts left below the old root:\n' + r['out']
    assert 'cvmboot: shutdown: %s/mnt/.rw read-only' % root in r['err'], r['err']
