# SPDX-License-Identifier: MIT
"""VM layer, first test: the Debian cloud kernel boots our initramfs under
TCG; /init prints its banner on the serial console and powers off cleanly."""
import os
import re
import subprocess

from conftest import BUILD
from qemu import VM


def build_id(path):
    out = subprocess.run(['readelf', '-n', path], capture_output=True, text=True).stdout
    return re.search(r'Build ID: ([0-9a-f]+)', out).group(1)


def test_banner_and_poweroff(tmp_path):
    log = str(tmp_path / 'console.log')
    with VM(os.path.join(BUILD, 'initramfs.cpio.xz'), append='quiet', log=log) as vm:
        took = vm.wait_exit(timeout=60)
        con = vm.console()
    assert took is not None, 'no power-off within 60 s:\n' + con[-3000:]
    version = open(os.path.join(os.path.dirname(BUILD), 'VERSION')).read().strip()
    assert 'cvmboot: banner: cvmboot %s build-id %s' % (version, build_id(
        os.path.join(BUILD, 'init'))) in con, con[-3000:]
    assert 'reboot: Power down' in con, con[-3000:]
    assert 'Kernel panic' not in con
    print('boot to power-off: %.2f s' % took)
