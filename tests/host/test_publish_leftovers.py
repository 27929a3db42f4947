# SPDX-License-Identifier: MIT
"""Temporary files of a killed publish do not stay forever: a publish killed
between writing `..cvmfspublished.tmp.<pid>` (or the reflog's, the
whitelist's, or a data/txn file) and renaming it leaves it behind; the next
publish, tag edit or gc (not a dry run) removes it. A temporary file of a
process that still runs (a concurrent `cvmboot tag list` reads through
data/txn without the lock) is left alone."""
import os
import signal
import subprocess
import time

import pytest

from cvmfsrepo import Repo, cvmboot_path, keygen, publish

FQRN = 'test.repo'
ROOT_TMP = ('.cvmfspublished', '.cvmfsreflog', '.cvmfswhitelist')


@pytest.fixture(scope='module')
def keys(tmp_path_factory, cvmboot):
    return keygen(FQRN, tmp_path_factory.mktemp('keys') / 'k', cvmboot=cvmboot)


def dead_pid():
    """The id of a process that has exited and been reaped."""
    p = subprocess.Popen(['true'])
    p.wait()
    return p.pid


def plant(repo, pid):
    """What a publish killed by SIGKILL can leave, named after process pid."""
    names = ['.%s.tmp.%d' % (n, pid) for n in ROOT_TMP]    # util.c's tmp_write
    for n in names:
        (repo / n).write_bytes(b'half-written\n')
    txn = ['o.%d.7' % pid, 'c.%d.3.db' % pid, 'h.%d.db' % pid, 'r.%d.db' % pid]
    for n in txn:
        (repo / 'data' / 'txn' / n).write_bytes(b'partial object\n')
    return names, txn


def leftovers(repo):
    return (sorted(n for n in os.listdir(repo) if '.tmp.' in n),
            sorted(os.listdir(repo / 'data' / 'txn')))


def test_next_publish_tag_edit_and_gc_clean_up(tmp_path, keys, cvmboot):
    src, repo = tmp_path / 'src', tmp_path / 'repo'
    os.makedirs(src)
    (src / 'f').write_bytes(b'one\n')
    publish(src, repo, FQRN, keys, tag='v1')
    assert leftovers(repo) == ([], [])
    # a live process's files stay (this test's own pid is alive throughout)
    live = plant(repo, os.getpid())
    for step in range(3):
        plant(repo, dead_pid())
        if step == 0:
            (src / 'f').write_bytes(b'two\n')
            publish(src, repo, FQRN, keys)
        elif step == 1:
            r = subprocess.run([cvmboot, 'tag', str(repo), 'add', 'v2', '--keys', keys['dir']],
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
        else:
            before = leftovers(repo)
            r = subprocess.run([cvmboot, 'gc', str(repo), '--dry-run'],
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            assert leftovers(repo) == before, 'a dry run changes nothing'
            r = subprocess.run([cvmboot, 'gc', str(repo), '--keys', keys['dir']],
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
        assert leftovers(repo) == (sorted(live[0]), sorted(live[1])), step
        Repo(repo, FQRN, keys['pub']).check()


def test_killed_during_manifest_write(tmp_path, keys):
    """SIGKILL publishes until one dies with a temporary file in place (the
    kill point is swept across the run); the next publish removes it."""
    src, repo = tmp_path / 'src', tmp_path / 'repo'
    os.makedirs(src)
    for i in range(300):
        (src / ('f%03d' % i)).write_bytes(b'%d\n' % i * 50)
    publish(src, repo, FQRN, keys)
    t0 = time.monotonic()
    publish(src, repo, FQRN, keys, rehash=True)
    full = time.monotonic() - t0
    cmd = [cvmboot_path(), 'publish', str(src), str(repo), '--name', FQRN, '--keys',
           keys['dir'], '--rehash']
    left = False
    for k in range(60):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full * (0.3 + 0.7 * k / 60))
        p.send_signal(signal.SIGKILL)
        p.wait()
        if leftovers(repo) != ([], []):
            left = True
            break
    if not left:      # the kill never landed inside a write: leave one as it would be
        plant(repo, dead_pid())
    Repo(repo, FQRN, keys['pub']).check()
    publish(src, repo, FQRN, keys)
    assert leftovers(repo) == ([], [])
