# SPDX-License-Identifier: MIT
"""Benchmark (not a test): PID 1's stages, cold and warm, under QEMU/TCG.

Publishes the VM tests' test OS (tests/lib/testos.py) as a repository, serves
it with nginx on 127.0.0.1 and boots the default image (microvm, virtio disk
and NIC, restricted user network) ROUNDS times cold (a blank scratch disk)
and, right after each, warm (the same disk again: everything cached). Prints
PID 1's timing table (`cvmboot: timing: ...`) as the median [min-max] per
stage, and "pid1" = from PID 1's first stage to the hand-over's exec (the
"total" line minus the start of "early").

Given several build directories, it boots each in turn inside every round
(the same repository and server), so that a before/after comparison shares
one run and one machine load:

    CVMBOOT_BUILD=$PWD/build /usr/bin/python3 tests/bench/bench_pid1.py [-n ROUNDS]
        [--detail] [--append ARGS] [BUILD ...]

--detail also prints every console line of PID 1 (with its timestamp) of the
last cold and warm boot of each build. Prints; never asserts.
"""
import argparse
import os
import re
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'lib'))

import qemu  # noqa: E402
from bootenv import BootEnv  # noqa: E402

BOOT_S = 300
STAGE_RE = re.compile(r'cvmboot: timing: (\S+)\s+(\d+) ms\s+(\d+) ms')
TOTAL_RE = re.compile(r'cvmboot: timing: total\s+(\d+) ms')


def parse(con):
    """{stage: took_ms} plus 'pid1' (first stage start to the table's total)."""
    st = {}
    first = None
    for name, start, took in STAGE_RE.findall(con):
        st[name] = int(took)
        if first is None:
            first = int(start)
    m = TOTAL_RE.search(con)
    if m and first is not None:
        st['pid1'] = int(m.group(1)) - first
        st['uptime'] = int(m.group(1))
    return st


def boot_one(env, initrd, kernel, disk, log, append):
    vm = qemu.VM(initrd, append=append, log=log, kernel=kernel, net_args=env.net_args(),
                 extra=qemu.disk_args(disk))
    with vm:
        took = vm.wait_exit(BOOT_S)
        con = vm.console()
    ok = took is not None and 'TESTOS: done' in con
    return con, took, ok


def median_fmt(vals):
    if not vals:
        return '-'
    s = sorted(vals)
    if len(s) == 1:
        return '%d' % s[0]
    return '%d [%d-%d]' % (s[len(s) // 2], s[0], s[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('-n', '--rounds', type=int, default=3)
    ap.add_argument('--detail', action='store_true')
    ap.add_argument('--append', default='', help='extra kernel command line')
    ap.add_argument('--keep', help='work directory to keep (default: a temporary one)')
    ap.add_argument('builds', nargs='*')
    a = ap.parse_args()
    builds = a.builds or [os.environ.get('CVMBOOT_BUILD') or os.path.join(ROOT, 'build')]
    builds = [os.path.abspath(b) for b in builds]
    tmp = a.keep or tempfile.mkdtemp(prefix='bench-pid1-')
    os.makedirs(tmp, exist_ok=True)
    env = BootEnv(builds[0], tmp)
    env.keygen()
    env.publish('v1')
    env.serve()
    initrds, kernels = [], []
    for i, b in enumerate(builds):
        env.build = b
        initrds.append(env.initrd(name='initrd-%d.img' % i))
        kernels.append(qemu.kernel_path(b))
    results = {(i, k): [] for i in range(len(builds)) for k in ('cold', 'warm')}
    cons = {}
    try:
        for r in range(a.rounds):
            for i in range(len(builds)):
                disk = os.path.join(tmp, 'scratch-%d.img' % i)
                with open(disk, 'wb') as f:
                    f.truncate(0)
                    f.truncate(1 << 30)
                for kind in ('cold', 'warm'):
                    log = os.path.join(tmp, '%d-%s-%d.log' % (i, kind, r))
                    con, took, ok = boot_one(env, initrds[i], kernels[i], disk, log, a.append)
                    st = parse(con)
                    cons[(i, kind)] = con
                    if not ok:
                        print('round %d build %d %s: no clean boot (see %s)' % (r, i, kind, log))
                        continue
                    results[(i, kind)].append(st)
                    print('round %d build %d %s: QEMU %.1f s, pid1 %s ms, uptime at exec %s ms'
                          % (r, i, kind, took, st.get('pid1'), st.get('uptime')), flush=True)
    finally:
        env.stop()
    stages = []
    for runs in results.values():
        for st in runs:
            for k in st:
                if k not in stages and k not in ('pid1', 'uptime'):
                    stages.append(k)
    stages += ['pid1', 'uptime']
    print()
    print('PID 1 stages, ms, median [min-max] of %d rounds (QEMU/TCG microvm, kernel %s)'
          % (a.rounds, qemu.kernel_release(builds[0])))
    for i, b in enumerate(builds):
        print('build %d: %s' % (i, b))
    hdr = '%-10s' % 'stage'
    for i in range(len(builds)):
        hdr += ' | %-18s %-18s' % ('%d cold' % i, '%d warm' % i)
    print(hdr)
    for s in stages:
        line = '%-10s' % s
        for i in range(len(builds)):
            line += ' | %-18s %-18s' % (
                median_fmt([st[s] for st in results[(i, 'cold')] if s in st]),
                median_fmt([st[s] for st in results[(i, 'warm')] if s in st]))
        print(line)
    if a.detail:
        for (i, kind), con in sorted(cons.items()):
            print('\n--- build %d, %s, last round: PID 1 lines' % (i, kind))
            for ln in con.splitlines():
                if 'cvmboot:' in ln or 'cvmfs-lite:' in ln:
                    print(ln.rstrip())
    print('\nwork directory: %s' % tmp)


if __name__ == '__main__':
    main()
