#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Publisher benchmark (prints, asserts nothing): files/s and MB/s for 20,000
small files, for 256 MiB of random bytes and for a 1 GiB sparse file; the
time of a no-change republish; the chunks that content-defined chunking
(4/8/16 MiB) makes of 100 MiB of random bytes (upstream's rule: ~12-16
chunks, never all at the maximum); and `cvmboot gc`'s figures (objects and
bytes reclaimed, time) after half of the small files changed twice.

    CVMBOOT_BUILD=$PWD/build /usr/bin/python3 tests/bench/bench_publish.py [--keep DIR]

With CVMFS_SWISSKNIFE=/path/to/cvmfs_swissknife (an upstream build; never a
dependency, measurement only) it also times upstream's `sync` + `sign` on
the same small tree and random file, into a repository bootstrapped by
`cvmboot publish` of an empty tree with the same keys (the part of
`cvmfs_server mkfs` that sync needs: a signed manifest, whitelist and
certificate to fetch from the file:// stratum 0), and prints the ratio.
Without it, a line says that part was skipped.

For scale: the upstream cvmfs_server tools publish 20,000 small files in
about 9 s on this kind of machine. The machine's load average is printed
with each figure, since other work on the same cores skews them."""
import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from cvmfsrepo import Repo, cvmboot_path, keygen  # noqa: E402

FQRN = 'bench.repo'


CPU = [0.0]


def run(cmd):
    """Wall seconds; CPU[0] = the child's user+sys seconds."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[0] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if r.returncode != 0:
        sys.exit('failed: %s\n%s%s' % (' '.join(cmd), r.stdout, r.stderr))
    return dt, r.stdout


def load():
    """CPU seconds of the last run and the load average: other work on the
    same cores stretches the wall time, not the CPU time."""
    return '%.2f s CPU, load %.1f' % (CPU[0], os.getloadavg()[0])


def small_tree(root, n=20000):
    total = 0
    for d in range(n // 100):
        os.makedirs(os.path.join(root, 'd%03d' % d))
        for f in range(100):
            data = (b'file %d/%d\n' % (d, f)) * (1 + (d * 100 + f) % 64)
            with open(os.path.join(root, 'd%03d' % d, 'f%03d' % f), 'wb') as fh:
                fh.write(data)
            total += len(data)
    return total


def change(root, gen, every=2):
    """Rewrites every `every`-th small file with generation gen's bytes."""
    n = 0
    for d in range(200):
        for f in range(0, 100, every):
            with open(os.path.join(root, 'd%03d' % d, 'f%03d' % f), 'wb') as fh:
                fh.write(b'gen %d file %d/%d\n' % (gen, d, f) * (1 + f % 32))
            n += 1
    return n


def swissknife(sk, fqrn, keys, src, work, label, cvmboot, ours):
    """Times upstream's `cvmfs_swissknife sync` + `sign` publishing src (all of
    it new: the overlayfs scratch area is src itself, the read-only lower
    layer an empty directory) into a repository that `cvmboot publish` of an
    empty tree bootstrapped (signed manifest, whitelist, certificate: what
    sync fetches and verifies from the stratum 0, here a file:// URL)."""
    base = os.path.join(work, 'sk-' + re.sub(r'[^a-z0-9]+', '-', label))
    repo, empty, tmp = (os.path.join(base, n) for n in ('repo', 'empty', 'tmp'))
    for d in (empty, tmp):
        os.makedirs(d)
    run([cvmboot, 'publish', empty, repo, '--name', fqrn, '--keys', keys['dir'],
         '--no-auto-tag', '-q'])
    with open(os.path.join(repo, '.cvmfspublished'), 'rb') as fh:
        root = re.search(rb'^C([0-9a-f]+)', fh.read(), re.M).group(1).decode()
    spooler = 'local,%s/data/txn,%s' % (repo, repo)
    manifest = os.path.join(base, 'manifest')
    t_sync, _ = run([sk, 'sync', '-u', src, '-s', src, '-c', empty, '-t', tmp, '-b', root,
                     '-w', 'file://' + repo, '-o', manifest, '-r', spooler,
                     '-K', keys['pub'], '-N', fqrn, '-f', 'overlayfs', '-e', 'sha1',
                     '-p', '-l', str(4 << 20), '-a', str(8 << 20), '-h', str(16 << 20), '-k'])
    cpu = CPU[0]
    t_sign, _ = run([sk, 'sign', '-m', manifest, '-r', spooler, '-t', tmp, '-c', keys['crt'],
                     '-k', keys['key'], '-n', fqrn])
    CPU[0] += cpu
    total = t_sync + t_sign
    print('  upstream swissknife sync + sign, %s: %.2f s (sync %.2f, sign %.2f)  '
          'swissknife / cvmboot publish = %.2f  (%s)' %
          (label, total, t_sync, t_sign, total / ours, load()))


def gc_figures(pub, cvmboot, keys, src, repo):
    """Two rounds of changes to half the files (so that trunk-previous no
    longer holds the first revision's objects), then gc; its own summary
    line gives the figures."""
    for gen in (1, 2):
        n = change(src, gen)
        dt, _ = run(pub + ['--no-auto-tag', src, repo])
        if gen == 1:
            print('republish, %d of them changed: %.2f s  (%s)' % (n, dt, load()))
    dt, out = run([cvmboot, 'gc', repo, '--keys', keys['dir'], '--safety-margin', '0'])
    m = re.search(r'removed (\d+) objects, (\d+) bytes; kept (\d+)', out)
    print('gc after two rounds of %d changes: removed %s objects, %.1f MB; kept %s; %.2f s  '
          '(%s)' % (n, m.group(1), int(m.group(2)) / 1e6, m.group(3), dt, load()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--keep', help='work directory to keep (default: a temporary one)')
    ap.add_argument('--random-mib', type=int, default=256,
                    help='also publish a file of this many MiB of random bytes (0: skip)')
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix='bench-publish-')
    os.makedirs(work, exist_ok=True)
    cvmboot = cvmboot_path()
    keys = keygen(FQRN, os.path.join(work, 'keys'), cvmboot=cvmboot)
    pub = [cvmboot, 'publish', '--name', FQRN, '--keys', keys['dir']]
    sk = os.environ.get('CVMFS_SWISSKNIFE')
    if not sk:
        print('CVMFS_SWISSKNIFE not set: upstream swissknife sync + sign not timed '
              '(give the path of an upstream cvmfs_swissknife to compare)')
    try:
        src = os.path.join(work, 'small')
        size = small_tree(src)
        repo = os.path.join(work, 'repo-small')
        dt, _ = run(pub + ['--no-auto-tag', src, repo])
        print('20,000 small files (%.1f MB): %.2f s  %.0f files/s  %.1f MB/s  (%s)' %
              (size / 1e6, dt, 20000 / dt, size / 1e6 / dt, load()))
        if sk:
            swissknife(sk, FQRN, keys, src, work, '20,000 small files', cvmboot, dt)
        dt, _ = run(pub + ['--no-auto-tag', src, repo])
        print('no-change republish of them:  %.2f s  (%s)' % (dt, load()))
        gc_figures(pub, cvmboot, keys, src, repo)

        src = os.path.join(work, 'big')
        os.makedirs(src)
        with open(os.path.join(src, 'sparse-1GiB'), 'wb') as fh:
            fh.truncate(1 << 30)
        repo = os.path.join(work, 'repo-big')
        dt, _ = run(pub + [src, repo])
        print('1 GiB sparse file (zeros):    %.2f s  %.0f MB/s  (%s)' %
              ((dt, (1 << 30) / 1e6 / dt, load())))
        dt, _ = run(pub + [src, repo])
        print('no-change republish of it:    %.2f s  (%s)' % (dt, load()))
        shutil.rmtree(repo, ignore_errors=True)

        src = os.path.join(work, 'rnd100')
        os.makedirs(src)
        with open(os.path.join(src, 'random'), 'wb') as fh:
            for _ in range(100):
                fh.write(os.urandom(1 << 20))
        repo = os.path.join(work, 'repo-rnd100')
        dt, _ = run(pub + [src, repo])
        sizes = [s for _, s, _ in Repo(repo, FQRN, keys['pub']).walk()['/random']['chunks']]
        body = sizes[:-1] or sizes
        print('100 MiB random file:          %.2f s  %d chunks of %.1f-%.1f MiB + a tail of '
              '%.1f MiB, %d at the 16 MiB maximum  (%s)' %
              (dt, len(sizes), min(body) / 2**20, max(body) / 2**20, sizes[-1] / 2**20,
               sum(1 for x in sizes if x == 16 << 20), load()))

        if a.random_mib:
            src = os.path.join(work, 'rnd')
            os.makedirs(src)
            with open(os.path.join(src, 'random'), 'wb') as fh:
                for _ in range(a.random_mib):
                    fh.write(os.urandom(1 << 20))
            dt, _ = run(pub + [src, os.path.join(work, 'repo-rnd')])
            print('%d MiB random file:          %.2f s  %.0f MB/s  (%s)' %
                  (a.random_mib, dt, a.random_mib * (1 << 20) / 1e6 / dt, load()))
            if sk:
                swissknife(sk, FQRN, keys, src, work, '%d MiB random' % a.random_mib, cvmboot,
                           dt)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
