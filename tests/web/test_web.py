# SPDX-License-Identifier: MIT
"""The web flavour (boot/web/) in a real headless Chromium: the page boots
v86 on our i386 kernel and initramfs, PID 1 streams the i386 test OS from the
page's own origin through v86's fetch network, and the console takes typing.

What each test waits for, each bounded (a failure dumps the page's console):
  - PID 1's timing table ("cvmboot: timing: total"), its hand-over, and the
    OS's shell prompt ("cvmboot-web:~# "), within PAGE_TIMEOUT_S of load;
  - the output of `cat /etc/os-release; ls /`, typed into the console, 30 s;
  - for a repository signed by another key: PID 1's cause and hint lines on
    the page's console, then the same two lines on the serial console of a
    QEMU boot of the same kernel, initramfs and command line;
  - for a repository on another origin: PID 1's hint, the page having
    refused the request.
`make check` builds the page's files first (make web-files)."""
import json
import os
import re
import subprocess
import sys
import time

import cvmfsrepo
import qemu
from conftest import BUILD, ROOT, TP
from servers import free_port

sys.path.insert(0, os.path.join(ROOT, 'boot', 'web'))
import serve  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRV = os.path.join(BUILD, 'web', 'srv')
MODULES = os.path.join(TP, 'web', 'node_modules')
FQRN = 'web.cvmboot.test'
PAGE_TIMEOUT_S = 150
PROMPT = r'cvmboot-web:[^\n]*# (?:\x1b\[[0-9;]*[A-Za-z])*$'
GATEWAY = '192.168.86.1'	# v86's fetch network's gateway, the page's proxy


def browse(url, out_json, waits, typed=(), screenshot=None, timeout=PAGE_TIMEOUT_S, fail=None):
    """Runs tests/web/browser.mjs; returns its JSON (raises with the console on failure)."""
    for p, what in ((MODULES, 'playwright-core (npm; make deps)'),
                    ('/usr/bin/chromium', 'chromium (Debian; make deps)'),
                    (os.path.join(SRV, 'index.html'), 'the page (make web-files)')):
        assert os.path.exists(p), '%s is missing: %s' % (p, what)
    argv = ['node', os.path.join(HERE, 'browser.mjs'), '--modules', MODULES, '--url', url,
            '--json-out', str(out_json), '--timeout', str(timeout)]
    for w in waits:
        argv += ['--wait', w]
    for text, expect in typed:
        argv += ['--type', text, '--expect', expect]
    if screenshot:
        argv += ['--screenshot', screenshot]
    if fail:
        argv += ['--fail', fail]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 120)
    res = json.loads(open(out_json).read()) if os.path.exists(out_json) else {}
    assert r.returncode == 0, 'browser run failed (%d):\n%s\n%s' % (r.returncode, r.stderr[-6000:],
                                                                   r.stdout[-2000:])
    return res


def served(web):
    """(requests, bytes) nginx served, and the paths."""
    log = web.access_log()
    paths = [l.split()[1] for l in log if len(l.split()) > 1]
    sizes = [int(m.group(1)) for m in (re.search(r'" \d{3} (\d+) ', ' ' + l) for l in log) if m]
    return len(log), sum(sizes), paths


def test_page_boots_streamed_os(tmp_path):
    shot = os.path.join(BUILD, 'web', 'screenshot.png')
    if os.path.exists(shot):
        os.unlink(shot)
    with serve.nginx(SRV) as web:
        res = browse(web.url + '/', tmp_path / 'page.json',
                     [r'cvmboot: timing: total +\d+ ms', r'cvmboot: hand-over: exec', PROMPT],
                     typed=[('cat /etc/os-release; ls /',
                             r'PRETTY_NAME="cvmboot web test OS[\s\S]*sbin[\s\S]*' + PROMPT)],
                     screenshot=shot, fail=r'cvmboot: \S+: hint: ')
        nreq, nbytes, paths = served(web)
    con = res['console']
    # The OS came from the repository, through the page: the guest's GETs
    # for the repository reached nginx as the page's fetch() calls.
    assert 'cvmboot: timing: total' in con and 'cvmboot: hand-over: exec' in con, con[-3000:]
    assert any(p.startswith('/cvmfs/%s/.cvmfswhitelist' % FQRN) for p in paths), paths
    assert any(p.startswith('/cvmfs/%s/data/' % FQRN) for p in paths), paths
    out = res['typed'][0]['output']
    assert 'ID=cvmboot-web' in out and 'VERSION_ID=1' in out, out
    for d in ('bin', 'etc', 'proc', 'sbin', 'usr'):
        assert re.search(r'\b%s\b' % d, out.split('VERSION_ID=1', 1)[1]), out
    # Nothing left the page's origin.
    assert res['origins'] == [web.url], res['origins']
    assert os.path.getsize(shot) > 10000
    t = {w['regex']: w['s'] for w in res['waits']}
    print('\nweb: hand-over %.1f s, prompt %.1f s after page load; nginx served %d requests, '
          '%.2f MiB; the page counted %d requests, %.2f MiB'
          % (t[r'cvmboot: hand-over: exec'], t[PROMPT], nreq, nbytes / 2**20,
             res['transfer']['requests'], res['transfer']['bytes'] / 2**20))


def cause_and_hint(con):
    """PID 1's cause and hint lines for a failed mount (boot/stage-cvmfs.c,
    boot/fatal.c), without their timestamps; None if not there."""
    lines = [re.sub(r'^\[\s*[\d.]+\]\s*', '', l.rstrip('\r')) for l in con.split('\n')]
    cause = [l for l in lines if l.startswith('cvmboot: cvmfs: mount failed: ')]
    hint = [l for l in lines if l.startswith('cvmboot: cvmfs: hint: ')]
    return (cause[-1], hint[-1]) if cause and hint else None


def test_bad_signature_same_line_as_serial_console(tmp_path, cvmboot):
    """A repository signed by a key the image does not have: the page's
    console shows PID 1's cause and hint, the same two lines as the serial
    console of QEMU booting the same kernel, initramfs and command line."""
    srv = tmp_path / 'srv'
    srv.mkdir()
    for name in os.listdir(SRV):
        os.symlink(os.path.join(SRV, name), srv / name)
    keys = cvmfsrepo.keygen(FQRN, tmp_path / 'otherkeys', cvmboot=cvmboot)
    (srv / 'bad' / 'cvmfs').mkdir(parents=True)
    cvmfsrepo.publish(os.path.join(BUILD, 'web', 'os'), srv / 'bad' / 'cvmfs' / FQRN, FQRN, keys,
                      tag='web', cvmboot=cvmboot)
    with serve.nginx(str(srv)) as web:
        res = browse(web.url + '/?repo=/bad/cvmfs/@fqrn@', tmp_path / 'bad.json',
                     [r'cvmboot: cvmfs: hint: [^\n]*\n'], timeout=120)
        page = cause_and_hint(res['console'])
        assert page and 'signature' in page[0], res['console'][-3000:]
        assert 'cvmboot-web' not in res['console']	# no OS was started
        # The same boot on a serial console: QEMU, same files, same command
        # line; its gateway forwards port 80 to the same nginx.
        disk = tmp_path / 'scratch.img'
        with open(disk, 'wb') as f:
            f.truncate(256 << 20)
        vm = qemu.VM(os.path.join(SRV, 'initrd.img'), kernel=os.path.join(SRV, 'vmlinuz'),
                     machine='pc', mem=256, log=str(tmp_path / 'serial.log'),
                     append=res['cmdline'].replace('console=ttyS0 ', ''),
                     net_args=qemu.user_net([(GATEWAY, 80, web.port)], net='192.168.86.0/24',
                                            host='192.168.86.2'),
                     extra=['-drive', 'file=%s,if=ide,format=raw' % disk])
        with vm:
            took = vm.wait_for('cvmboot: cvmfs: hint: ', 120)
            time.sleep(0.5)
            serial = vm.console()
    assert took is not None, 'QEMU: no hint line within 120 s:\n' + serial[-3000:]
    assert cause_and_hint(serial) == page, (cause_and_hint(serial), page)
    print('\nweb: page and serial console both say:\n  %s\n  %s' % page)


def test_page_keeps_guest_on_its_origin(tmp_path):
    """A repository URL naming another origin (given on the command line; a
    guest can name any host, and Chromium's resolver rules do not cover IP
    literals): the page refuses the guest's request itself, nothing leaves the
    origin, and PID 1 says why the repository is unreachable, with its hint.
    The other origin is a closed port on 127.0.0.1, so that a page without
    the guard fails this test without reaching beyond the machine."""
    other = 'http://127.0.0.1:%d' % free_port()
    with serve.nginx(SRV) as web:
        res = browse(web.url + '/?append=cvmfs_url=%s/cvmfs/@fqrn@' % other,
                     tmp_path / 'other.json', [r'cvmboot: cvmfs: hint: [^\n]*\n'], timeout=120)
    assert res['origins'] == [web.url], res['origins']
    assert any('refused a request to ' + other in l for l in res['page_log']), res['page_log']
    assert other in res['console'] and 'HTTP 403' in res['console'], res['console'][-3000:]
    assert cause_and_hint(res['console']), res['console'][-3000:]
    assert 'cvmboot-web' not in res['console']
