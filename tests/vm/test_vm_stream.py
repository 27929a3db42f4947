# SPDX-License-Identifier: MIT
"""VM layer: the real image streams the test OS from a locally published
repository (nginx on 127.0.0.1, reached through a restricted guestfwd) onto a
blank virtio disk, and hands over to the OS's init."""
import os
import re

import pytest

import qemu
from bootenv import BootEnv
from conftest import BUILD

BOOT_S = 180	# TCG: a streamed first boot takes well under a minute


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    e = BootEnv(BUILD, tmp_path_factory.mktemp('stream'))
    e.keygen()
    e.publish('v1', version='1', usr_text='usr-v1')
    e.serve()
    yield e
    e.stop()


def boot(env, tmp, disk, name, initrd=None, extra=(), append='', model='virtio-net-pci',
         bus='virtio', machine='microvm,pcie=on'):
    log = str(tmp / (name + '.log'))
    vm = qemu.VM(initrd or env.initrd(), append=append, log=log, machine=machine,
                 net_args=env.net_args(model), extra=qemu.disk_args(disk, bus) + list(extra))
    with vm:
        took = vm.wait_exit(BOOT_S)
        con = vm.console()
    assert took is not None, '%s: no power-off within %d s:\n%s' % (name, BOOT_S, con[-4000:])
    return con, took


def stage_times(con):
    return dict(re.findall(r'cvmboot: timing: (\S+)\s+\d+ ms\s+(\d+) ms', con))


def test_first_and_second_boot(env, tmp_path):
    disk = str(tmp_path / 'scratch.img')
    with open(disk, 'wb') as f:
        f.truncate(1 << 30)
    nreq0 = len(env.web.access_log())
    con, took = boot(env, tmp_path, disk, 'first')
    assert 'TESTOS: overlay-over-fuse ok' in con, con[-4000:]
    assert 'TESTOS: boot 1' in con and 'TESTOS: done' in con, con[-4000:]
    assert 'first boot' in con
    # The address from QEMU's DHCP, and the root catalog fetched through the
    # guestfwd rule: its hash is the one the published manifest names.
    assert re.search(r'cvmboot: net: eth0 10\.0\.2\.15/24 ', con), con[-3000:]
    manifest = open(os.path.join(env.repo, '.cvmfspublished'), 'rb').read()
    root_hash = manifest.split(b'\n', 1)[0][1:].decode()
    assert 'cvmfs: mounted %s ' % root_hash in con, (root_hash, con[-3000:])
    first_reqs = len(env.web.access_log()) - nreq0
    print('first boot: %.1f s, %d requests; stages %s' % (took, first_reqs, stage_times(con)))

    nreq1 = len(env.web.access_log())
    con2, took2 = boot(env, tmp_path, disk, 'second')
    assert 'TESTOS: boot 2' in con2, con2[-4000:]
    assert 'first boot' not in con2 and 'no re-contextualization' in con2
    pin1 = re.search(r'cvmfs: mounted (\S+)', con).group(1)
    assert 'cvmfs: mounted %s' % pin1 in con2, 'the second boot left the pinned snapshot'
    second_reqs = len(env.web.access_log()) - nreq1
    print('second boot: %.1f s, %d requests; stages %s' % (took2, second_reqs,
                                                            stage_times(con2)))
    assert second_reqs < first_reqs / 2, (first_reqs, second_reqs)

    # The disk grew between boots: the partition and the file system follow.
    with open(disk, 'r+b') as f:
        f.truncate(2 << 30)
    con3, _ = boot(env, tmp_path, disk, 'third')
    assert re.search(r'cvmboot: disk: grew to 20\d\d MiB', con3), con3[-3000:]
    assert 'TESTOS: boot 3' in con3, con3[-3000:]
