# SPDX-License-Identifier: MIT
"""Size gate: build/init and the initramfs stay inside linker/budget."""
import subprocess

from conftest import MAKE_VARS, ROOT


def test_size_within_budget():
    r = subprocess.run(['make', '--no-print-directory', 'size'] + MAKE_VARS, cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'size: within budget' in r.stdout
