# SPDX-License-Identifier: MIT
"""Shared pytest fixtures for every layer (run with /usr/bin/python3)."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'lib'))

BUILD = os.environ.get('CVMBOOT_BUILD') or os.path.join(ROOT, 'build')
# The third-party build (make's TP=), shared by engineers working in parallel.
TP = os.environ.get('CVMBOOT_TP') or os.path.join(BUILD, 'third_party')
# B= and TP= for tests that run make themselves, so that they use this build.
MAKE_VARS = ['B=' + (os.path.relpath(BUILD, ROOT) if BUILD.startswith(ROOT + os.sep) else BUILD),
             'TP=' + TP]


@pytest.fixture(scope='session')
def root():
    return ROOT


@pytest.fixture(scope='session')
def build():
    return BUILD


@pytest.fixture(scope='session')
def cvmboot():
    """Path of the host tool, built by make before pytest runs."""
    path = os.path.join(BUILD, 'cvmboot')
    assert os.access(path, os.X_OK), 'run make first: %s is missing' % path
    return path


# What the VM layer boots; `make check` builds it (and the rest) before pytest.
VM_PRODUCTS = ('cvmboot', 'init', 'initrd.img')


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """A VM test run with plain pytest says what to build, before any fixture
    fails somewhere inside QEMU or the image tools."""
    path = str(item.fspath)
    if os.path.join('tests', 'vm', '') not in path:
        return
    missing = [p for p in VM_PRODUCTS if not os.path.exists(os.path.join(BUILD, p))]
    if missing:
        b = MAKE_VARS[0][len('B='):]
        pytest.fail('VM tests boot what make builds; missing in %s: %s.\n'
                    'Run the test through make, which builds every prerequisite first:\n'
                    '    make B=%s check T=%s\n'
                    '(or build them, then use pytest: make B=%s all; add TP=DIR if your '
                    'third-party build is elsewhere; pytest reads the build directory from '
                    'CVMBOOT_BUILD, default build/)'
                    % (b, ', '.join(missing), b, os.path.relpath(path, ROOT), b),
                    pytrace=False)
