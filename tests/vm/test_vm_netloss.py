# SPDX-License-Identifier: MIT
"""VM layer, issue 10: network loss after boot. With every server gone, the
files of the OS's /.ucernvm_pinfiles (fetched ahead, never evicted) still
let the OS list / and restart its network; a file neither pinned nor read
before gives an I/O error rather than wrong bytes."""
import hashlib
import os
import time
import zlib

import qemu
from bootenv import BootEnv
from conftest import BUILD


def test_pinned_files_survive_network_loss(tmp_path):
    env = BootEnv(BUILD, tmp_path)
    env.keygen()
    pinned = os.urandom(200 * 1024)
    env.publish('v1', extra={
        '.ucernvm_pinfiles': '# read through the repository by cvmfs-lite\n'
                             '/usr/share/testos/pinned\n/bin/busybox\n/sbin/init\n',
        'usr/share/testos/pinned': pinned.hex(),
        'usr/share/testos/unpinned': os.urandom(100 * 1024).hex()})
    env.serve()
    text = pinned.hex().encode()
    obj = hashlib.sha1(zlib.compress(text, 6)).hexdigest()
    disk = str(tmp_path / 'scratch.img')
    with open(disk, 'wb') as f:
        f.truncate(1 << 30)
    log = str(tmp_path / 'netloss.log')
    try:
        with qemu.VM(env.initrd(), append='testos.netloss', log=log, net_args=env.net_args(),
                     extra=qemu.disk_args(disk)) as vm:
            assert vm.wait_for('TESTOS: waiting for the network to go', 120) is not None, \
                vm.console()[-3000:]
            # The pinned object arrives ahead of use; then every server goes.
            end = time.monotonic() + 6
            while time.monotonic() < end and not any(obj[2:] in l for l in env.web.access_log()):
                time.sleep(0.1)
            assert any(obj[2:] in l for l in env.web.access_log()), 'pinned object never fetched'
            env.web.stop()
            assert vm.wait_exit(120) is not None, vm.console()[-3000:]
            con = vm.console()
    finally:
        env.stop()
    assert 'TESTOS: ls / ok' in con, con[-3000:]
    assert 'TESTOS: pinned=%s' % hashlib.md5(text).hexdigest() in con, con[-3000:]
    assert 'TESTOS: unpinned unreadable' in con, con[-3000:]
    assert 'TESTOS: network restarted' in con, con[-3000:]
