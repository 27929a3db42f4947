# SPDX-License-Identifier: MIT
"""`cvmboot mount` refusing before it mounts (unreadable key or map, unusable
CA bundle or cache): the message names what was wrong, the exit status is 1,
and under valgrind nothing it allocated or opened on the way is lost (it
leaked keys, lists and the TLS context on these paths before issue 18)."""
import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(not shutil.which('valgrind'), reason='needs valgrind')

KEY = '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n'


def run_vg(cvmboot, args):
    r = subprocess.run(['valgrind', '--leak-check=full', '--errors-for-leak-kinds=definite,indirect',
                        '--error-exitcode=99', '--track-fds=yes', '-q', cvmboot, 'mount'] + args,
                       capture_output=True, text=True, timeout=120)
    return r


@pytest.mark.parametrize('case', ['uid-map', 'ca', 'cache'])
def test_early_errors_free_everything(cvmboot, tmp_path, case):
    key = tmp_path / 'k.pub'
    key.write_text(KEY)
    pin = tmp_path / 'pin.txt'
    pin.write_text('/a\n')
    base = ['--name', 'a.b', '--key', str(key), '--key', str(key), '--pin', str(pin),
            '--log', str(tmp_path / 'log')]
    cache = ['--cache', str(tmp_path / 'cache')]
    args, want = {
        'uid-map': (['http://127.0.0.1:1/x', str(tmp_path / 'm')] + base + cache +
                    ['--uid-map', str(tmp_path / 'missing')], 'cannot read uid map'),
        'ca': (['https://127.0.0.1:1/x', str(tmp_path / 'm')] + base + cache +
               ['--ca', str(tmp_path / 'missing')], 'CA bundle'),
        'cache': (['http://127.0.0.1:1/x', str(tmp_path / 'm')] + base +
                  ['--cache', str(tmp_path / 'no' / 'such' / 'dir')], 'cannot create cache'),
    }[case]
    r = run_vg(cvmboot, args)
    assert r.returncode == 1, r.stderr
    assert want in r.stderr, r.stderr
    assert 'definitely lost' not in r.stderr and 'indirectly lost' not in r.stderr, r.stderr
    # --track-fds lists the descriptors open at exit: none of the cache or log
    open_fds = [l for l in r.stderr.splitlines()
                if 'Open file descriptor' in l and str(tmp_path) in l]
    assert not open_fds, r.stderr
