# SPDX-License-Identifier: MIT
"""Runs every libFuzzer target of tests/fuzz (built by tests/fuzz/fuzz.mk into
$CVMBOOT_BUILD/fuzz) briefly from its seed corpus: a fixed number of runs with
a fixed seed, so that a crash found here is found again. A crash fails the
test and prints the reproducer (saved to $CVMBOOT_BUILD/fuzz/crashes/<name>/)
and the sanitizer's report. `make fuzz` runs the same targets for longer.

Targets with a known, reported crash are listed in KNOWN_CRASHES with their
reproducer (tests/fuzz/crashes/<name>/) and skipped until the owner fixes
it; then delete the entry (test_known_crashes checks the list is current)."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, ROOT

FUZZ_DIR = os.path.join(ROOT, 'tests', 'fuzz')
# Runs per target, for about 2..5 s each on one core of the build VM
# (measured rates: format parsers 10-25k/s, tar/gpt ~350/s, catalog ~550/s,
# fuse ~50/s: it starts a server thread per input; catalog_rows edits a
# file with SQLite first; read opens a client and fetches over HTTP per input).
RUNS = {'tar': 1000, 'gpt': 1000, 'catalog': 1000, 'history': 2000, 'accounts': 10000,
        'fuse': 150, 'catalog_rows': 500, 'read': 40}
RUNS_DEFAULT = 20000
MAX_SECONDS = 8        # backstop for a slow machine; RUNS normally ends it first

# name -> (reproducer under tests/fuzz/crashes/, what is wrong)
KNOWN_CRASHES = {}


def targets():
    with open(os.path.join(FUZZ_DIR, 'fuzz.mk')) as f:
        mk = f.read()
    m = re.search(r'^FUZZ_TARGETS := ((?:.*\\\n)*.*)$', mk, re.M)
    return m.group(1).replace('\\\n', ' ').split()


def report(name, out, crashdir):
    lines = [l for l in out.splitlines()
             if re.search(r'ERROR|SUMMARY|^\s+#\d+ .* in |runtime error|Test unit written', l)]
    msg = ['fuzz_%s crashed: %s' % (name, ' '.join(lines[:1]))]
    for f in sorted(os.listdir(crashdir)):
        with open(os.path.join(crashdir, f), 'rb') as fh:
            data = fh.read()
        msg.append('reproducer %s (%d bytes): %r' % (os.path.join(crashdir, f), len(data),
                                                    data[:512]))
        msg.append('rerun: %s %s' % (os.path.join(BUILD, 'fuzz', 'fuzz_' + name),
                                    os.path.join(crashdir, f)))
    msg += lines[:40]
    return '\n'.join(msg)


@pytest.mark.parametrize('name', targets())
def test_fuzz_target(name, tmp_path):
    if name in KNOWN_CRASHES:
        pytest.skip('known crash %s, reported: %s' % KNOWN_CRASHES[name])
    binary = os.path.join(BUILD, 'fuzz', 'fuzz_' + name)
    assert os.access(binary, os.X_OK), \
        '%s is missing: make check builds it (make B=... fuzz-build)' % binary
    seeds = os.path.join(FUZZ_DIR, 'corpus', name)
    assert os.path.isdir(seeds) and os.listdir(seeds), 'no seeds in %s' % seeds
    work = tmp_path / 'corpus'
    work.mkdir()
    crashdir = os.path.join(BUILD, 'fuzz', 'crashes', name)
    shutil.rmtree(crashdir, ignore_errors=True)
    os.makedirs(crashdir)
    env = dict(os.environ, TMPDIR=str(tmp_path))
    r = subprocess.run([binary, '-seed=1', '-runs=%d' % RUNS.get(name, RUNS_DEFAULT), '-max_total_time=%d' % MAX_SECONDS,
                        '-timeout=10', '-rss_limit_mb=2048', '-print_final_stats=1',
                        '-artifact_prefix=%s/' % crashdir, str(work), seeds],
                       capture_output=True, text=True, errors='replace', env=env, timeout=120)
    out = r.stderr + r.stdout
    assert r.returncode == 0 and not os.listdir(crashdir), report(name, out, crashdir)
    m = re.search(r'stat::number_of_executed_units:\s*(\d+)', out)
    assert m and int(m.group(1)) > 0, 'fuzz_%s ran nothing:\n%s' % (name, out[-2000:])


def test_known_crashes():
    """Every listed crash is a known target with its reproducer in the tree, and
    every reproducer in tests/fuzz/crashes is listed (none is forgotten)."""
    names = targets()
    listed = set()
    for name, (rel, _) in KNOWN_CRASHES.items():
        assert name in names, '%s is not a fuzz target' % name
        path = os.path.join(FUZZ_DIR, 'crashes', rel)
        assert os.path.isfile(path), 'reproducer %s is missing' % path
        listed.add(rel)
    crashes = os.path.join(FUZZ_DIR, 'crashes')
    found = set()
    for dirpath, _, files in os.walk(crashes):
        for f in files:
            found.add(os.path.relpath(os.path.join(dirpath, f), crashes))
    assert found == listed, 'tests/fuzz/crashes and KNOWN_CRASHES differ: %s' % (found ^ listed)
