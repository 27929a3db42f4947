# SPDX-License-Identifier: MIT
"""Image formats (boot/mkformat.py, boot/formats.mk): each one is what its
platform reads (qemu-img info/check/compare), bit-identical when built
twice, and the OVA's OVF descriptor is well-formed with every reference
resolved (files, sizes, manifest hashes, disks, capacities)."""
import hashlib
import json
import os
import subprocess
import tarfile
import xml.etree.ElementTree as ET

import pytest

import qemu
from conftest import BUILD, ROOT

MKFORMAT = os.path.join(ROOT, 'boot', 'mkformat.py')
QEMU_FMT = {'qcow2': 'qcow2', 'vmdk': 'vmdk', 'vdi': 'vdi', 'vhd': 'vpc', 'vhdx': 'vhdx'}
OVF_NS = '{http://schemas.dmtf.org/ovf/envelope/1}'
RASD_NS = '{http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData}'


@pytest.fixture(scope='module')
def hdd(tmp_path_factory):
    kernel, mods = qemu.image_kernel(BUILD)
    p = str(tmp_path_factory.mktemp('fmt') / 'cvmboot.hdd')
    subprocess.run([os.path.join(BUILD, 'cvmboot'), 'mkimage', '--kernel', kernel,
                    '--initrd', os.path.join(BUILD, 'initramfs.cpio.xz'), *qemu.initrd_args(mods),
                    '--cmdline', 'console=ttyS0 console=tty0 quiet', '--hdd', p],
                   check=True, capture_output=True)
    return p


def test_raw_disk_is_as_small_as_its_partition(hdd, tmp_path):
    """The raw disk ends with its one boot partition, which is sized to its
    files (bytes + a little slack), and still holds them all; a --hdd-size
    too small for that partition is refused by name, and nothing is left."""
    kernel, mods = qemu.image_kernel(BUILD)
    files = [kernel, os.path.join(BUILD, 'initramfs.cpio.xz')] + ([mods] if mods else [])
    payload = sum(os.path.getsize(f) for f in files)
    size = os.path.getsize(hdd)
    out = subprocess.run(['sfdisk', '-J', hdd], capture_output=True, text=True, check=True).stdout
    parts = json.loads(out)['partitiontable']['partitions']
    assert len(parts) == 1 and parts[0]['start'] == 2048, parts
    assert size == (parts[0]['start'] + parts[0]['size']) * 512, (size, parts)
    assert payload < parts[0]['size'] * 512 <= payload * 1.03 + (1 << 20) + (512 << 10), \
        (payload, parts[0]['size'] * 512)
    # mtools reads the FAT at the partition's offset: the kernel and the initrd are there.
    listing = subprocess.run(['mdir', '-i', '%s@@1M' % hdd, '-b', '::/cvmboot'],
                             capture_output=True, text=True, check=True).stdout
    assert 'vmlinuz' in listing and 'initrd.img' in listing, listing
    small = str(tmp_path / 'small.hdd')
    r = subprocess.run([os.path.join(BUILD, 'cvmboot'), 'mkimage', '--kernel', kernel,
                        '--initrd', os.path.join(BUILD, 'initramfs.cpio.xz'), '--hdd', small,
                        '--hdd-size', '2'], capture_output=True, text=True)
    assert r.returncode == 2 and 'too small' in r.stderr and 'leave --hdd-size out' in r.stderr, \
        r.stderr
    assert not os.path.exists(small)


def mkformat(fmt, src, out, sde='1700000000'):
    env = dict(os.environ, SOURCE_DATE_EPOCH=sde)
    r = subprocess.run(['/usr/bin/python3', MKFORMAT, fmt, src, out], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def sha(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''):
            h.update(b)
    return h.hexdigest()


@pytest.mark.parametrize('fmt', ['qcow2', 'vmdk', 'vdi', 'vhd', 'vhdx', 'ova', 'gce'])
def test_format_reproducible_and_readable(hdd, tmp_path, fmt):
    name = 'cvmboot-gce.tar.gz' if fmt == 'gce' else 'cvmboot.' + fmt
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    a = mkformat(fmt, hdd, str(tmp_path / 'a' / name))
    b = mkformat(fmt, hdd, str(tmp_path / 'b' / name))
    assert sha(a) == sha(b), '%s differs between two builds' % fmt
    # another SOURCE_DATE_EPOCH moves the identifiers (they are not constants)
    c = mkformat(fmt, hdd, str(tmp_path / 'b' / name), sde='1700000001')
    if fmt not in ('qcow2',):
        assert sha(c) != sha(a), '%s ignores SOURCE_DATE_EPOCH' % fmt
    print('%s: %d bytes' % (fmt, os.path.getsize(a)))
    if fmt in QEMU_FMT:
        q = QEMU_FMT[fmt]
        if q != 'vpc':
            r = subprocess.run(['qemu-img', 'check', '-f', q, a], capture_output=True, text=True)
            assert r.returncode == 0, r.stdout + r.stderr
        # the same content as the raw disk
        r = subprocess.run(['qemu-img', 'compare', '-f', 'raw', '-F', q, hdd, a],
                           capture_output=True, text=True)
        # (vmdk and vdi are larger: the rest must read as zeros)
        assert r.returncode == 0 and 'Images are identical' in r.stdout, r.stdout + r.stderr
        if fmt in ('vmdk', 'vdi'):
            info = subprocess.run(['qemu-img', 'info', '-f', q, a], capture_output=True,
                                  text=True).stdout
            assert 'virtual size: 20 GiB' in info, info
    if fmt == 'vhd':
        size = os.path.getsize(a)
        assert (size - 512) % (1 << 20) == 0 and size - 512 == os.path.getsize(hdd)
        with open(a, 'rb') as f:
            f.seek(size - 512)
            foot = bytearray(f.read(512))
        assert foot[:8] == b'conectix' and int.from_bytes(foot[60:64], 'big') == 2  # fixed
        want = int.from_bytes(foot[64:68], 'big')
        foot[64:68] = b'\0\0\0\0'
        assert want == ~sum(foot) & 0xffffffff, 'VHD footer checksum'
    if fmt == 'gce':
        with tarfile.open(a) as t:
            m = t.getmembers()
            assert [x.name for x in m] == ['disk.raw'], m
            assert m[0].size % (1 << 30) == 0 and m[0].mtime == 1700000000
            data = t.extractfile(m[0]).read(os.path.getsize(hdd))
        assert data == open(hdd, 'rb').read()


def test_ova_descriptor(hdd, tmp_path):
    ova = mkformat('ova', hdd, str(tmp_path / 'cvmboot.ova'))
    with tarfile.open(ova) as t:
        members = t.getmembers()
        names = [m.name for m in members]
        assert names[0] == 'cvmboot.ovf' and names[1] == 'cvmboot.mf', names
        assert all(m.uid == 0 and m.gid == 0 and m.isfile() for m in members)
        t.extractall(str(tmp_path / 'x'))
    x = tmp_path / 'x'
    root = ET.parse(str(x / 'cvmboot.ovf')).getroot()
    assert root.tag == OVF_NS + 'Envelope' and root.get(OVF_NS + 'version') == '1.0'
    files = {f.get(OVF_NS + 'id'): f for f in root.iter(OVF_NS + 'File')}
    assert len(files) == 2
    for fid, f in files.items():
        href = f.get(OVF_NS + 'href')
        assert href in names, href
        assert int(f.get(OVF_NS + 'size')) == os.path.getsize(str(x / href)), href
    disks = {d.get(OVF_NS + 'diskId'): d for d in root.iter(OVF_NS + 'Disk')}
    assert sorted(disks) == ['vmdisk1', 'vmdisk2']
    for did, d in disks.items():
        f = files[d.get(OVF_NS + 'fileRef')]
        info = subprocess.run(['qemu-img', 'info', '--output=json', str(x / f.get(OVF_NS + 'href'))],
                              capture_output=True, text=True, check=True).stdout
        j = json.loads(info)
        assert j['format'] == 'vmdk' and 'streamOptimized' in info
        assert int(d.get(OVF_NS + 'capacity')) == j['virtual-size'], did
    assert int(disks['vmdisk1'].get(OVF_NS + 'capacity')) == os.path.getsize(hdd)
    assert int(disks['vmdisk2'].get(OVF_NS + 'capacity')) == 20000 << 20
    items = list(root.iter(OVF_NS + 'Item'))
    by_type = {}
    for it in items:
        tags = [c.tag[len(RASD_NS):] for c in it]
        # CIM's rasd elements come in schema (alphabetical) order
        assert tags == sorted(tags), tags
        by_type.setdefault(it.find(RASD_NS + 'ResourceType').text, []).append(it)
    ids = {it.find(RASD_NS + 'InstanceID').text for it in items}
    assert len(ids) == len(items)
    disk_items = by_type['17']
    assert sorted(i.find(RASD_NS + 'HostResource').text for i in disk_items) == \
        ['ovf:/disk/vmdisk1', 'ovf:/disk/vmdisk2']
    for i in disk_items:
        assert i.find(RASD_NS + 'Parent').text in ids
    assert by_type['4'][0].find(RASD_NS + 'VirtualQuantity').text == '1024'
    nets = {n.get(OVF_NS + 'name') for n in root.iter(OVF_NS + 'Network')}
    nics = by_type['10']
    assert len(nics) == 1 and nics[0].find(RASD_NS + 'Connection').text in nets
    assert nics[0].find(RASD_NS + 'ResourceSubType').text == 'E1000'
    # the manifest covers every other member, with matching SHA-256
    mf = (x / 'cvmboot.mf').read_text().splitlines()
    seen = set()
    for line in mf:
        name, digest = line[len('SHA256('):].split(')= ')
        assert sha(str(x / name)) == digest, name
        seen.add(name)
    assert seen == set(names) - {'cvmboot.mf'}
