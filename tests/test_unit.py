# SPDX-License-Identifier: MIT
"""Unit layer: each module's cmocka binary (built by make check) must pass."""
import glob
import os
import subprocess

import pytest

from conftest import BUILD, ROOT

BINS = sorted(glob.glob(os.path.join(BUILD, 'h', 'tests', 't-*')))


@pytest.mark.parametrize('binary', BINS, ids=[os.path.basename(b)[2:] for b in BINS])
def test_unit(binary):
    r = subprocess.run([binary], cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert '[  PASSED  ]' in out, out


def test_every_module_with_a_test_was_built():
    srcs = glob.glob(os.path.join(ROOT, 'tests', 'unit', '*_test.c'))
    want = sorted(os.path.basename(s)[:-len('_test.c')] for s in srcs)
    have = sorted(os.path.basename(b)[2:] for b in BINS)
    assert want == have, 'tests/module.mk UNIT_TESTS is out of date'
