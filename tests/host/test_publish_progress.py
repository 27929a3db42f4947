# SPDX-License-Identifier: MIT
"""`cvmboot publish` progress: on a terminal (a pty here) a live line with
the phase, entries and bytes done and the rate; nothing of it when stdout is
a pipe or a file; --quiet prints nothing but errors; -v adds phase times."""
import os
import pty
import re
import subprocess

import pytest

from cvmfsrepo import Repo, cvmboot_path, keygen

FQRN = 'test.repo'


def run_on_tty(cmd):
    master, slave = pty.openpty()
    p = subprocess.Popen(cmd, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    out = b''
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    err = p.stderr.read()
    p.wait()
    os.close(master)
    return p.returncode, out.decode(errors='replace'), err.decode(errors='replace')


@pytest.fixture(scope='module')
def setup(tmp_path_factory, cvmboot):
    base = tmp_path_factory.mktemp('prog')
    keys = keygen(FQRN, base / 'keys', cvmboot=cvmboot)
    src = base / 'src'
    os.makedirs(src / 'many')
    (src / 'big').write_bytes(os.urandom(48 << 20))
    for i in range(800):
        (src / 'many' / ('f%d' % i)).write_bytes(b'%d\n' % i)
    return base, keys, src


def cmd(setup, repo, *extra):
    base, keys, src = setup
    return [cvmboot_path(), 'publish', str(src), str(base / repo), '--name', FQRN, '--keys',
            keys['dir'], '--chunk-min', '1M', '--chunk-avg', '2M', '--chunk-max', '4M',
            '--rehash'] + list(extra)


def test_progress_on_a_terminal(setup):
    rc, out, err = run_on_tty(cmd(setup, 'r1'))
    assert rc == 0, err
    lines = [l for l in out.split('\r') if l.startswith('\x1b[Kcvmboot publish: ')]
    assert lines, repr(out[:500])
    phases = {l.split()[2] for l in lines}
    assert phases & {'contents', 'chunks'}, phases
    rated = [l for l in lines if re.search(r'\d+/\d+ entries +[0-9.]+/[0-9.]+ MiB +[0-9.]+ '
                                           r'MiB/s +\d+ s', l)]
    assert rated, lines[:5]
    # the summary follows on a cleared line
    assert re.search(r'\r\x1b\[Kpublished test\.repo revision 1', out)
    Repo(setup[0] / 'r1', FQRN, setup[1]['pub']).check()


def test_quiet_when_not_a_terminal(setup):
    r = subprocess.run(cmd(setup, 'r2'), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert '\r' not in r.stdout and 'entries' not in r.stdout and '\x1b' not in r.stdout
    assert r.stdout.startswith('published test.repo revision 1')
    assert r.stderr == ''


def test_quiet_and_verbose(setup):
    rc, out, err = run_on_tty(cmd(setup, 'r3', '--quiet'))
    assert rc == 0 and out == '' and err == '', (out, err)
    r = subprocess.run(cmd(setup, 'r3', '-v'), capture_output=True, text=True)
    assert r.returncode == 0 and 'revision 2' in r.stdout
    for phase in ('walk', 'contents', 'catalogs', 'sync, manifest'):
        assert 'cvmboot publish: ' + phase in r.stderr, r.stderr
    # errors still show with --quiet
    bad = subprocess.run(cmd(setup, 'r3', '--quiet', '--meta-info', '/nonexistent.json'),
                         capture_output=True, text=True)
    assert bad.returncode == 1 and 'nonexistent.json' in bad.stderr
