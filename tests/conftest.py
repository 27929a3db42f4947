# SPDX-License-Identifier: MIT
"""Shared pytest fixtures for every layer (run with /usr/bin/python3)."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'lib'))

BUILD = os.environ.get('CVMBOOT_BUILD') or os.path.join(ROOT, 'build')


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
