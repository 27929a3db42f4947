# SPDX-License-Identifier: MIT
"""Crash consistency of a first boot: QEMU is killed (SIGKILL: a pulled plug,
nothing flushed) at seeded random moments of a first boot on a blank disk:
while the disk is partitioned and the file system made, while the context
is saved, while cvmfs-lite writes its cache, during rebase and the account
merge, at hand-over. The next boot on that disk must then succeed and serve
the right content (TESTOS checks it), and the scratch file system must be
e2fsck-clean after its journal replay.

Without TORTURE_TRIALS (`make check`) there is one trial per kill point of
MARKS, each at a fixed moment inside its window, so that every stage is
killed on every run. TORTURE_TRIALS=N (`make torture`) runs N trials at
seeded random kill points and moments; TORTURE_SEED picks another sequence."""
import os
import random
import struct
import subprocess
import time

import pytest

import qemu
from bootenv import BootEnv
from conftest import BUILD

BOOT_S = 180
DISK = 384 << 20
LONG = 'TORTURE_TRIALS' in os.environ
SEED = int(os.environ.get('TORTURE_SEED', '20261122'))
# Console lines of a first boot, in order, and how long after each one the
# plug may be pulled (s): the stage that runs then is named on the right.
MARKS = [
    ('disk-find: no scratch', 0.4),     # partitioning, mkfs, layout
    ('disk: made', 0.3),                # context saved, cache directory
    ('cvmfs: test.cvmboot', 0.6),       # whitelist, manifest, catalogs into the cache
    ('cvmfs: mounted', 0.3),            # prefetch, rebase, account merge
    ('union:', 0.2),                    # overlay, hand-over
    ('TESTOS: init', 0.3),              # the OS runs on the fresh disk
]
TRIALS = int(os.environ['TORTURE_TRIALS']) if LONG else len(MARKS)


def kill_points(trials, seed, long_mode):
    """(mark, delay) of each trial: random (seeded) in the long mode; else
    every mark once, in order, at a spread of moments inside its window
    (fractions of the golden ratio's multiples: never all at its start)."""
    if long_mode:
        rnd = random.Random(seed)
        out = []
        for _ in range(trials):
            mark, spread = rnd.choice(MARKS)
            out.append((mark, rnd.uniform(0, spread)))
        return out
    return [(mark, spread * ((i + 1) * 0.6180339887 % 1.0))
            for i, (mark, spread) in enumerate(MARKS)]


def test_check_mode_covers_every_kill_point():
    """The short run kills each stage once (it used to walk only the first
    few marks)."""
    pts = kill_points(len(MARKS), SEED, False)
    assert [m for m, _ in pts] == [m for m, _ in MARKS]
    assert all(0 < d < s for (_, d), (_, s) in zip(pts, MARKS))


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    e = BootEnv(BUILD, tmp_path_factory.mktemp('torture'))
    e.keygen()
    e.publish('v1', version='1', usr_text='usr-v1')
    e.serve()
    yield e
    e.stop()


def vm_for(env, disk, log):
    return qemu.VM(env.initrd(), log=log, net_args=env.net_args(),
                   extra=qemu.disk_args(disk, 'virtio'))


def part1_offset(disk):
    """Byte offset of GPT partition 1 (the scratch file system)."""
    with open(disk, 'rb') as f:
        hdr = f.read(1024)[512:]
        assert hdr[:8] == b'EFI PART', 'no GPT on the scratch disk'
        entries = struct.unpack_from('<Q', hdr, 72)[0]
        f.seek(entries * 512)
        first = struct.unpack_from('<Q', f.read(128), 32)[0]
    return first * 512


def fsck_clean(disk, tmp):
    """e2fsck -p (journal replay, automatic fixes only), then -n: clean."""
    part = str(tmp / 'part.img')
    off = part1_offset(disk)
    subprocess.run(['dd', 'if=' + disk, 'of=' + part, 'bs=1M', 'iflag=skip_bytes',
                    'skip=%d' % off, 'conv=sparse', 'status=none'], check=True)
    p = subprocess.run(['e2fsck', '-fp', part], capture_output=True, text=True)
    n = subprocess.run(['e2fsck', '-fn', part], capture_output=True, text=True)
    os.unlink(part)
    return p.returncode in (0, 1) and n.returncode == 0, p.stdout + p.stderr + n.stdout


def test_pulled_plug_during_first_boot(env, tmp_path):
    killed = []
    for trial, (mark, delay) in enumerate(kill_points(TRIALS, SEED, LONG)):
        disk = str(tmp_path / ('disk%d.img' % trial))
        with open(disk, 'wb') as f:
            f.truncate(DISK)
        log = str(tmp_path / ('t%d-first.log' % trial))
        with vm_for(env, disk, log) as vm:
            seen = vm.wait_for(mark, BOOT_S)
            assert seen is not None, 'trial %d: %r never appeared:\n%s' % (
                trial, mark, vm.console()[-3000:])
            time.sleep(delay)
            alive = vm.proc.poll() is None
            vm.kill()
        killed.append('%s+%.2fs%s' % (mark, delay, '' if alive else ' (already off)'))
        log2 = str(tmp_path / ('t%d-next.log' % trial))
        with vm_for(env, disk, log2) as vm:
            took = vm.wait_exit(BOOT_S)
            con = vm.console()
        what = 'trial %d (killed at %s)' % (trial, killed[-1])
        assert took is not None, '%s: the next boot did not finish:\n%s' % (what, con[-4000:])
        assert 'TESTOS: overlay-over-fuse ok' in con and 'TESTOS: done' in con, \
            '%s: the next boot failed:\n%s' % (what, con[-4000:])
        assert 'TESTOS: etc-local=upstream-v1 usr-file=usr-v1' in con, \
            '%s: wrong content served:\n%s' % (what, con[-4000:])
        ok, out = fsck_clean(disk, tmp_path)
        assert ok, '%s: the scratch file system is not clean:\n%s' % (what, out)
        os.unlink(disk)
    print('torture: %d trials (%s), killed at: %s' % (TRIALS, 'random' if LONG else 'every mark',
                                                      '; '.join(killed)))
    assert sum('already off' not in k for k in killed) >= min(TRIALS, 3), killed
