#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`make bench`: cvmboot's figures side by side, measured in one run (prints,
never asserts; also writes JSON).

  1. image size: ISO, kernel, initrd, init binary; the uCernVM figures are
     quoted from docs/ucernvm-reference.md section 7, not measured;
  2. boot time of the demo's Debian 12 tree under QEMU/TCG, from QEMU start to
     the OS's init (systemd's "Welcome to Debian") and to the serial login
     prompt: streamed cold without / with the boot profile / with the profile's
     objects in bundles (one GET each), warm (second boot of the bundled scratch
     disk); against the same tree on a local ext4 disk
     image (same kernel, a 5-line busybox initramfs that loads virtio and
     switch_roots), and against downloading the xz'd ext4 image from the same
     nginx over loopback, decompressing it and booting it; the three cold boots
     and the download again through a relay adding a 20 ms round trip per
     request (RTT rows), and through one that also caps the bandwidth at
     25 Mbit/s (a home line), with the crossover bandwidth below which
     streaming beats downloading (a linear model of this run's figures);
  3. bytes and HTTP requests served by nginx before the OS's init and before
     the login prompt, as a fraction of the repository's objects and of the tree;
  4. cvmfs-lite (host `cvmboot mount` of the same repository): warm metadata
     operations per second and warm read throughput, against the local tree;
  5. peak memory (VmHWM) of the cvmfs-lite daemon (printed in the guest by the
     demo OS's cvmboot-demo-report.service) and of PID 1 (when it prints it).
Each figure: median, min and max of --runs runs. Then the other engineers'
bench scripts (bench_publish.py, bench_mount.py, bench_mkfs.py, bench_web.py) if present.

    /usr/bin/python3 tests/bench/bench.py --build build [--dir build/demo] [--runs 3] [--json F]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
sys.path.insert(0, os.path.join(HERE, '..', 'demo'))
import demo  # noqa: E402
import qemu  # noqa: E402

UCERNVM = {	# quoted from ucernvm-reference.md section 7 (not measured here)
    'image': 'hdd 24 MiB raw; README: images "between 10M and 20M"; cvm5 hdd 32,000 KiB',
    'initrd': 'busybox, bash init scripts, curl, e2fsprogs, parted, sfdisk, sgdisk, kexec, '
              'dropbear, cvmfs2 + every kernel module (size not recorded)',
    'kernel': '4.14.232 (size not recorded)',
}
RTT_MS = 20	# the simulated WAN round trip of the RTT rows
BW_MBIT = 25	# the bandwidth of the home-line rows (with RTT_MS)
PEERS = (('bench_publish.py', ['--random-mib', '64']), ('bench_mount.py', ['--small']),
         ('bench_mkfs.py', []), ('bench_web.py', ['--runs', '3']))


def stat3(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {'median': statistics.median(xs), 'min': min(xs), 'max': max(xs), 'n': len(xs),
            'runs': xs}


def fmt(s, unit='s', prec=1):
    if not s:
        return 'n/a'
    f = '%%.%df' % prec
    return (f + '%s [' + f + '-' + f + ']') % (s['median'], unit, s['min'], s['max'])


def ratio(a, b):
    if not a or not b or not b['median']:
        return '-'
    return 'x%.2f' % (a['median'] / b['median'])


def mib(n):
    return n / (1 << 20)


# ---------------------------------------------------------------- 1. sizes
def debian_iso(build):
    """The image with Debian's generic kernel and its module archive (make
    image KERNEL=debian), made here for the size comparison."""
    k, mods = qemu.debian_kernel(build, 'image')
    out = os.path.join(build, 'bench-debian.iso')
    cfg = os.path.join(build, 'config.cpio')
    subprocess.run([os.path.join(build, 'cvmboot'), 'mkimage', '--kernel', k, '--initrd',
                    os.path.join(build, 'initramfs.cpio.xz'), '--initrd', mods] +
                   (['--initrd', cfg] if os.path.exists(cfg) else []) +
                   ['--cmdline', 'console=ttyS0 console=tty0 quiet', '--iso', out],
                   check=True, capture_output=True)
    return out


def sizes(build):
    k, mods = qemu.image_kernel(build)
    dk, dmods = qemu.debian_kernel(build, 'image')
    core = os.path.join(build, 'initramfs.cpio.xz')
    out = {}
    rows = [('ISO (cvmboot.iso)', os.path.join(build, 'cvmboot.iso')),
            ('kernel (%s)' % ('own, ' + qemu.kernel_release(kernel=k) if not mods
                              else os.path.basename(k)), k),
            ('  core initramfs (initramfs.cpio.xz)', core)]
    if mods:
        rows.append(('  modules (%s)' % os.path.basename(mods), mods))
    rows += [('init binary (static, stripped)', os.path.join(build, 'init'))]
    if dk != k:
        rows += [('ISO, Debian kernel (KERNEL=debian)', debian_iso(build)),
                 ('kernel, Debian (%s)' % os.path.basename(dk), dk),
                 ('  modules, Debian (%s)' % os.path.basename(dmods), dmods)]
    for name, p in rows:
        out[name] = os.path.getsize(p) if p and os.path.exists(p) else None
    if os.path.exists(core):
        out['initrd (core%s, xz)' % (' + modules' if mods else '')] = \
            os.path.getsize(core) + (os.path.getsize(mods) if mods else 0)
    print('\n== 1. image size (measured) next to uCernVM (quoted, not measured) ==')
    print('%-40s %12s   %s' % ('item', 'cvmboot', 'uCernVM (quoted: ucernvm-reference.md s.7)'))
    quote = {'ISO (': UCERNVM['image'], 'kernel (': UCERNVM['kernel'], 'initrd': UCERNVM['initrd']}
    for name, n in out.items():
        q = next((v for kk, v in quote.items() if name.startswith(kk)), '')
        print('%-40s %12s   %s' % (name, '%.2f MiB' % mib(n) if n else 'missing', q))
    iso = out.get('ISO (cvmboot.iso)')
    if iso:
        print('ISO vs uCernVM images of 10-20 MB: x%.2f-x%.2f' % (iso / 20e6, iso / 10e6))
    diso = out.get('ISO, Debian kernel (KERNEL=debian)')
    if iso and diso:
        print('ISO own kernel vs Debian kernel: %.2f vs %.2f MiB (x%.2f)'
              % (mib(iso), mib(diso), iso / diso))
    return out


# ---------------------------------------------------------------- 2./3. boots
def tiny_initramfs(d):
    """A busybox initramfs for the traditional boot: load virtio and ext4
    (modules of the image's kernel unless built in), mount /dev/vda,
    switch_root to /sbin/init."""
    kernel, kmods = qemu.vm_kernel()
    kver = qemu.kernel_release(kernel=kernel)
    out = os.path.join(d.dir, 'local-initrd-%s%s.cpio' % (kver, '-mods' if kmods else ''))
    if os.path.exists(out):
        return out
    root = os.path.join(d.dir, 'local-initrd')
    shutil.rmtree(root, ignore_errors=True)
    for sub in ('bin', 'proc', 'dev', 'sys', 'newroot', 'lib/modules'):
        os.makedirs(os.path.join(root, sub))
    shutil.copy2('/bin/busybox', os.path.join(root, 'bin', 'busybox'))
    mods = []
    # crc32c: ext4's soft dependency, which --show-depends does not list
    for ko in qemu.module_files(kver, ('virtio_pci', 'virtio_blk', 'crc32c_generic', 'ext4')) \
            if kmods else ():	# the own kernel builds them in
        name = os.path.basename(ko).replace('.ko.xz', '.ko')
        qemu.copy_module(ko, os.path.join(root, 'lib/modules', name))
        mods.append(name)
    init = '''#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t devtmpfs devtmpfs /dev
for m in %s; do $B insmod /lib/modules/$m; done
n=0; while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do $B usleep 50000; n=$((n+1)); done
$B mount -t ext4 /dev/vda /newroot || { echo "local-initrd: cannot mount /dev/vda"; $B sh; }
$B umount /proc
$B mount --move /dev /newroot/dev
exec $B switch_root /newroot /sbin/init
''' % ' '.join(mods)
    with open(os.path.join(root, 'init'), 'w') as f:
        f.write(init)
    os.chmod(os.path.join(root, 'init'), 0o755)
    subprocess.run('cd %s && find . | cpio -o -H newc --quiet > %s' % (root, out), shell=True,
                   check=True)
    return out


def ext4_image(d):
    img = os.path.join(d.dir, 'rootfs.ext4')
    xz = os.path.join(d.srv, 'images', 'rootfs.ext4.xz')
    if not os.path.exists(img):
        used = int(demo.run(['du', '-sb', d.rootfs]).stdout.split()[0])
        size_mib = int(used * 1.4 / (1 << 20)) + 256
        t = time.monotonic()
        demo.run(['mkfs.ext4', '-q', '-F', '-L', 'debian', '-d', d.rootfs, img + '.tmp',
                  '%dM' % size_mib])
        os.rename(img + '.tmp', img)
        demo.log('ext4 image %s (%d MiB) made with mkfs.ext4 -d in %.1f s'
                 % (img, size_mib, time.monotonic() - t))
    if not os.path.exists(xz):
        os.makedirs(os.path.dirname(xz), exist_ok=True)
        t = time.monotonic()
        subprocess.run('xz -T2 -6 -c %s > %s.tmp' % (img, xz), shell=True, check=True)
        os.rename(xz + '.tmp', xz)
        demo.log('compressed it to %.1f MiB (xz -6) in %.1f s'
                 % (mib(os.path.getsize(xz)), time.monotonic() - t))
    return img, xz


def access_stats(lines):
    """(requests, body bytes) of nginx access-log lines."""
    n = b = 0
    for l in lines:
        parts = l.split('"')
        f = parts[1].split() if len(parts) > 1 else []
        n += 1
        if len(f) >= 2 and f[1].isdigit():
            b += int(f[1])
    return n, b


def parse_console(con):
    out = {}
    m = re.search(r'cvmboot: timing: total\s+(\d+) ms', con)
    out['pid1_handover_ms'] = int(m.group(1)) if m else None
    m = re.search(r'cvmboot-demo: cvmfs-lite daemon pid \d+ VmHWM: (\d+) kB', con)
    out['daemon_vmhwm_kb'] = int(m.group(1)) if m else None
    m = re.search(r'cvmboot: timing: vmhwm\s+(\d+) kB', con)
    out['pid1_vmhwm_kb'] = int(m.group(1)) if m else None
    m = re.search(r'prefetched: (\d+) paths, (\d+) ok, (\d+) unavailable, (\d+) bytes, (\d+) ms',
                  con)
    out['prefetch'] = [int(x) for x in m.groups()] if m else None
    m = re.search(r'bundles: (\d+) bundles \((\d+) failed(?:, \d+ cached)?\), (\d+) objects, '
                  r'(\d+) bad, (\d+) bytes, (\d+) ms', con)
    out['bundles'] = [int(x) for x in m.groups()] if m else None
    # the daemon's counters at the login prompt (the demo's report unit sends SIGUSR1)
    m = re.search(r'cvmfs-lite: requests so far: .*requests/daemon time: (.*)', con)
    out['fuse_requests'] = {k: [int(n), int(ms)] for k, n, ms in
                            re.findall(r'(\w+) (\d+)/(\d+)ms', m.group(1))} if m else None
    return out


class Relay:
    """TCP relay on 127.0.0.1 to port, shaped like a WAN link. Every chunk the
    client sends is held for rtt seconds before it is passed on, so each HTTP
    request costs one round trip; with bw (bytes/s) the server-to-client
    direction of all connections together is paced to that rate, as one home
    line shared by every connection (only the guest's traffic goes through it)."""

    def __init__(self, port, rtt, bw=None):
        import socket
        import threading
        self.port, self.rtt, self.bw = port, rtt, bw
        self.ls = socket.socket()
        self.ls.bind(('127.0.0.1', 0))
        self.ls.listen(64)
        self.listen_port = self.ls.getsockname()[1]
        self.url = 'http://127.0.0.1:%d' % self.listen_port
        self.threading, self.socket = threading, socket
        self.lock = threading.Lock()
        self.free_at = 0.0	# when the shaped link has sent everything queued so far
        threading.Thread(target=self._accept, daemon=True).start()

    def _pace(self, n):
        # A token bucket 20 ms deep: a sleep that overshoots does not slow the
        # link below its rate, and an idle link sends at most 20 ms of it at once.
        with self.lock:
            start = max(time.monotonic() - 0.02, self.free_at)
            self.free_at = start + n / self.bw
            done = self.free_at
        time.sleep(max(0.0, done - time.monotonic()))

    def _pipe(self, a, b, delay, shaped):
        try:
            while True:
                data = a.recv(16384 if shaped else 65536)
                if not data:
                    break
                if delay:
                    time.sleep(delay)
                if shaped:
                    self._pace(len(data))
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(self.socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            s = self.socket.create_connection(('127.0.0.1', self.port))
            self.threading.Thread(target=self._pipe, args=(c, s, self.rtt, False),
                                  daemon=True).start()
            self.threading.Thread(target=self._pipe, args=(s, c, 0, bool(self.bw)),
                                  daemon=True).start()

    def close(self):
        self.ls.close()


def boot_streamed(d, tag, disk, name, port=None, kernel=None):
    logp = os.path.join(d.dir, 'bench-%s.log' % name)
    if os.path.exists(logp):
        os.unlink(logp)
    vm = d.vm(tag, disk, logp, port=port, kernel=kernel)
    demo.serial_socket(vm, os.path.join(d.dir, 'serial-bench.sock'))
    n0 = len(d.web.access_log())
    with vm:
        res = demo.watch(vm, d.web, show=False)
        clean = demo.poweroff(vm) if res['login_s'] else False
    lines = d.web.access_log()[n0:]
    r = {'init_s': res['init_s'], 'login_s': res['login_s'], 'clean_poweroff': clean}
    if res['reqs_init'] is not None:
        r['reqs_init'], r['bytes_init'] = access_stats(lines[:res['reqs_init'] - n0])
    if res['reqs_login'] is not None:
        r['reqs_login'], r['bytes_login'] = access_stats(lines[:res['reqs_login'] - n0])
    r.update(parse_console(vm.console()))	# to the power-off: the report unit's lines
    if res['login_s'] is None:
        demo.log('%s: no login prompt; console in %s' % (name, logp))
    return r


def boot_local(d, img, name, snapshot=True):
    logp = os.path.join(d.dir, 'bench-%s.log' % name)
    if os.path.exists(logp):
        os.unlink(logp)
    drive = 'file=%s,if=none,id=d0,format=raw%s' % (img, ',snapshot=on' if snapshot else '')
    vm = qemu.VM(tiny_initramfs(d), append=demo.APPEND + ' root=/dev/vda rw', log=logp,
                 mem=1024, extra=['-drive', drive, '-device', 'virtio-blk-pci,drive=d0'])
    demo.serial_socket(vm, os.path.join(d.dir, 'serial-bench.sock'))
    with vm:
        res = demo.watch(vm, None, show=False)
        demo.poweroff(vm, timeout=30)
    if res['login_s'] is None:
        demo.log('%s: no login prompt; console in %s' % (name, logp))
    return {'init_s': res['init_s'], 'login_s': res['login_s']}


def boot_download(d, xz_rel, name, url=None):
    """Fetch the xz'd ext4 image (from url: a relay, or nginx itself), unpack it
    while it streams in, then boot it as a local disk."""
    out = os.path.join(d.dir, 'downloaded.ext4')
    if os.path.exists(out):
        os.unlink(out)
    t = time.monotonic()
    subprocess.run('curl -sf %s/%s | xz -d -T1 > %s' % (url or d.web.url, xz_rel, out),
                   shell=True, check=True)
    fetch = time.monotonic() - t
    r = boot_local(d, out, name, snapshot=False)
    os.unlink(out)
    r['fetch_unpack_s'] = fetch
    r['init_s'] = fetch + r['init_s'] if r['init_s'] else None
    r['login_s'] = fetch + r['login_s'] if r['login_s'] else None
    return r


def repo_object_bytes(d):
    n = 0
    for dp, _, fs in os.walk(os.path.join(d.repo, 'data')):
        for f in fs:
            n += os.path.getsize(os.path.join(dp, f))
    return n


# The shaped links of the WAN rows: (label, round trip in s, bytes/s or None).
LINKS = (('RTT %d ms' % RTT_MS, RTT_MS / 1000.0, None),
         ('%d Mbit/s RTT %d ms' % (BW_MBIT, RTT_MS), RTT_MS / 1000.0, BW_MBIT * 1e6 / 8))


def boots(d, runs):
    img, xz = ext4_image(d)
    xz_rel = os.path.relpath(xz, d.srv)
    keys = ['cold', 'cold+profile', 'cold+bundle', 'warm', 'local ext4', 'download+boot']
    # The same boots on Debian's kernel and its module archive (KERNEL=debian).
    own, _ = qemu.vm_kernel()
    deb = qemu.debian_kernel()
    if deb[0] != own:
        keys += ['cold+bundle, Debian kernel', 'warm, Debian kernel']
    for label, _, _ in LINKS:
        keys += ['cold, ' + label, 'cold+profile, ' + label, 'cold+bundle, ' + label,
                 'download+boot, ' + label]
    scen = {k: [] for k in keys}
    relays = [(label, Relay(d.web.port, rtt, bw)) for label, rtt, bw in LINKS]
    for i in range(runs):
        demo.log('boot round %d/%d' % (i + 1, runs))
        disk = d.new_disk('bench-scratch.img')
        scen['cold'].append(boot_streamed(d, demo.TAG, disk, 'cold-%d' % i))
        disk = d.new_disk('bench-scratch.img')
        scen['cold+profile'].append(boot_streamed(d, demo.TAG_PROFILED, disk, 'prof-%d' % i))
        disk = d.new_disk('bench-scratch.img')
        scen['cold+bundle'].append(boot_streamed(d, demo.TAG_BUNDLED, disk, 'bndl-%d' % i))
        scen['warm'].append(boot_streamed(d, demo.TAG_BUNDLED, disk, 'warm-%d' % i))
        os.unlink(disk)
        if 'warm, Debian kernel' in scen:
            disk = d.new_disk('bench-scratch.img')
            scen['cold+bundle, Debian kernel'].append(
                boot_streamed(d, demo.TAG_BUNDLED, disk, 'deb-bndl-%d' % i, kernel=deb))
            scen['warm, Debian kernel'].append(
                boot_streamed(d, demo.TAG_BUNDLED, disk, 'deb-warm-%d' % i, kernel=deb))
            os.unlink(disk)
        scen['local ext4'].append(boot_local(d, img, 'local-%d' % i))
        scen['download+boot'].append(boot_download(d, xz_rel, 'dl-%d' % i))
        for j, (label, relay) in enumerate(relays):
            disk = d.new_disk('bench-scratch.img')
            scen['cold, ' + label].append(
                boot_streamed(d, demo.TAG, disk, 'cold-link%d-%d' % (j, i),
                              port=relay.listen_port))
            disk = d.new_disk('bench-scratch.img')
            scen['cold+profile, ' + label].append(
                boot_streamed(d, demo.TAG_PROFILED, disk, 'prof-link%d-%d' % (j, i),
                              port=relay.listen_port))
            disk = d.new_disk('bench-scratch.img')
            scen['cold+bundle, ' + label].append(
                boot_streamed(d, demo.TAG_BUNDLED, disk, 'bndl-link%d-%d' % (j, i),
                              port=relay.listen_port))
            os.unlink(disk)
            scen['download+boot, ' + label].append(
                boot_download(d, xz_rel, 'dl-link%d-%d' % (j, i), url=relay.url))
        for k, v in scen.items():
            demo.log('  %-34s init %s  login %s' % (k, v[-1].get('init_s'), v[-1].get('login_s')))
    for _, relay in relays:
        relay.close()
    return scen, img, xz


def report_crossover(res, xz_bytes):
    """Where streaming and "download the image, then boot" meet, for the plain
    cold boot and the bundled one. Both sides are taken from this run's loopback
    medians and a linear model of the link: download+boot(bw) = download+boot over
    loopback + xz bytes / bw, and streamed(bw) <= streamed over loopback + bytes
    fetched to login / bw (an upper bound: it assumes no transfer overlaps the
    guest's own work). The shaped rows above are the measured check of the model."""
    out = {}
    print('\n== crossover: cold streamed boot vs download+boot, to the login prompt ==')
    for key in ('cold', 'cold+bundle'):
        try:
            c0 = res[key]['to_login_s']['median']
            d0 = res['download+boot']['to_login_s']['median']
            bs = res[key]['bytes_login']['median']
        except (KeyError, TypeError):
            print('%s: not computed (a loopback row has no login time)' % key)
            continue
        o = {'login_loopback_s': c0, 'download_login_loopback_s': d0,
             'bytes_to_login': bs, 'xz_image_bytes': xz_bytes}
        line = ('%s: download+boot(bw) = %.1f s + %.1f MiB / bw; %s(bw) <= %.1f s + %.1f MiB / bw'
                % (key, d0, mib(xz_bytes), key, c0, mib(bs)))
        if xz_bytes <= bs:
            o['crossover_mbit_s'] = None
            line += ': moves at least as many bytes as the image, no crossover'
        elif c0 <= d0:
            o['crossover_mbit_s'] = float('inf')
            line += ': faster at every bandwidth (also over loopback)'
        else:
            o['crossover_mbit_s'] = (xz_bytes - bs) / (c0 - d0) * 8 / 1e6
            line += ': faster on links slower than %.0f Mbit/s (model)' % o['crossover_mbit_s']
        print(line)
        for label, _, bwl in LINKS:
            if not bwl:
                continue
            mc = res.get('%s, %s' % (key, label), {}).get('to_login_s')
            md = res['download+boot, ' + label].get('to_login_s')
            print('  measured at %s: %s %s, download+boot %s (model: <= %.1f s, %.1f s)'
                  % (label, key, fmt(mc), fmt(md), c0 + bs / bwl, d0 + xz_bytes / bwl))
        out[key] = o
    return out


def report_boots(d, scen, img, xz):
    res = {}
    for k, v in scen.items():
        res[k] = {'to_init_s': stat3([r.get('init_s') for r in v]),
                  'to_login_s': stat3([r.get('login_s') for r in v])}
        for f in ('reqs_init', 'bytes_init', 'reqs_login', 'bytes_login', 'pid1_handover_ms',
                  'daemon_vmhwm_kb', 'pid1_vmhwm_kb', 'fetch_unpack_s'):
            s = stat3([r.get(f) for r in v])
            if s:
                res[k][f] = s
    ref = res['local ext4']
    print('\n== 2. boot time, Debian 12 minbase + systemd, QEMU/TCG microvm, 1 GiB RAM, '
          'from QEMU start ==')
    print('%-34s %-24s %-8s %-24s %-8s' % ('boot', 'to the OS init', 'vs ext4',
                                          'to login prompt', 'vs ext4'))
    for k, r in res.items():
        print('%-34s %-24s %-8s %-24s %-8s' % (k, fmt(r['to_init_s']), ratio(r['to_init_s'],
                                               ref['to_init_s']), fmt(r['to_login_s']),
                                               ratio(r['to_login_s'], ref['to_login_s'])))
    if res['download+boot'].get('fetch_unpack_s'):
        print('download+boot: curl | xz -d of %.1f MiB (%.1f MiB image) took %s of it'
              % (mib(os.path.getsize(xz)), mib(os.path.getsize(img)),
                 fmt(res['download+boot']['fetch_unpack_s'])))
    for a, b in (('cold+bundle', 'cold+bundle, Debian kernel'), ('warm', 'warm, Debian kernel')):
        if b in res and res[a]['to_login_s'] and res[b]['to_login_s']:
            print('own vs Debian kernel, %s: to login %s vs %s (x%s); PID 1 hand-over %s vs %s'
                  % (a, fmt(res[a]['to_login_s']), fmt(res[b]['to_login_s']),
                     ratio(res[a]['to_login_s'], res[b]['to_login_s']).lstrip('x'),
                     fmt(res[a].get('pid1_handover_ms'), ' ms', 0),
                     fmt(res[b].get('pid1_handover_ms'), ' ms', 0)))
    if res['cold'].get('pid1_handover_ms'):
        print('streamed: cvmboot PID 1 hands over after %s (cold), %s (warm) of kernel uptime'
              % (fmt(res['cold']['pid1_handover_ms'], ' ms', 0),
                 fmt(res['warm'].get('pid1_handover_ms'), ' ms', 0)))
    bn = [r['bundles'] for r in scen['cold+bundle'] if r.get('bundles')]
    if bn:
        print('boot-profile bundles (cold+bundle): %d bundles, %d objects, %.1f MiB, done %.1f s '
              'after mount (median)' % (bn[0][0], bn[0][2], mib(statistics.median(b[4] for b in bn)),
                                        statistics.median(b[5] for b in bn) / 1000))
    pf = [r['prefetch'] for r in scen['cold+profile'] if r.get('prefetch')]
    if pf:
        print('boot profile prefetch (cold+profile): %d paths, %.1f MiB, done %.1f s after mount'
              ' (median)' % (pf[0][0], mib(statistics.median(p[3] for p in pf)),
                             statistics.median(p[4] for p in pf) / 1000))

    objs = repo_object_bytes(d)
    tree = d.tree_bytes()
    print('\n== 3. HTTP requests and bytes served by nginx (body bytes) ==')
    print('published: repository objects %.1f MiB (compressed); tree %.1f MiB of file '
          'content; xz ext4 image %.1f MiB' % (mib(objs), mib(tree), mib(os.path.getsize(xz))))
    print('%-34s %-20s %-30s %-20s %-30s' % ('boot', 'requests to init', 'MiB to init (% objs)',
                                             'requests to login', 'MiB to login (% objs)'))
    for k in [k for k in res if k.startswith(('cold', 'warm'))]:
        r = res[k]
        if 'bytes_login' not in r:
            continue
        bi, bl = r.get('bytes_init'), r['bytes_login']
        print('%-34s %-20s %-30s %-20s %-30s' % (
            k, fmt(r.get('reqs_init'), '', 0),
            '%s (%.1f%%)' % (fmt({x: mib(y) if x != 'runs' else y for x, y in bi.items()}, '',
                                 1), 100.0 * bi['median'] / objs) if bi else 'n/a',
            fmt(r['reqs_login'], '', 0),
            '%s (%.1f%%)' % (fmt({x: mib(y) if x != 'runs' else y for x, y in bl.items()}, '',
                                 1), 100.0 * bl['median'] / objs)))
    print('download+boot moves %.1f MiB in 1 request (%.0f%% of the objects; %.0f%% of the '
          'tree\'s content)' % (mib(os.path.getsize(xz)), 100.0 * os.path.getsize(xz) / objs,
                                100.0 * os.path.getsize(xz) / tree))
    res['crossover'] = report_crossover(res, os.path.getsize(xz))
    res['published'] = {'repo_object_bytes': objs, 'tree_bytes': tree,
                        'xz_image_bytes': os.path.getsize(xz), 'ext4_image_bytes':
                        os.path.getsize(img)}
    return res


# ---------------------------------------------------------------- 4. host mount
def walk_stat(root):
    n = 0
    for dp, dns, fs in os.walk(root):
        for e in dns + fs:
            os.lstat(os.path.join(dp, e))
            n += 1
    return n


def read_all(root):
    b = 0
    buf = bytearray(1 << 20)
    for dp, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(dp, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            try:
                with open(p, 'rb', buffering=0) as fh:
                    while True:
                        k = fh.readinto(buf)
                        if not k:
                            break
                        b += k
            except OSError:
                pass
    return b


def mount_bench(d, runs):
    from cvmfsmount import Mount
    mnt = os.path.join(d.dir, 'bench-mnt')
    cache = os.path.join(d.dir, 'bench-host-cache')
    shutil.rmtree(cache, ignore_errors=True)
    out = {}
    with Mount(d.web.url + '/cvmfs/' + demo.FQRN, mnt, demo.FQRN, d.pub, cache,
               '--tag', demo.TAG) as m:
        t = time.monotonic()
        n = walk_stat(mnt)
        cold_walk = time.monotonic() - t
        t = time.monotonic()
        nb = read_all(mnt)
        cold_read = time.monotonic() - t
        cw, cr, lw, lr = [], [], [], []
        walk_stat(d.rootfs)
        read_all(d.rootfs)
        for _ in range(runs):
            t = time.monotonic(); walk_stat(mnt); cw.append(n / (time.monotonic() - t))
            t = time.monotonic(); walk_stat(d.rootfs); lw.append(n / (time.monotonic() - t))
            t = time.monotonic(); read_all(mnt); cr.append(mib(nb) / (time.monotonic() - t))
            t = time.monotonic(); read_all(d.rootfs); lr.append(mib(nb) / (time.monotonic() - t))
        rss = None
        try:
            with open('/proc/%d/status' % m.pid) as f:
                rss = int(next(l for l in f if l.startswith('VmHWM')).split()[1])
        except (OSError, StopIteration, AttributeError):
            pass
    out = {'entries': n, 'bytes': nb, 'cold_walk_s': cold_walk, 'cold_read_s': cold_read,
           'warm_stat_ops_s': stat3(cw), 'local_stat_ops_s': stat3(lw),
           'warm_read_mib_s': stat3(cr), 'local_read_mib_s': stat3(lr), 'host_daemon_vmhwm_kb': rss}
    print('\n== 4. cvmfs-lite on the host (cvmboot mount of tag %s, %d entries, %.1f MiB), '
          'warm, vs the local tree ==' % (demo.TAG, n, mib(nb)))
    print('%-34s %-26s %-26s %s' % ('measure', 'cvmfs-lite', 'local disk', 'ratio'))
    print('%-34s %-26s %-26s %s' % ('lstat walk (entries/s)', fmt(out['warm_stat_ops_s'], '', 0),
                                    fmt(out['local_stat_ops_s'], '', 0),
                                    ratio(out['warm_stat_ops_s'], out['local_stat_ops_s'])))
    print('%-34s %-26s %-26s %s' % ('read every file (MiB/s)', fmt(out['warm_read_mib_s'], '', 0),
                                    fmt(out['local_read_mib_s'], '', 0),
                                    ratio(out['warm_read_mib_s'], out['local_read_mib_s'])))
    print('cold (first) walk %.2f s, cold read of everything %.1f s (%.1f MiB/s over loopback); '
          'host daemon VmHWM %s kB' % (cold_walk, cold_read, mib(nb) / cold_read, rss))
    return out


def report_memory(res):
    print('\n== 5. peak memory (VmHWM) in the guest ==')
    for k in ('cold', 'cold+profile', 'warm'):
        r = res.get(k, {})
        print('%-14s cvmfs-lite daemon at multi-user: %-28s PID 1 before hand-over: %s'
              % (k, fmt(r.get('daemon_vmhwm_kb'), ' kB', 0),
                 fmt(r.get('pid1_vmhwm_kb'), ' kB', 0) if r.get('pid1_vmhwm_kb')
                 else 'not printed by this build (see boot/log.c proposal)'))


def peers(build):
    out = {}
    env = dict(os.environ, CVMBOOT_BUILD=os.path.abspath(build))
    for script, args in PEERS:
        p = os.path.join(HERE, script)
        if not os.path.exists(p):
            continue
        print('\n== %s %s ==' % (script, ' '.join(args)), flush=True)
        t = time.monotonic()
        try:
            r = subprocess.run([sys.executable, p] + args, capture_output=True, text=True,
                               env=env, timeout=600)
            text = r.stdout + (r.stderr[-2000:] if r.returncode else '')
        except subprocess.TimeoutExpired as e:
            text = (e.stdout or b'').decode(errors='replace') if isinstance(e.stdout, bytes) \
                else (e.stdout or '')
            text += '\n(timed out after 600 s)'
        print(text.rstrip())
        out[script] = {'args': args, 'seconds': time.monotonic() - t, 'output': text}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default='build')
    ap.add_argument('--dir', default=None)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--json', default=None)
    ap.add_argument('--no-peers', action='store_true')
    ap.add_argument('--sizes-only', action='store_true',
                    help='only section 1 (updates its entry in --json)')
    a = ap.parse_args()
    if a.sizes_only:
        out = {}
        if a.json and os.path.exists(a.json):
            with open(a.json) as f:
                out = json.load(f)
        out['sizes'] = sizes(os.path.abspath(a.build))
        if a.json:
            with open(a.json, 'w') as f:
                json.dump(out, f, indent=1, default=str)
        return 0
    t0 = time.monotonic()
    d = demo.Demo(a.build, a.dir or os.path.join(a.build, 'demo'))
    out = {'runs': a.runs, 'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
           'command': 'make bench', 'nproc': os.cpu_count()}
    try:
        out['sizes'] = sizes(d.build)
        demo.ensure_repo(d, show=False)
        scen, img, xz = boots(d, a.runs)
        out['boot'] = report_boots(d, scen, img, xz)
        out['boot_raw'] = scen
        report_memory(out['boot'])
        out['mount'] = mount_bench(d, a.runs)
    finally:
        d.stop()
    if not a.no_peers:
        out['peers'] = peers(d.build)
    out['seconds'] = time.monotonic() - t0
    print('\nbench: %.0f s in all' % out['seconds'])
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(out, f, indent=1, default=str)
        print('bench: figures written to %s' % a.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
