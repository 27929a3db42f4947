# SPDX-License-Identifier: MIT
"""Benchmark (not a test): format 1, 20 and 200 GiB sparse files with
`cvmboot mkfs-scratch` (GPT + in-tree ext4) and with `mke2fs -t ext4` (whole
file, Debian defaults); print wall time and bytes written for both, and ratios.

Bytes written are measured two ways: the file's allocated bytes after the run
(st_blocks * 512 of a fresh sparse file) and the child's write_bytes as the
kernel accounts it (rusage ru_oublock * 512, i.e. /proc/PID/io write_bytes).

    CVMBOOT_BUILD=$PWD/build /usr/bin/python3 tests/bench/bench_mkfs.py [DIR]
"""
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get('CVMBOOT_BUILD') or os.path.join(ROOT, 'build')
GIB = 1 << 30
REPS = 5


def measure(argv, path, size):
    if os.path.exists(path):
        os.unlink(path)
    with open(path, 'wb') as f:
        f.truncate(size)
    subprocess.run(['sync'], check=True)
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    took = time.monotonic() - t0
    err = p.stderr.read().decode(errors='replace')
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit('%s failed: %s' % (argv, err))
    alloc = os.stat(path).st_blocks * 512
    os.unlink(path)
    return took, alloc, ru.ru_oublock * 512


def median(runs):
    """Per column, the median of REPS runs."""
    return tuple(sorted(col)[len(col) // 2] for col in zip(*runs))


def fmt_bytes(n):
    return '%.1f MiB' % (n / (1 << 20)) if n >= 1 << 20 else '%.0f KiB' % (n / 1024)


def main():
    tool = os.path.join(BUILD, 'cvmboot')
    d = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix='bench-mkfs-')
    img = os.path.join(d, 'bench.img')
    print('mkfs of sparse files in %s (cvmboot = GPT + ext4; mke2fs = mke2fs -t ext4 -q -F, '
          'whole file)' % d)
    print('%-7s %9s %9s %7s | %12s %12s %7s | %12s %12s %7s' % (
        'size', 'cvmboot', 'mke2fs', 'ratio', 'alloc ours', 'alloc mke2fs', 'ratio',
        'wbytes ours', 'wbytes mke2fs', 'ratio'))
    # One untimed run of each first, so that neither pays for a cold page cache.
    measure([tool, 'mkfs-scratch', img], img, GIB)
    measure(['mke2fs', '-t', 'ext4', '-q', '-F', img], img, GIB)
    for gib in (1, 20, 200):
        size = gib * GIB
        ours = median([measure([tool, 'mkfs-scratch', img], img, size) for _ in range(REPS)])
        theirs = median([measure(['mke2fs', '-t', 'ext4', '-q', '-F', img], img, size)
                         for _ in range(REPS)])
        print('%-7s %8.3fs %8.3fs %7.3f | %12s %12s %7.3f | %12s %12s %7.3f' % (
            '%d GiB' % gib, ours[0], theirs[0], ours[0] / theirs[0],
            fmt_bytes(ours[1]), fmt_bytes(theirs[1]), ours[1] / max(theirs[1], 1),
            fmt_bytes(ours[2]), fmt_bytes(theirs[2]), ours[2] / max(theirs[2], 1)))
    if len(sys.argv) <= 1:
        os.rmdir(d)


if __name__ == '__main__':
    main()
