# SPDX-License-Identifier: MIT
"""VM layer, issue 17 (μCernVM parity): the boot log on every console, extra
context from other partitions, Azure's ovf-env.xml and ready report, and
every disk format booting to the test OS."""
import contextlib
import os
import re
import subprocess

import pytest

import qemu
import testos
from bootenv import BootEnv
from conftest import BUILD

BOOT_S = 240
# boot/image.mk's IMAGE_CMDLINE: tty0 last, so /dev/console is the VGA screen.
IMAGE_CMDLINE = 'console=ttyS0 console=tty0 quiet'


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    e = BootEnv(BUILD, tmp_path_factory.mktemp('parity'))
    e.keygen()
    e.publish('v1', version='1', usr_text='usr-v1')
    e.serve()
    yield e
    e.stop()


def blank(tmp, name, size=1 << 30):
    p = str(tmp / name)
    with open(p, 'wb') as f:
        f.truncate(size)
    return p


# no_timer_check: on this loaded 2-core host, TCG's -M pc sometimes fails the
# kernel's IO-APIC timer check ("IO-APIC + timer doesn't work") and panics.
def mkimage(env, out, kind, cmdline=IMAGE_CMDLINE + ' panic=-1 no_timer_check'):
    """The image as `make image` builds it (generic kernel, core initramfs, its
    modules, a config archive naming the test repository)."""
    kernel, mods = qemu.image_kernel(BUILD)
    env.initrd()
    subprocess.run([os.path.join(BUILD, 'cvmboot'), 'mkimage', '--kernel', kernel,
                    '--initrd', os.path.join(BUILD, 'initramfs.cpio.xz'), *qemu.initrd_args(mods),
                    '--initrd', env.config_cpio, '--cmdline', cmdline, '--' + kind, out],
                   check=True, capture_output=True)
    return out


def boot_media(env, tmp, name, media, extra=(), net_args=None, timeout=BOOT_S):
    log = str(tmp / (name + '.log'))
    with qemu.VM(None, log=log, machine='pc', media=media,
                 net_args=net_args or env.net_args(),
                 extra=list(extra) + qemu.disk_args(blank(tmp, name + '-scratch.img'),
                                                    idx=5)) as vm:
        took = vm.wait_exit(timeout)
    con = open(log, errors='replace').read()
    assert took is not None, '%s: no power-off within %d s:\n%s' % (name, timeout, con[-3000:])
    return con, took


def test_serial_console_shows_the_boot(env, tmp_path):
    """The default image's command line ends in console=tty0, so /dev/console
    is the VGA screen; PID 1's stages and its timing table must still reach
    the serial console (ttyS0: EC2/GCE/Azure/OpenStack console logs)."""
    iso = mkimage(env, str(tmp_path / 'default.iso'), 'iso')
    media = ['-drive', 'file=%s,if=none,id=boot,format=raw,readonly=on' % iso,
             '-device', 'ide-cd,drive=boot,bootindex=0']
    con, took = boot_media(env, tmp_path, 'serial', media)
    # The premise: the OS's own output (its stdout is /dev/console) is not here.
    assert 'TESTOS:' not in con, 'tty0 is not /dev/console:\n' + con[-3000:]
    assert re.search(r'cvmboot: banner: cvmboot \S+ build-id', con), con[-3000:]
    assert re.search(r'cvmboot: timing: total +\d+ ms', con), con[-3000:]
    assert re.search(r'cvmboot: hand-over: exec /sbin/init', con), con[-3000:]
    assert 'reboot: Power down' in con, con[-3000:]	# the test OS ran and powered off
    # cvmfs-lite's log goes where PID 1's goes, not to /dev/console alone
    assert re.search(r'cvmfs-lite: test\.cvmboot: root catalog', con), con[-3000:]
    # No user-data source here, so vSphere was asked too: off VMware the
    # backdoor port is left alone (no fault, no wait).
    assert re.search(r"vsphere: not VMware \(hypervisor '[^']*'", con), con[-3000:]
    print('default ISO, serial console: power-off after %.1f s' % took)


def sha256(path):
    return subprocess.run(['sha256sum', path], capture_output=True, text=True,
                          check=True).stdout.split()[0]


def test_extra_context_from_other_partitions(env, tmp_path):
    """First boot: user-data from a config drive asks for tag v2; an ext4
    disk holding /cernvm/extra-user-data (tag v1) overrides it, and its
    /cernvm/pickup.tar.gz lands in the root. The disk is not written to."""
    env.publish('v2', version='2', usr_text='usr-v2')
    cd = tmp_path / 'cd'
    (cd / 'openstack' / 'latest').mkdir(parents=True)
    (cd / 'openstack' / 'latest' / 'user_data').write_text(
        '[ucernvm-begin]\ncvmfs_tag=v2\n[ucernvm-end]\n')
    iso = str(tmp_path / 'config.iso')
    subprocess.run(['xorriso', '-as', 'mkisofs', '-quiet', '-V', 'config-2', '-J', '-R',
                    '-o', iso, str(cd)], check=True, capture_output=True)
    tree = tmp_path / 'extra'
    pick = tmp_path / 'pick'
    (tree / 'cernvm').mkdir(parents=True)
    (pick / 'etc').mkdir(parents=True)
    (pick / 'etc' / 'testos-local').write_text('picked-up\n')
    (tree / 'cernvm' / 'extra-user-data').write_text(
        '[ucernvm-begin]\ncvmfs_tag=v1\n[ucernvm-end]\n')
    subprocess.run(['tar', '-C', str(pick), '--owner=0', '--group=0', '-czf',
                    str(tree / 'cernvm' / 'pickup.tar.gz'), 'etc'], check=True)
    ext = str(tmp_path / 'extra.img')
    subprocess.run(['mkfs.ext4', '-q', '-F', '-d', str(tree), ext, '32M'], check=True,
                   capture_output=True)
    before = sha256(ext)
    log = str(tmp_path / 'extra.log')
    extra = (qemu.disk_args(blank(tmp_path, 'scratch.img')) + qemu.disk_args(iso, idx=1) +
             qemu.disk_args(ext, idx=2))
    with qemu.VM(env.initrd(), log=log, net_args=env.net_args(), extra=extra) as vm:
        took = vm.wait_exit(BOOT_S)
        con = vm.console()
    assert took is not None, 'no power-off within %d s:\n%s' % (BOOT_S, con[-3000:])
    assert 'user-data from config-drive' in con, con[-3000:]
    assert re.search(r'extra: /dev/vdc: cernvm/extra-user-data: 1 keys applied', con), \
        con[-3000:]
    assert re.search(r'cvmfs: mounted \S+ revision \d+ tag v1', con), con[-3000:]
    assert 'TESTOS: init pid 1 version 1' in con, con[-3000:]
    assert 'extra: pickup.tar.gz: members 2' in con, con[-3000:]
    assert 'etc-local=picked-up' in con, con[-3000:]
    assert sha256(ext) == before, 'the extra-context disk was written to'
    print('extra context: power-off after %.1f s' % took)


OVF_ENV = '''<?xml version="1.0" encoding="utf-8"?>
<ns0:Environment xmlns:ns0="http://schemas.dmtf.org/ovf/environment/1"
 xmlns:ns1="http://schemas.microsoft.com/windowsazure"
 xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
 <ns1:ProvisioningSection>
  <ns1:Version>1.0</ns1:Version>
  <ns1:LinuxProvisioningConfigurationSet>
   <ns1:ConfigurationSetType>LinuxProvisioningConfiguration</ns1:ConfigurationSetType>
   <ns1:HostName>cvmboot-az</ns1:HostName>
   <ns1:UserName>azureuser</ns1:UserName>
   <ns1:DisableSshPasswordAuthentication>true</ns1:DisableSshPasswordAuthentication>
   <ns1:CustomData>%s</ns1:CustomData>
  </ns1:LinuxProvisioningConfigurationSet>
 </ns1:ProvisioningSection>
</ns0:Environment>
'''


def azure_boot(env, tmp_path, cd):
    """Boots with the provisioning CD image cd and a local fabric endpoint;
    checks user-data from ovf-env.xml and the Ready report. Returns the
    console and seconds to power-off."""
    from metadata import MetadataServer
    with MetadataServer(tmp_path, 'azure') as fabric:
        net = env.net_args(forwards=[('168.63.129.16', 80, fabric.port),
                                     ('168.63.129.100', 80, env.web.port)],
                           net='168.63.129.0/24', host='168.63.129.2',
                           dhcpstart='168.63.129.15')
        log = str(tmp_path / 'azure.log')
        extra = qemu.disk_args(blank(tmp_path, 'az.img')) + qemu.disk_args(cd, idx=1)
        with qemu.VM(env.initrd(), log=log, net_args=net, extra=extra,
                     append='cvmfs_url=http://168.63.129.100/cvmfs/@fqrn@') as vm:
            took = vm.wait_exit(BOOT_S)
            con = vm.console()
        reqs = fabric.requests()
    assert took is not None, 'no power-off within %d s:\n%s' % (BOOT_S, con[-3000:])
    assert 'user-data from azure (ovf-env.xml, %d bytes)' % len(AZURE_UD) in con, con[-3000:]
    assert re.search(r'cvmfs: mounted \S+ revision \d+ tag v1', con), con[-3000:]
    assert 'azure: reported Ready to 168.63.129.16' in con, con[-3000:]
    gets = [r for r in reqs if r['method'] == 'GET']
    posts = [r for r in reqs if r['method'] == 'POST']
    assert gets and gets[0]['path'] == '/machine/?comp=goalstate', reqs
    assert gets[0]['headers'].get('x-ms-version') == '2012-11-30', reqs
    assert len(posts) == 1 and posts[0]['path'] == '/machine/?comp=health', reqs
    body = posts[0]['body']
    assert '<GoalStateIncarnation>1</GoalStateIncarnation>' in body, body
    assert '<ContainerId>7b2d4a8e-0000-4000-8000-cvmbootaz01</ContainerId>' in body, body
    assert '<InstanceId>7b2d4a8e-0000-4000-8000-cvmbootaz02.vm0</InstanceId>' in body, body
    assert '<State>Ready</State>' in body, body
    assert 'TESTOS: done' in con, con[-3000:]
    return con, took


AZURE_UD = b'[ucernvm-begin]\ncvmfs_tag=v1\n[ucernvm-end]\n'


def ovf_env_xml():
    import base64
    return OVF_ENV % base64.b64encode(AZURE_UD).decode()


def test_azure_ovf_env_and_ready_report(env, tmp_path):
    """Azure: user-data is the CustomData of ovf-env.xml on the provisioning
    CD (iso9660 here); the VM then reports Ready to the fabric endpoint
    (168.63.129.16, a local server here reached through a guestfwd): GET the
    goal state, POST the health report with its incarnation, container and
    instance ids."""
    cd = tmp_path / 'azcd'
    cd.mkdir()
    (cd / 'ovf-env.xml').write_text(ovf_env_xml())
    iso = str(tmp_path / 'azure.iso')
    subprocess.run(['xorriso', '-as', 'mkisofs', '-quiet', '-V', 'rd_rdfe_stable', '-R',
                    '-o', iso, str(cd)], check=True, capture_output=True)
    con, took = azure_boot(env, tmp_path, iso)
    assert re.search(r'looking at /dev/vd\w+ \(iso9660\)', con), con[-3000:]
    print('azure: power-off after %.1f s' % took)


UDF_INIT = '''#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /dev /mnt
$B mount -t devtmpfs dev /dev
for m in $($B ls /mods 2>/dev/null); do $B insmod /mods/$m; done
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; $B sleep 1; done
$B mount -t udf /dev/vda /mnt && $B cp /files/* /mnt/ && $B umount /mnt && echo UDF-WRITTEN
$B poweroff -f
'''


def udf_cd(tmp_path, files, label):
    """A UDF image as Azure's provisioning CD is (mkudffs of Debian's
    udftools, 2048-byte blocks) holding files ({name: text}). mkudffs makes
    it empty and this host may have no udf module, so a helper VM (the test
    kernel, busybox, its virtio_blk and udf modules unless built in) copies
    the files in."""
    img = str(tmp_path / 'udf.img')
    with open(img, 'wb') as f:
        f.truncate(4 << 20)
    subprocess.run(['mkudffs', '--media-type=hd', '--blocksize=2048', '--label=' + label, img],
                   check=True, capture_output=True)
    work = tmp_path / 'udf-helper'
    (work / 'files').mkdir(parents=True)
    args = ['--init', str(work / 'init')]
    (work / 'init').write_text(UDF_INIT)
    kver = qemu.kernel_release()
    r = subprocess.run(['modprobe', '--show-depends', '-S', kver, 'udf'], capture_output=True,
                       text=True)
    # no module index for the kernel: everything built in
    mods = qemu.module_files(kver, ['virtio_blk', 'udf']) if r.returncode == 0 else []
    for n, m in enumerate(mods):
        dst = str(work / ('%02d.ko' % n))
        qemu.copy_module(m, dst)
        args += ['--file', '%s:mods/%02d.ko' % (dst, n)]
    for name, text in files.items():
        (work / 'files' / name).write_text(text)
        args += ['--file', '%s:files/%s' % (work / 'files' / name, name)]
    cpio = str(work / 'helper.cpio')
    subprocess.run([os.path.join(BUILD, 'cvmboot'), 'mkinitramfs'] + args +
                   ['--file', '/bin/busybox:bin/busybox:0755', '-o', cpio], check=True)
    log = str(tmp_path / 'udf-helper.log')
    with qemu.VM(cpio, log=log, extra=qemu.disk_args(img)) as vm:
        took = vm.wait_exit(120)
        con = vm.console()
    assert took is not None and 'UDF-WRITTEN' in con, con[-3000:]
    return img


def test_azure_ovf_env_on_udf(env, tmp_path):
    """Azure's provisioning CD is UDF on most images: the same boot with
    ovf-env.xml on a UDF image (no iso9660 at all) is read and reported."""
    img = udf_cd(tmp_path, {'ovf-env.xml': ovf_env_xml()}, 'rd_rdfe_stable')
    with open(img, 'rb') as f:
        head = f.read(64 << 10)
    assert b'NSR0' in head and b'CD001' not in head, 'not a UDF-only image'
    con, took = azure_boot(env, tmp_path, img)
    assert re.search(r'looking at /dev/vd\w+ \(udf\)', con), con[-3000:]
    print('azure, UDF CD: power-off after %.1f s' % took)


@pytest.fixture(scope='module')
def hdd(env, tmp_path_factory):
    """The raw disk as `make image` builds it, but with the serial console
    last so that the test OS's own lines reach the log too."""
    d = tmp_path_factory.mktemp('hdd')
    return mkimage(env, str(d / 'cvmboot.hdd'), 'hdd',
                   cmdline='console=tty0 console=ttyS0 quiet panic=-1 no_timer_check')


@pytest.mark.parametrize('fmt', ['qcow2', 'vmdk', 'vdi', 'vhd', 'vhdx', 'ova', 'gce'])
def test_disk_format_boots(env, hdd, tmp_path, fmt):
    """Each format made by boot/mkformat.py boots under QEMU (-M pc, SeaBIOS,
    the disk read-only) to the test OS: the OVA's boot disk from inside the
    archive, GCE's disk.raw from inside the tar.gz."""
    import tarfile
    name = 'cvmboot-gce.tar.gz' if fmt == 'gce' else 'cvmboot.' + fmt
    out = str(tmp_path / name)
    r = subprocess.run(['/usr/bin/python3', os.path.join(os.path.dirname(BUILD), 'boot',
                                                         'mkformat.py'), fmt, hdd, out],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    qfmt = {'qcow2': 'qcow2', 'vmdk': 'vmdk', 'vdi': 'vdi', 'vhd': 'vpc', 'vhdx': 'vhdx'}
    if fmt in qfmt:
        disk, q = out, qfmt[fmt]
    else:
        with tarfile.open(out) as t:
            member = 'disk.raw' if fmt == 'gce' else 'cvmboot-disk1.vmdk'
            t.extract(member, str(tmp_path))
        disk, q = str(tmp_path / member), 'raw' if fmt == 'gce' else 'vmdk'
    media = ['-drive', 'file=%s,if=none,id=boot,format=%s,readonly=on' % (disk, q),
             '-device', 'virtio-blk-pci,drive=boot,bootindex=0']
    con, took = boot_media(env, tmp_path, fmt, media)
    assert 'TESTOS: overlay-over-fuse ok' in con and 'TESTOS: done' in con, con[-3000:]
    print('%s (%d bytes): power-off after %.1f s' % (fmt, os.path.getsize(out), took))


@contextlib.contextmanager
def part1_loop(disk, readonly=False):
    """A loop device on partition 1 of disk (the scratch file system PID 1
    made)."""
    import json
    table = json.loads(subprocess.run(['sfdisk', '-J', disk], capture_output=True, text=True,
                                      check=True).stdout)['partitiontable']
    p1 = table['partitions'][0]
    sector = table.get('sectorsize', 512)
    loop = subprocess.run(['losetup', '--find', '--show'] + (['--read-only'] if readonly else []) +
                          ['-o', str(p1['start'] * sector), '--sizelimit',
                           str(p1['size'] * sector), disk],
                          capture_output=True, text=True, check=True).stdout.strip()
    try:
        yield loop
    finally:
        subprocess.run(['losetup', '-d', loop], check=True)


def scratch_put(disk, files):
    """Copies files ({relpath: source}) onto the scratch file system of disk
    through a loop device."""
    mnt = disk + '.mnt'
    os.makedirs(mnt, exist_ok=True)
    with part1_loop(disk) as loop:
        subprocess.run(['mount', '-t', 'ext4', loop, mnt], check=True)
        try:
            for rel, src in files.items():
                subprocess.run(['cp', src, os.path.join(mnt, rel)], check=True)
        finally:
            subprocess.run(['umount', mnt], check=True)


def test_kexec_update(env, tmp_path):
    """Boot-loader update: boot version N, put a payload of a newer version
    (`cvmboot mkupdate`: here the generic kernel with its module archive) in
    kexec/ on the scratch disk, reboot: PID 1 checks its hashes, unmounts the
    scratch disk and kexecs; the new kernel boots on the same scratch disk
    and does not loop. A corrupt payload is refused and the boot goes on."""
    disk = blank(tmp_path, 'kexec.img')
    initrd = env.initrd()
    version = open(os.path.join(os.path.dirname(BUILD), 'VERSION')).read().strip()

    def boot(name):
        log = str(tmp_path / (name + '.log'))
        with qemu.VM(initrd, log=log, net_args=env.net_args(),
                     extra=qemu.disk_args(disk)) as vm:
            took = vm.wait_exit(BOOT_S)
            con = vm.console()
        assert took is not None, '%s: no power-off within %d s:\n%s' % (name, BOOT_S,
                                                                         con[-3000:])
        return con, took

    con1, t1 = boot('kexec1')
    assert 'TESTOS: boot 1' in con1, con1[-3000:]
    kernel, mods = qemu.image_kernel(BUILD)
    payload = tmp_path / 'payload'
    r = subprocess.run([os.path.join(BUILD, 'cvmboot'), 'mkupdate', '--kernel', kernel,
                        '--initrd', os.path.join(BUILD, 'initramfs.cpio.xz'), *qemu.initrd_args(mods),
                        '--initrd', env.config_cpio, '--version', version + '.1',
                        '-o', str(payload)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    files = {'kexec/' + f: str(payload / f) for f in os.listdir(str(payload))}
    scratch_put(disk, files)
    con2, t2 = boot('kexec2')
    assert 'kexec: boot loader %s -> %s.1: unmounting the scratch disk' % (version, version) \
        in con2, con2[-3000:]
    after = con2.split('kexec: boot loader', 1)[1]
    assert 'Linux version %s ' % qemu.kernel_release(kernel=kernel) in after, after[:3000]
    assert 'cvmboot: banner: cvmboot %s' % version in after, after[-3000:]
    assert 'booted from payload %s.1, which runs boot loader %s: not applied again' % (
        version, version) in after, after[-3000:]
    assert 'TESTOS: boot 2' in after, after[-3000:]	# the same scratch disk
    # a corrupt payload (one byte of the initrd changed) is refused
    ini = [f for f in os.listdir(str(payload)) if f.startswith('initrd-')][0]
    with open(str(payload / ini), 'r+b') as f:
        f.seek(1000)
        b = f.read(1)
        f.seek(1000)
        f.write(bytes([b[0] ^ 0xff]))
    scratch_put(disk, {'kexec/' + ini: str(payload / ini)})
    con3, t3 = boot('kexec3')
    assert re.search(r'kexec: initrd %s: SHA-256 [0-9a-f]{64} does not match apply' % ini,
                     con3), con3[-3000:]
    assert 'corrupt payload refused' in con3 and 'TESTOS: boot 3' in con3, con3[-3000:]
    assert 'Linux version' not in con3.split('corrupt payload refused', 1)[1]
    print('kexec: boot 1 %.1f s, boot 2 with the update %.1f s, boot 3 (refused) %.1f s'
          % (t1, t2, t3))


def fs_state(disk):
    """dumpe2fs -h of the scratch file system of disk."""
    with part1_loop(disk, readonly=True) as loop:
        return subprocess.run(['dumpe2fs', '-h', loop], capture_output=True, text=True,
                              check=True).stdout


def test_shutdown_kexec(env, tmp_path):
    """systemctl kexec: the OS loads a kernel and returns to the initramfs
    with `/run/initramfs/shutdown kexec`; PID 1 leaves the scratch disk clean
    and boots the loaded kernel, which boots on the same scratch disk. With
    no kernel loaded it says so in one line and reboots (QEMU exits)."""
    initrd = env.initrd(tag='kx', name='initrd-kx.img')
    env.publish('kx', version='1', files={
        'boot/vmlinuz': qemu.kernel_path(), 'boot/initrd.img': initrd,
        'bin/kexec-load': testos.kexec_loader(tmp_path)})
    disk = blank(tmp_path, 'kx.img')
    log = str(tmp_path / 'kx1.log')
    with qemu.VM(initrd, log=log, net_args=env.net_args(), append='testos.kexec',
                 extra=qemu.disk_args(disk)) as vm:
        t_kexec = vm.wait_for('kexec: scratch disk left clean', BOOT_S)
        t_up = vm.wait_for('TESTOS: boot 2', BOOT_S) if t_kexec else None
        took = vm.wait_exit(BOOT_S)
        con = vm.console()
    assert took is not None and t_up is not None, con[-3000:]
    assert 'TESTOS: kexec loaded' in con, con[-3000:]
    before, after = con.split('kexec: scratch disk left clean', 1)
    assert re.search(r'shutdown: /oldroot/mnt/\.rw read-only', before), before[-3000:]
    assert 'Linux version' in after and 'cvmboot: banner:' in after, after[:3000]
    assert 'TESTOS: boot 2' in after and 'TESTOS: done' in after, after[-3000:]
    # no kernel loaded: one line, then a normal reboot (-no-reboot: QEMU exits)
    log = str(tmp_path / 'kx2.log')
    with qemu.VM(initrd, log=log, net_args=env.net_args(), append='testos.kexec-none',
                 extra=qemu.disk_args(blank(tmp_path, 'kx2.img'))) as vm:
        took2 = vm.wait_exit(BOOT_S)
        con2 = vm.console()
    assert took2 is not None, con2[-3000:]
    assert 'shutdown: kexec: no kernel loaded (systemctl kexec or kexec -l loads one); ' \
        'rebooting instead' in con2, con2[-3000:]
    assert 'TESTOS: done' not in con2 and con2.count('Linux version') == 1, con2[-3000:]
    st = fs_state(str(tmp_path / 'kx2.img'))
    assert re.search(r'Filesystem state:\s+clean', st) and 'needs_recovery' not in st, st
    print('shutdown kexec: shutdown to the next kernel\'s test OS %.1f s (boot 1 %.1f s); '
          'no kernel loaded: reboot after %.1f s' % (t_up - t_kexec, t_kexec, took2))


def test_repository_update(env, tmp_path):
    """The repository publishes a newer payload in /.cvmboot/update
    (`cvmboot mkupdate`): PID 1 copies it to kexec/ (verified), stops the
    daemon, unmounts the scratch disk and kexecs; the new kernel boots on the
    same disk and does not loop. A payload the kernel refuses (a corrupt
    kernel) is refused in one line and the boot goes on."""
    version = open(os.path.join(os.path.dirname(BUILD), 'VERSION')).read().strip()
    kernel, mods = qemu.image_kernel(BUILD)

    def payload(tag, ver, kern):
        initrd = env.initrd(tag=tag, name='initrd-%s.img' % tag)
        out = tmp_path / ('payload-' + tag)
        r = subprocess.run([os.path.join(BUILD, 'cvmboot'), 'mkupdate', '--kernel', kern,
                            '--initrd', os.path.join(BUILD, 'initramfs.cpio.xz'),
                            *qemu.initrd_args(mods), '--initrd', env.config_cpio,
                            '--version', ver,
                            '-o', str(out)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        env.publish(tag, version='1', files={'.cvmboot/update/' + f: str(out / f)
                                             for f in os.listdir(str(out))})
        return initrd

    def boot(name, initrd):
        log = str(tmp_path / (name + '.log'))
        with qemu.VM(initrd, log=log, net_args=env.net_args(),
                     extra=qemu.disk_args(blank(tmp_path, name + '.img'))) as vm:
            took = vm.wait_exit(BOOT_S)
            con = vm.console()
        assert took is not None, '%s: no power-off within %d s:\n%s' % (name, BOOT_S,
                                                                         con[-3000:])
        return con, took

    con, took = boot('upd', payload('upd', version + '.1', kernel))
    assert 'update: repository payload %s.1 verified and copied to kexec/' % version in con, \
        con[-3000:]
    assert 'kexec: boot loader %s -> %s.1: unmounting the scratch disk' % (version, version) \
        in con, con[-3000:]
    after = con.split('kexec: boot loader', 1)[1]
    assert 'Linux version %s ' % qemu.kernel_release(kernel=kernel) in after, after[:3000]
    assert 'booted from payload %s.1, which runs boot loader %s: not applied again' % (
        version, version) in after, after[-3000:]
    assert after.count('kexec: boot loader') == 0, after[-3000:]
    assert 'TESTOS: boot 1' in after and 'TESTOS: done' in after, after[-3000:]
    # a payload whose kernel is no kernel: its hashes match, kexec_file_load refuses it
    junk = tmp_path / 'junk-kernel'
    junk.write_bytes(b'not a kernel\n' * 4096)
    con2, took2 = boot('upd-bad', payload('upd-bad', version + '.2', str(junk)))
    assert re.search(r'kexec: loading vmlinuz-%s\.2 initrd-%s\.2\.img failed: .*; booting on'
                     % (re.escape(version), re.escape(version)), con2), con2[-3000:]
    assert con2.count('Linux version') == 1, con2[-3000:]
    assert 'TESTOS: boot 1' in con2 and 'TESTOS: done' in con2, con2[-3000:]
    print('repository update: boot with the update %.1f s; refused payload %.1f s'
          % (took, took2))
