#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`make demo`: Debian 12 streamed by cvmboot, from a repository published here.

Steps (each re-used when its result exists):
  1. a Debian 12 minbase tree (+ systemd-sysv, udev) by debootstrap in DIR/rootfs,
     apt's caches and lists left out, root password 'cvmboot' (for INTERACTIVE=1);
  2. keys and a repository DIR/srv/cvmfs/demo.cvmboot: tag 'bookworm';
  3. nginx on 127.0.0.1 serving DIR/srv; the guest reaches it only through a
     restricted user network (guestfwd 10.0.2.100:80 -> 127.0.0.1:PORT);
  4. the boot profile: the first boot of 'bookworm' is recorded (objects the
     guest fetched, from nginx's access log, mapped back to repository paths
     through the catalogs of a host mount), written to /.cvmboot_profile and
     published as tag 'bookworm-profiled'; the same objects, packed by
     `cvmboot bundle` into a few bundles whose index is /.cvmboot_bundles, are
     published as tag 'bookworm-bundled', which the demo boots from then on;
  5. QEMU (TCG) boots the image with a blank scratch disk; the console is shown
     until the serial login prompt, then the VM is powered off.

    /usr/bin/python3 tests/demo/demo.py --build build [--dir build/demo] [--interactive]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
import qemu  # noqa: E402
from servers import Nginx  # noqa: E402

FQRN = 'demo.cvmboot'
GUEST_REPO_IP = '10.0.2.100'
MIRROR = 'http://deb.debian.org/debian'
SUITE = 'bookworm'
PASSWORD = 'cvmboot'
TAG = 'bookworm'
TAG_PROFILED = 'bookworm-profiled'
TAG_BUNDLED = 'bookworm-bundled'
PROFILE = '.cvmboot_profile'
BUNDLES = '.cvmboot_bundles'	# index of the boot's objects in bundles (cvmboot bundle)
OBJECTS = 'boot-objects.txt'	# objects the recording boot fetched, in order (in the work dir)
OS_INIT_MARK = 'Welcome to '	# systemd's first console line: the OS's init runs
LOGIN_MARK = 'login:'			# serial-getty@ttyS0: multi-user reached
BOOT_TIMEOUT = 600
APPEND = 'loglevel=4'

REPORT_UNIT = ('[Unit]\n'
               'Description=cvmboot demo: peak memory and request counters of the cvmfs-lite daemon\n'
               'ConditionPathExists=/.cvmfs_pids\n'
               'After=getty.target systemd-user-sessions.service\n'
               '[Service]\n'
               'Type=oneshot\n'
               'ExecStart=/bin/sh -c \'p=$(cat /.cvmfs_pids); echo "cvmboot-demo: cvmfs-lite '
               'daemon pid $p $(grep -h VmHWM /proc/$p/status | tr -s "\\t " " ")" '
               '> /dev/console; kill -USR1 $p\'\n'
               '[Install]\n'
               'WantedBy=multi-user.target\n')


def log(msg):
    print('demo: ' + msg, flush=True)


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit('demo: %s failed (exit %d):\n%s%s' % (' '.join(argv), r.returncode,
                                                      r.stdout[-3000:], r.stderr[-3000:]))
    return r


def mirror():
    """The Debian mirror this machine's apt uses (deb822 or one-line format)."""
    p = '/etc/apt/sources.list.d/debian.sources'
    if os.path.exists(p):
        for l in open(p):
            if l.startswith('URIs:') and 'security' not in l:
                return l.split()[1]
    if os.path.exists('/etc/apt/sources.list'):
        for l in open('/etc/apt/sources.list'):
            f = l.split()
            if len(f) >= 3 and f[0] == 'deb' and 'security' not in f[1]:
                return f[1] if not f[1].startswith('[') else f[2]
    return MIRROR


class Demo:
    def __init__(self, build, d):
        self.build = os.path.abspath(build)
        self.dir = os.path.abspath(d)
        self.tool = os.path.join(self.build, 'cvmboot')
        self.rootfs = os.path.join(self.dir, 'rootfs')
        self.keys = os.path.join(self.dir, 'keys')
        self.srv = os.path.join(self.dir, 'srv')
        self.repo = os.path.join(self.srv, 'cvmfs', FQRN)
        self.pub = os.path.join(self.keys, FQRN + '.pub')
        self.web = None
        os.makedirs(self.dir, exist_ok=True)
        os.environ['CVMBOOT_BUILD'] = self.build	# for tests/lib/cvmfsmount.py

    # ---- 1. the Debian tree ----
    def tree(self):
        if os.path.exists(os.path.join(self.rootfs, 'etc', 'cvmboot-demo')):
            log('Debian tree: re-using %s' % self.rootfs)
            self.settings(self.rootfs)
            return
        part = self.rootfs + '.partial'
        if not os.path.exists(os.path.join(part, 'sbin', 'init')):
            shutil.rmtree(part, ignore_errors=True)
            m = mirror()
            log('debootstrap --variant=minbase --include=systemd-sysv,udev %s from %s '
                '(a few minutes)' % (SUITE, m))
            r = subprocess.run(['debootstrap', '--variant=minbase',
                                '--include=systemd-sysv,udev', SUITE, part, m])
            if r.returncode != 0:
                sys.exit('demo: debootstrap failed (exit %d); see %s/debootstrap/debootstrap.log'
                         % (r.returncode, part))
        # apt's caches and lists are not part of the OS we stream.
        for sub in ('var/cache/apt', 'var/lib/apt/lists'):
            p = os.path.join(part, sub)
            for e in os.listdir(p) if os.path.isdir(p) else ():
                q = os.path.join(p, e)
                if os.path.isdir(q) and not os.path.islink(q):
                    shutil.rmtree(q)
                    if e in ('archives', 'partial'):
                        os.makedirs(q)
                elif e != 'lock':
                    os.unlink(q)
        h = run(['openssl', 'passwd', '-6', '-salt', 'cvmbootdemo', PASSWORD]).stdout.strip()
        sh = os.path.join(part, 'etc', 'shadow')
        lines = open(sh).read().splitlines()
        lines = ['root:%s:%s' % (h, l.split(':', 2)[2]) if l.startswith('root:') else l
                 for l in lines]
        with open(sh, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        with open(os.path.join(part, 'etc', 'hostname'), 'w') as f:
            f.write('cvmboot-demo\n')
        with open(os.path.join(part, 'etc', 'fstab'), 'w') as f:
            f.write('# / is set up by the boot loader (cvmboot overlay, or root= for ext4)\n')
        self.settings(part)
        with open(os.path.join(part, 'etc', 'cvmboot-demo'), 'w') as f:
            f.write('Debian %s minbase + systemd-sysv + udev, made by tests/demo/demo.py\n'
                    % SUITE)
        os.rename(part, self.rootfs)
        log('Debian tree ready: %s' % self.rootfs)

    @staticmethod
    def settings(root):
        """The demo's own files in the tree (re-written on every run)."""
        unit = 'cvmboot-demo-report.service'
        p = os.path.join(root, 'etc', 'systemd', 'system', unit)
        if not os.path.exists(p) or open(p).read() != REPORT_UNIT:
            with open(p, 'w') as f:
                f.write(REPORT_UNIT)
        wants = os.path.join(root, 'etc', 'systemd', 'system', 'multi-user.target.wants')
        os.makedirs(wants, exist_ok=True)
        if not os.path.lexists(os.path.join(wants, unit)):
            os.symlink('/etc/systemd/system/' + unit, os.path.join(wants, unit))

    def tree_bytes(self):
        """Bytes of regular-file content in the tree (what a full copy moves)."""
        n = 0
        for dp, _, fs in os.walk(self.rootfs):
            for f in fs:
                p = os.path.join(dp, f)
                if not os.path.islink(p):
                    n += os.lstat(p).st_size
        return n

    # ---- 2. the repository ----
    def tags(self):
        if not os.path.exists(self.repo):
            return set()
        r = run([self.tool, 'tag', self.repo, 'list'])
        return set(w for l in r.stdout.splitlines() for w in l.split()[:1])

    def publish(self, tag):
        if not os.path.exists(self.pub):
            run([self.tool, 'keygen', FQRN, self.keys])
        os.makedirs(os.path.dirname(self.repo), exist_ok=True)
        t = time.monotonic()
        run([self.tool, 'publish', self.rootfs, self.repo, '--name', FQRN, '--keys', self.keys,
             '--tag', tag])
        log('published %s as tag %s in %.1f s' % (self.rootfs, tag, time.monotonic() - t))

    def serve(self):
        if not self.web:
            self.web = Nginx(self.srv).start()
            log('nginx serves %s on %s' % (self.srv, self.web.url))
        return self.web

    def stop(self):
        if self.web:
            self.web.stop()
            self.web = None

    # ---- boot ----
    def initrd(self, tag, mods=None):
        """The image's initrd plus a config archive naming our repository and
        tag. mods: boot with that module archive (a Debian kernel's) after
        the core archive instead of build/initrd.img."""
        cfgdir = os.path.join(self.dir, 'cfg-' + tag + ('-' + os.path.basename(mods) if mods else ''))
        os.makedirs(cfgdir, exist_ok=True)
        defaults = os.path.join(cfgdir, 'defaults')
        with open(defaults, 'w') as f:
            f.write('repo_url=http://%s/cvmfs/@fqrn@\nrepo_name=%s\nrepo_tag=%s\n'
                    'repo_key=/etc/cvmboot/keys/repo.pub\n' % (GUEST_REPO_IP, FQRN, tag))
        cpio = os.path.join(cfgdir, 'config.cpio')
        run([self.tool, 'mkinitramfs', '--modules-only',
             '--file', defaults + ':etc/cvmboot/defaults',
             '--file', self.pub + ':etc/cvmboot/keys/repo.pub', '-o', cpio])
        out = os.path.join(cfgdir, 'initrd.img')
        with open(out, 'wb') as o:
            for p in ([os.path.join(self.build, 'initramfs.cpio.xz'), mods] if mods else
                      [os.path.join(self.build, 'initrd.img')]) + [cpio]:
                with open(p, 'rb') as i:
                    o.write(i.read())
        return out

    def new_disk(self, name, size=4 << 30):
        p = os.path.join(self.dir, name)
        if os.path.exists(p):
            os.unlink(p)
        with open(p, 'wb') as f:
            f.truncate(size)
        return p

    def vm(self, tag, disk, log_path, mem=1024, port=None, kernel=None):
        """port: where the guestfwd leads (default nginx's). kernel: a
        (bzImage, module archive) pair instead of the build's own kernel."""
        if os.path.exists(log_path):
            os.unlink(log_path)	# watch() must not see an old run's console
        k, mods = kernel or (None, None)
        return qemu.VM(self.initrd(tag, mods), kernel=k, append=APPEND, log=log_path, mem=mem,
                       net_args=qemu.user_net([(GUEST_REPO_IP, 80, port or self.web.port)]),
                       extra=qemu.disk_args(disk))


def watch(vm, web=None, show=True, timeout=BOOT_TIMEOUT):
    """Follows the console until the login prompt. Returns a dict: seconds to
    the OS's init and to the login prompt (None if never), the console, and the
    nginx access-log line counts at those moments."""
    res = {'init_s': None, 'login_s': None, 'reqs_init': None, 'reqs_login': None}
    shown = 0
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        con = vm.console()
        now = time.monotonic() - vm.t0
        if res['init_s'] is None and OS_INIT_MARK in con:
            res['init_s'] = now
            res['reqs_init'] = len(web.access_log()) if web else None
        if show and len(con) > shown:
            cut = con.rfind('\n', shown) + 1
            if cut > shown:
                sys.stdout.write(con[shown:cut].replace('\r', ''))
                sys.stdout.flush()
                shown = cut
        if re.search(r'\S+ login: ?$', con, re.M) or re.search(r'login: *$', con):
            res['login_s'] = now
            res['reqs_login'] = len(web.access_log()) if web else None
            if res['init_s'] is None:
                res['init_s'] = now
            break
        if vm.proc.poll() is not None:
            break
        time.sleep(0.05)
    con = vm.console()
    if show and len(con) > shown:
        sys.stdout.write(con[shown:].replace('\r', '') + '\n')
    res['console'] = con
    return res


def object_key(url_path):
    """'/cvmfs/F/data/ab/cdef..X' -> 'abcdef..' (hash hex without suffix), else None."""
    m = re.search(r'/data/([0-9a-f]{2})/([0-9a-f]+)[A-Z]?(?:\s|$|\?)', url_path + ' ')
    return m.group(1) + m.group(2) if m else None


def hash_map(d):
    """{object hash hex: repository path} over the whole tree of tag TAG, read
    from a host mount (user.hash and user.chunk_list of every regular file)."""
    from cvmfsmount import Mount
    mnt = os.path.join(d.dir, 'mnt')
    cache = os.path.join(d.dir, 'host-cache')
    hm = {}
    with Mount(d.web.url + '/cvmfs/' + FQRN, mnt, FQRN, d.pub, cache, '--tag', TAG):
        for dp, dns, fs in os.walk(mnt):
            for f in fs:
                p = os.path.join(dp, f)
                try:
                    st = os.lstat(p)
                    if not (st.st_mode & 0o170000 == 0o100000) or st.st_size == 0:
                        continue
                    rel = '/' + os.path.relpath(p, mnt)
                    try:
                        h = os.getxattr(p, 'user.hash', follow_symlinks=False).decode()
                        hm.setdefault(h.split('-')[0], rel)
                    except OSError:
                        pass
                    try:
                        cl = os.getxattr(p, 'user.chunk_list', follow_symlinks=False).decode()
                        for l in cl.splitlines()[1:]:
                            hm.setdefault(l.split(',')[0].split('-')[0], rel)
                    except OSError:
                        pass
                except OSError:
                    pass
    return hm


def record_profile(d, access_lines):
    """Writes the boot profile (paths of the objects the first boot fetched, in
    fetch order) into the tree; returns (paths, objects seen, objects unmapped)."""
    hm = hash_map(d)
    seen, paths, unmapped = set(), [], 0
    for l in access_lines:
        k = object_key(l.split()[1] if len(l.split()) > 1 else l)
        if not k or k in seen:
            continue
        seen.add(k)
        p = hm.get(k)
        if p is None:
            unmapped += 1	# catalogs, manifest objects: loaded by the mount anyway
        elif p not in paths:
            paths.append(p)
    with open(os.path.join(d.rootfs, PROFILE), 'w') as f:
        f.write('# cvmboot boot profile: files read by the first boot of tag %s, in order\n'
                % TAG)
        f.write(''.join(p + '\n' for p in paths))
    return paths, len(seen), unmapped


def drain(s):
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass


def poweroff(vm, timeout=90):
    """Logs in as root on the serial console (the login prompt is showing) and
    runs poweroff (minbase has no dbus, so no logind to act on an ACPI power
    button); waits for QEMU to exit, kills it after timeout. Returns True on a
    clean power-off."""
    sock = getattr(vm, 'serial_sock', None)
    if sock and os.path.exists(sock):
        import socket
        try:
            import threading
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            # QEMU now also writes the console to us: drain it, or the guest's
            # serial output stalls (the log file has it all).
            threading.Thread(target=drain, args=(s,), daemon=True).start()
            for text, wait in (('root\r', 'Password:'), (PASSWORD + '\r', '# '),
                               ('poweroff\r', None)):
                n0 = len(vm.console())
                s.sendall(text.encode())
                end = time.monotonic() + 30
                while wait and wait not in vm.console()[n0:] and time.monotonic() < end:
                    time.sleep(0.1)
            took = vm.wait_exit(timeout)
            s.close()
            if took is not None:
                return True
        except OSError:
            pass
    vm.kill()
    return False


def serial_socket(vm, path):
    """The serial console on a socket too (to type into), still logged to the file."""
    if os.path.exists(path):
        os.unlink(path)
    i = vm.argv.index('-serial')
    vm.argv[i:i + 2] = ['-chardev', 'socket,id=ser0,path=%s,server=on,wait=off,logfile=%s'
                        % (path, vm.log), '-serial', 'chardev:ser0']
    vm.serial_sock = path


def ensure_repo(d, show=True):
    """Tree, repository (all three tags), nginx running. Returns the tag to boot:
    TAG, then TAG_PROFILED (+ the boot profile recorded by booting TAG), then
    TAG_BUNDLED (+ the recorded objects in bundles: cvmboot bundle)."""
    d.tree()
    tags = d.tags()
    if TAG not in tags:
        for f in (PROFILE, BUNDLES):
            if os.path.exists(os.path.join(d.rootfs, f)):
                os.unlink(os.path.join(d.rootfs, f))
        d.publish(TAG)
    d.serve()
    objs = os.path.join(d.dir, OBJECTS)
    if TAG_PROFILED not in d.tags() or (TAG_BUNDLED not in d.tags() and not os.path.exists(objs)):
        log('first boot of tag %s, recording the boot profile' % TAG)
        disk = d.new_disk('scratch-record.img')
        n0 = len(d.web.access_log())
        vm = d.vm(TAG, disk, os.path.join(d.dir, 'record.log'))
        serial_socket(vm, os.path.join(d.dir, 'serial-record.sock'))
        with vm:
            res = watch(vm, d.web, show=show)
            lines = d.web.access_log()[n0:]
            poweroff(vm)
        if res['login_s'] is None:
            sys.exit('demo: the recording boot never reached the login prompt; console in %s'
                     % os.path.join(d.dir, 'record.log'))
        with open(objs + '.tmp', 'w') as f:
            f.write(''.join(l.split()[1] + '\n' for l in lines if '/data/' in l))
        os.rename(objs + '.tmp', objs)
        if TAG_PROFILED not in d.tags():
            paths, nobj, unmapped = record_profile(d, lines)
            log('boot profile: %d paths from %d objects fetched (%d unmapped: catalogs)'
                % (len(paths), nobj, unmapped))
            d.publish(TAG_PROFILED)
    if TAG_BUNDLED not in d.tags():
        r = run([d.tool, 'bundle', '--repo', d.repo, '--objects', objs, '--out',
                 os.path.join(d.rootfs, BUNDLES)])
        log(r.stdout.strip())
        d.publish(TAG_BUNDLED)
    return TAG_BUNDLED


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default='build')
    ap.add_argument('--dir', default=None, help='work directory (default BUILD/demo)')
    ap.add_argument('--interactive', action='store_true',
                    help='leave the VM running on this terminal (log in as root, password %s;'
                    ' Ctrl-A X quits QEMU)' % PASSWORD)
    a = ap.parse_args()
    d = Demo(a.build, a.dir or os.path.join(a.build, 'demo'))
    for p in ('initrd.img', 'cvmboot'):
        if not os.path.exists(os.path.join(d.build, p)):
            sys.exit('demo: %s/%s missing: run make first' % (d.build, p))
    try:
        tag = ensure_repo(d)
        disk = d.new_disk('scratch.img')
        log('booting tag %s: QEMU (TCG), restricted user network, blank 4 GiB scratch disk'
            % tag)
        vm = d.vm(tag, disk, os.path.join(d.dir, 'console.log'))
        if a.interactive:
            i = vm.argv.index('-serial')
            vm.argv[i + 1] = 'mon:stdio'
            log('INTERACTIVE: log in as root, password "%s"; poweroff ends the VM, '
                'Ctrl-A X kills it' % PASSWORD)
            subprocess.call(vm.argv)
            return 0
        serial_socket(vm, os.path.join(d.dir, 'serial.sock'))
        n0 = len(d.web.access_log())
        with vm:
            res = watch(vm, d.web)
            clean = poweroff(vm) if res['login_s'] is not None else (vm.kill() or False)
        if res['login_s'] is None:
            sys.exit('demo: no login prompt within %d s; console in %s'
                     % (BOOT_TIMEOUT, os.path.join(d.dir, 'console.log')))
        print()
        for l in res['console'].splitlines():
            if 'cvmboot: timing:' in l:
                print(l.strip())
        log('Debian reached its init after %.1f s and the login prompt after %.1f s '
            '(QEMU/TCG, from QEMU start); %d HTTP requests' %
            (res['init_s'], res['login_s'], res['reqs_login'] - n0))
        for l in res['console'].replace('\r', '').splitlines():
            if l.startswith('cvmboot-demo:') or 'prefetch' in l or 'bundles:' in l:
                print(l.strip())
        log('powered off %s' % ('cleanly (logged in as root on ttyS0, ran poweroff)' if clean
                                else '(killed: no clean power-off within 90 s)'))
    finally:
        d.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
