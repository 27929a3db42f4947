# SPDX-License-Identifier: MIT
"""Start QEMU (TCG) for VM tests and judge its serial console.

Network rule (DESIGN.md 9): QEMU user networking always has restrict=on and
reaches host services only through per-connection guestfwd rules to
127.0.0.1; with no network asked for, the VM gets `-nic none` (QEMU would
otherwise add an unrestricted user network)."""
import lzma
import os
import subprocess
import time


def _build(build):
    return build or os.environ.get('CVMBOOT_BUILD') or os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'build')


def _kernel_file(build, name):
    """Pairs (kernel, module archive or None) from BUILD/NAME, which
    boot/image.mk writes: vm-kernel (boots build/initrd.img), image-kernel
    (`make image`'s) and debian-kernel (Debian's cloud, then generic pair)."""
    p = os.path.join(_build(build), name)
    assert os.path.exists(p), 'no %s: run make' % p
    with open(p) as f:
        w = f.read().split()
    pairs = [(w[i], None if w[i + 1] == '-' else w[i + 1]) for i in range(0, len(w), 2)]
    for k, m in pairs:
        assert os.path.exists(k), 'no kernel %s: run make (own kernel) or make deps' % k
    return pairs


def vm_kernel(build=None):
    """The kernel that boots build/initrd.img and its module archive (None for
    the own kernel, whose drivers are built in; build/initrd.img then holds
    only the core archive)."""
    return _kernel_file(build, 'vm-kernel')[0]


def kernel_path(build=None):
    return vm_kernel(build)[0]


def image_kernel(build=None):
    """The kernel and module archive `make image` uses (None: own kernel)."""
    k, m = _kernel_file(build, 'image-kernel')[0]
    assert m is None or os.path.exists(m), 'no %s: run make check' % m
    return k, m


def debian_kernel(build=None, which='vm'):
    """Debian's pinned kernel and its module archive, which the suite boots
    once besides the own kernel: which='vm' the cloud flavour (KVER),
    'image' the generic one (IMAGE_KVER). make check builds the archives."""
    k, m = _kernel_file(build, 'debian-kernel')[0 if which == 'vm' else 1]
    assert os.path.exists(m), 'no %s: run make check' % m
    return k, m


def initrd_args(mods):
    """mkimage --initrd arguments for an optional module archive."""
    return ['--initrd', mods] if mods else []


def kernel_release(build=None, kernel=None):
    """The release (uname -r) of a bzImage, read from its setup header: the
    version string that header's kernel_version field points at."""
    kernel = kernel or kernel_path(build)
    with open(kernel, 'rb') as f:
        img = f.read(1 << 16)
    off = int.from_bytes(img[0x20e:0x210], 'little') + 0x200
    return img[off:img.index(b'\0', off)].decode().split()[0]


def kernel_config(kernel):
    """The .config a kernel was built with: beside the own kernel in its cache
    directory, /boot/config-<release> for a Debian kernel."""
    own = os.path.join(os.path.dirname(kernel), 'config')
    if os.path.basename(kernel) == 'vmlinuz' and os.path.exists(own):
        return own
    return '/boot/config-' + kernel_release(kernel=kernel)


def module_files(kver, names):
    """The module files that load names on kernel kver, dependencies first
    (modprobe --show-depends); built-in ones are left out."""
    out = []
    for m in names:
        r = subprocess.run(['modprobe', '--show-depends', '-S', kver, m], capture_output=True,
                           text=True)
        assert r.returncode == 0, 'module %s of %s: %s' % (m, kver, r.stderr)
        for l in r.stdout.splitlines():
            f = l.split()
            if f and f[0] == 'insmod' and f[1] not in out:
                out.append(f[1])
    return out


def copy_module(src, dst):
    """Copies a module file, decompressing a .ko.xz (6.12's packaging): PID 1
    and busybox insmod load plain ELF."""
    with (lzma.open(src) if src.endswith('.xz') else open(src, 'rb')) as i, \
            open(dst, 'wb') as o:
        o.write(i.read())


def user_net(forwards=(), net=None, host=None, dhcpstart=None, model='virtio-net-pci'):
    """-netdev/-device args for a restricted user network.

    forwards: (guest_ip, guest_port, host_port) triples, each becoming a
    per-connection `cmd:socat` guestfwd to 127.0.0.1:host_port."""
    opts = ['user', 'id=n0', 'restrict=on']
    if net:
        opts.append('net=' + net)
    if host:
        opts.append('host=' + host)
    if dhcpstart:
        opts.append('dhcpstart=' + dhcpstart)
    for gip, gport, hport in forwards:
        opts.append('guestfwd=tcp:%s:%d-cmd:socat -t0 STDIO TCP:127.0.0.1:%d'
                    % (gip, gport, hport))
    netdev = ','.join(opts)
    assert 'restrict=on' in netdev
    return ['-netdev', netdev, '-device', '%s,netdev=n0' % model]


def disk_args(path, bus='virtio', idx=0, fmt='raw'):
    """Args attaching an image file as a disk: virtio (virtio-blk-pci), ahci or nvme."""
    drive = ['-drive', 'file=%s,if=none,id=d%d,format=%s' % (path, idx, fmt)]
    if bus == 'virtio':
        return drive + ['-device', 'virtio-blk-pci,drive=d%d' % idx]
    if bus == 'ahci':
        return drive + ['-device', 'ahci,id=ahci%d' % idx,
                        '-device', 'ide-hd,drive=d%d,bus=ahci%d.0' % (idx, idx)]
    if bus == 'nvme':
        return drive + ['-device', 'nvme,drive=d%d,serial=cvmboot%d' % (idx, idx)]
    raise ValueError(bus)


class VM:
    """One QEMU process; the serial console goes to a log file. The default
    machine is microvm with PCIe (virtio-pci devices, as on real clouds)."""

    def __init__(self, initrd, append='', kernel=None, machine='microvm,pcie=on', mem=512,
                 net_args=None, extra=(), log=None, media=None):
        """media: boot from these drive args (an image) instead of -kernel/-initrd."""
        self.log = log
        cmdline = 'console=ttyS0 panic=-1 ' + append
        if machine.startswith('microvm'):
            # microvm hangs calibrating the TSC under TCG without this.
            cmdline = 'tsc_early_khz=2000000 ' + cmdline
        self.argv = ['qemu-system-x86_64', '-M', machine, '-accel', 'tcg', '-m', str(mem),
                     '-nographic', '-no-reboot', '-serial', 'file:' + log, '-monitor', 'none']
        if media:
            self.argv += list(media)
        else:
            self.argv += ['-kernel', kernel or kernel_path(), '-initrd', initrd,
                          '-append', cmdline.strip()]
        self.argv += net_args if net_args else ['-nic', 'none']
        self.argv += list(extra)
        self.proc = None
        self.t0 = None

    def start(self):
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def console(self):
        try:
            with open(self.log, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def wait_exit(self, timeout):
        """Waits for QEMU to exit (guest power-off); returns seconds taken,
        or None after timeout (the VM is then killed)."""
        try:
            self.proc.wait(timeout=timeout)
            return time.monotonic() - self.t0
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def wait_for(self, text, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.console():
                return time.monotonic() - self.t0
            if self.proc.poll() is not None:
                return time.monotonic() - self.t0 if text in self.console() else None
            time.sleep(0.1)
        return None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
