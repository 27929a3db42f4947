#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Benchmark (not a test): the web flavour's boot in headless Chromium
(boot/web/, driven by tests/web/browser.mjs). Per run: seconds from page
load to PID 1's hand-over and to the test OS's shell prompt, and what the page
transferred before the prompt: requests and bytes as nginx served them, by
kind (page, v86, BIOS, kernel, initramfs, repository), and as the page's
Resource Timing counted them. Goal (issue 16): prompt within 30 s, < 8 MiB.

    CVMBOOT_BUILD=$PWD/build [CVMBOOT_TP=DIR] /usr/bin/python3 tests/bench/bench_web.py [--runs 3]
`make bench` runs it; `make web-files` builds what it serves.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get('CVMBOOT_BUILD') or os.path.join(ROOT, 'build')
TP = os.environ.get('CVMBOOT_TP') or os.path.join(BUILD, 'third_party')
sys.path.insert(0, os.path.join(ROOT, 'boot', 'web'))
import serve  # noqa: E402

HANDOVER = r'cvmboot: hand-over: exec'
PROMPT = r'cvmboot-web:[^\n]*# (?:\x1b\[[0-9;]*[A-Za-z])*$'
KINDS = (('v86', r'^/v86/'), ('bios', r'^/bios/'), ('kernel', r'^/vmlinuz'),
         ('initramfs', r'^/initrd\.img'), ('repository', r'^/cvmfs/'), ('page', r''))


def kind(path):
    for k, rx in KINDS:
        if re.search(rx, path):
            return k
    return 'page'


def run_once(srv, tmp):
    with serve.nginx(srv) as web:
        out = os.path.join(tmp, 'run.json')
        r = subprocess.run(['node', os.path.join(ROOT, 'tests', 'web', 'browser.mjs'),
                            '--modules', os.path.join(TP, 'web', 'node_modules'),
                            '--url', web.url + '/', '--json-out', out, '--timeout', '180',
                            '--wait', HANDOVER, '--wait', PROMPT],
                           capture_output=True, text=True, timeout=400)
        if r.returncode != 0:
            sys.exit('bench_web: the page did not reach the prompt:\n' + r.stderr[-4000:])
        res = json.load(open(out))
        by = {}
        for line in web.access_log():
            f = line.split()
            m = re.search(r'" (\d{3}) (\d+) ', ' ' + line)
            if len(f) < 2 or not m:
                continue
            k = by.setdefault(kind(f[1]), [0, 0])
            k[0] += 1
            k[1] += int(m.group(2))
    t = {w['regex']: w['s'] for w in res['waits']}
    return {'handover_s': t[HANDOVER], 'prompt_s': t[PROMPT], 'by_kind': by,
            'requests': sum(v[0] for v in by.values()),
            'bytes': sum(v[1] for v in by.values()), 'page_counted': res['transfer']}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--runs', type=int, default=3)
    a = ap.parse_args()
    srv = os.path.join(BUILD, 'web', 'srv')
    if not os.path.exists(os.path.join(srv, 'index.html')):
        sys.exit('bench_web: %s is missing: run `make web-files` first' % srv)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.runs):
            runs.append(run_once(srv, tmp))

    def med(key):
        xs = [r[key] for r in runs]
        return '%.1f [%.1f-%.1f]' % (statistics.median(xs), min(xs), max(xs))
    print('web flavour in headless Chromium (v86), %d runs: median [min-max]' % len(runs))
    print('  page load -> PID 1 hand-over   %s s' % med('handover_s'))
    print('  page load -> shell prompt      %s s   (goal < 30 s)' % med('prompt_s'))
    last = runs[-1]
    print('  transferred before the prompt  %d requests, %.2f MiB (goal < 8 MiB); '
          'the page counted %d requests, %.2f MiB'
          % (last['requests'], last['bytes'] / 2**20, last['page_counted']['requests'],
             last['page_counted']['bytes'] / 2**20))
    for k, _ in KINDS:
        n, b = last['by_kind'].get(k, (0, 0))
        print('    %-12s %4d requests %9.2f MiB' % (k, n, b / 2**20))
    for f in ('vmlinuz', 'initrd.img'):
        print('  %-12s %d bytes' % (f, os.path.getsize(os.path.join(srv, f))))
    print('  i386 init    %d bytes' % os.path.getsize(os.path.join(BUILD, 'i386', 'init')))


if __name__ == '__main__':
    main()
