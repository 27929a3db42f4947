# SPDX-License-Identifier: MIT
"""VM layer, issue 8: snapshot pinning and updates, contextualization
sources, image formats and the fatal path, each on a fresh blank disk."""
import os
import re
import subprocess

import pytest

import qemu
from bootenv import BootEnv
from conftest import BUILD
from metadata import MetadataServer

BOOT_S = 180


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    e = BootEnv(BUILD, tmp_path_factory.mktemp('boot'))
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


def run_vm(tmp, name, initrd, net_args, extra, append='', machine='microvm,pcie=on',
           kernel=None, timeout=BOOT_S):
    log = str(tmp / (name + '.log'))
    vm = qemu.VM(initrd, append=append, log=log, machine=machine, net_args=net_args,
                 extra=list(extra), kernel=kernel)
    with vm:
        took = vm.wait_exit(timeout)
        con = vm.console()
    assert took is not None, '%s: no power-off within %d s:\n%s' % (name, timeout, con[-4000:])
    return con, took


def mounted(con):
    m = re.search(r'cvmfs: mounted (\S+)', con)
    assert m, con[-3000:]
    return m.group(1)


def test_pin_update_and_rebase(env, tmp_path):
    """A pinned VM stays on its snapshot when a new tag is published; after
    an unpin it boots the new one, keeping a local /etc change and losing a
    local /usr change."""
    disk = blank(tmp_path, 'pin.img')
    initrd = env.initrd()
    dargs = qemu.disk_args(disk)
    con1, _ = run_vm(tmp_path, 'pin1', initrd, env.net_args(), dargs, append='testos.edit')
    assert 'TESTOS: init pid 1 version 1' in con1 and 'TESTOS: edited' in con1, con1[-3000:]
    env.publish('v2', version='2', usr_text='usr-v2')
    con2, _ = run_vm(tmp_path, 'pin2', initrd, env.net_args(), dargs, append='testos.unpin')
    assert 'version 1' in con2 and mounted(con2) == mounted(con1), con2[-3000:]
    assert 'etc-local=local-etc usr-file=local-usr' in con2
    assert 'TESTOS: unpinned' in con2
    con3, _ = run_vm(tmp_path, 'pin3', initrd, env.net_args(), dargs)
    assert 'TESTOS: init pid 1 version 2' in con3, con3[-3000:]
    assert mounted(con3) != mounted(con1)
    assert 'cvmboot: rebase: new snapshot' in con3, con3[-3000:]
    assert 'etc-local=local-etc usr-file=usr-v2' in con3, con3[-3000:]
    assert 'TESTOS: boot 3' in con3


def test_ec2_user_data_selects_tag(env, tmp_path):
    """User-data from an emulated EC2 metadata service (IMDSv2) picks the
    tag. slirp's network moves to 169.254.0.0/16 so that 169.254.169.254 and
    the repository (169.254.0.100) are both on-link guestfwd addresses."""
    ud = b'#cloud-config\n[ucernvm-begin]\ncvmfs_tag=v1\n[ucernvm-end]\n'
    with MetadataServer(tmp_path, 'ec2', user_data=ud) as md:
        net = env.net_args(forwards=[('169.254.169.254', 80, md.port),
                                     ('169.254.0.100', 80, env.web.port)],
                           net='169.254.0.0/16', host='169.254.0.2',
                           dhcpstart='169.254.0.15')
        con, _ = run_vm(tmp_path, 'ec2', env.initrd(), net,
                        qemu.disk_args(blank(tmp_path, 'ec2.img')),
                        append='cvmfs_url=http://169.254.0.100/cvmfs/@fqrn@')
        reqs = md.requests()
    assert 'user-data from ec2' in con, con[-3000:]
    assert any(r['method'] == 'PUT' for r in reqs), 'no IMDSv2 token request: %s' % reqs
    assert 'TESTOS: init pid 1 version 1' in con, con[-3000:]
    assert re.search(r'cvmfs: mounted \S+ revision \d+ tag v1', con), con[-3000:]


def test_config_drive(env, tmp_path):
    """An OpenStack config drive (ISO on a virtio disk) is the alternative
    user-data source; its section names the tag."""
    cd = tmp_path / 'cd'
    (cd / 'openstack' / 'latest').mkdir(parents=True)
    (cd / 'openstack' / 'latest' / 'user_data').write_text(
        '[ucernvm-begin]\r\ncvmfs_tag="v1"\r\n[ucernvm-end]\r\n')
    iso = str(tmp_path / 'config.iso')
    subprocess.run(['xorriso', '-as', 'mkisofs', '-quiet', '-V', 'config-2', '-J', '-R',
                    '-o', iso, str(cd)], check=True, capture_output=True)
    extra = qemu.disk_args(blank(tmp_path, 'cd.img')) + qemu.disk_args(iso, idx=1)
    con, _ = run_vm(tmp_path, 'cdrive', env.initrd(), env.net_args(), extra)
    assert 'user-data from config-drive' in con, con[-3000:]
    assert re.search(r'cvmfs: mounted \S+ revision \d+ tag v1', con), con[-3000:]
    assert 'TESTOS: done' in con


def test_unreachable_repository(env, tmp_path):
    """No server answers: the console names the stage and the reason, gives
    the hint, and the VM powers off within its bound."""
    con, took = run_vm(tmp_path, 'unreach', env.initrd(), env.net_args(),
                       qemu.disk_args(blank(tmp_path, 'u.img')),
                       append='cvmfs_url=http://10.0.2.100:81/cvmfs/@fqrn@', timeout=150)
    assert re.search(r'cvmboot: cvmfs: mount the OS repository: \S', con), con[-3000:]
    assert 'cvmboot: cvmfs: hint:' in con
    assert 'reboot: Power down' in con
    print('unreachable repository: powered off after %.1f s' % took)


def mkiso(env, d, kernel, mods):
    env.initrd()
    path = str(d / 'cvmboot.iso')
    subprocess.run([os.path.join(BUILD, 'cvmboot'), 'mkimage', '--kernel', kernel,
                    '--initrd', os.path.join(BUILD, 'initramfs.cpio.xz'), *qemu.initrd_args(mods),
                    '--initrd', env.config_cpio, '--cmdline', 'console=ttyS0 quiet panic=-1',
                    '--iso', path], check=True, capture_output=True)
    return path


@pytest.fixture(scope='module')
def iso(env, tmp_path_factory):
    """The image as `make image` builds it: its kernel (the own one by
    default, drivers built in), the core initramfs, the kernel's module
    archive if it has one, and a config archive naming our repository."""
    return mkiso(env, tmp_path_factory.mktemp('iso'), *qemu.image_kernel(BUILD))


@pytest.fixture(scope='module')
def iso_debian(env, tmp_path_factory):
    """The same image on Debian's generic 6.12 kernel and its module archive
    (make image KERNEL=debian): the suite boots it once."""
    return mkiso(env, tmp_path_factory.mktemp('iso-debian'), *qemu.debian_kernel(BUILD, 'image'))


@pytest.mark.parametrize('how', ['cdrom', 'disk', 'e1000-ahci', 'debian-kernel'])
def test_iso_image(env, iso, iso_debian, tmp_path, how):
    """The hybrid ISO (isolinux) boots as a CD and as a hard disk (-M pc), and
    on QEMU's non-virtio defaults: an e1000 NIC and an AHCI scratch disk; and
    once with Debian's kernel, whose drivers PID 1 loads from the archive."""
    if how == 'debian-kernel':
        iso = iso_debian
    # bootindex: SeaBIOS would otherwise try the blank scratch disk first.
    boot = ['-drive', 'file=%s,if=none,id=boot,format=raw,readonly=on' % iso, '-device',
            'virtio-blk-pci,drive=boot,bootindex=0' if how == 'disk' else
            'ide-cd,drive=boot,bootindex=0']
    bus, model = ('ahci', 'e1000') if how == 'e1000-ahci' else ('virtio', 'virtio-net-pci')
    log = str(tmp_path / ('iso-%s.log' % how))
    with qemu.VM(None, log=log, machine='pc', media=boot, net_args=env.net_args(model=model),
                 extra=qemu.disk_args(blank(tmp_path, 'iso-%s.img' % how), bus=bus,
                                      idx=2)) as vm:
        took = vm.wait_exit(BOOT_S)
    con = open(log, errors='replace').read()
    assert took is not None, 'no power-off within %d s:\n%s' % (BOOT_S, con[-3000:])
    assert 'TESTOS: overlay-over-fuse ok' in con and 'TESTOS: done' in con, con[-3000:]
    if how == 'e1000-ahci':	# the only NIC and the only disk: their drivers worked
        assert re.search(r'disk: made /dev/sda1 on sda', con), con[-3000:]
        assert re.search(r'net: eth0 10\.0\.2\.15/24', con), con[-3000:]
    m = re.search(r'drivers: \d+ devices, (\d+) modules loaded, (\d+) failed', con)
    if how == 'debian-kernel':	# virtio, ext4, fuse, overlay come from the archive
        assert m and int(m.group(1)) > 0 and m.group(2) == '0', con[-3000:]
    else:	# built in: nothing to load
        assert 'no module index' in con or (m and m.group(1) == '0'), con[-3000:]
    print('ISO %s: power-off after %.1f s' % (how, took))


def test_nvme_scratch(env, tmp_path):
    """An NVMe scratch disk (the cloud kernel builds nvme in)."""
    con, _ = run_vm(tmp_path, 'nvme', env.initrd(), env.net_args(),
                    qemu.disk_args(blank(tmp_path, 'nvme.img'), bus='nvme'))
    assert re.search(r'disk: made /dev/nvme0n1p1 on nvme0n1', con), con[-3000:]
    assert 'TESTOS: done' in con
