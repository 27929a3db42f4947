#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""boot/mkformat.py: the raw boot disk (build/cvmboot.hdd) in every format a
hypervisor wants, reproducibly (boot/formats.mk runs it).

    mkformat.py FORMAT IN.hdd OUT     FORMAT: qcow2 vmdk vdi vhd vhdx ova gce

qemu-img (Debian's qemu-utils) converts; it writes random identifiers and a
timestamp into vmdk (CID), vdi (UUIDs), vhd (footer time and UUID) and vhdx
(header GUIDs, virtual disk id), which are then replaced here by values
derived from the input's SHA-256, the format and SOURCE_DATE_EPOCH, with
the format's checksums recomputed, so that two builds are bit-identical.
vmdk and vdi are grown to 20 GiB as μCernVM's were (the free space becomes
the scratch partition when no other disk is attached); the OVA carries the
stream-optimized boot disk, a blank 20000 MB scratch disk, 1 vCPU, 1024 MB
and one NAT e1000 NIC (VirtualBox imports that with its defaults; μCernVM's
host-only NIC needs a host-only network that a fresh VirtualBox lacks);
gce is disk.raw (padded to whole GiB, as GCE requires) in an oldgnu tar.gz.
"""
import hashlib
import io
import os
import struct
import subprocess
import sys
import tarfile
import tempfile

GROW = 20 << 30
SCRATCH_MB = 20000
SDE = int(os.environ.get('SOURCE_DATE_EPOCH', '0'))


def qemu_img(*args):
    subprocess.run(['qemu-img'] + list(args), check=True, stdout=subprocess.DEVNULL)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''):
            h.update(b)
    return h.digest()


def derived(seed, what, n=16):
    return hashlib.sha256(seed + what.encode()).digest()[:n]


def uuid4ish(b):
    """16 bytes with the RFC 4122 version 4 and variant bits set."""
    b = bytearray(b)
    b[6] = (b[6] & 0x0f) | 0x40
    b[8] = (b[8] & 0x3f) | 0x80
    return bytes(b)


def patch(path, off, data):
    with open(path, 'r+b') as f:
        f.seek(off)
        f.write(data)


def fix_vmdk(path, seed):
    """The CID line of the embedded descriptor (its length varies: "%x")."""
    with open(path, 'rb') as f:
        head = f.read(512)
        assert head[:4] == b'KDMV', '%s: not a sparse VMDK' % path
        doff, dsize = struct.unpack_from('<QQ', head, 28)	# in sectors
        f.seek(doff * 512)
        desc = f.read(dsize * 512)
    text = desc.rstrip(b'\0')
    lines = text.split(b'\n')
    n = [i for i, l in enumerate(lines) if l.startswith(b'CID=')]
    assert len(n) == 1, '%s: no CID in the descriptor' % path
    lines[n[0]] = b'CID=' + derived(seed, 'vmdk-cid', 4).hex().encode()
    text = b'\n'.join(lines)
    assert len(text) <= len(desc)
    patch(path, doff * 512, text + b'\0' * (len(desc) - len(text)))


def fix_vdi(path, seed):
    with open(path, 'rb') as f:
        h = f.read(512)
    assert h[64:68] == b'\x7f\x10\xda\xbe', '%s: not a VDI' % path
    # header v1.1: uuidCreate at 0x188, uuidModify at 0x198 (no header checksum)
    patch(path, 0x188, uuid4ish(derived(seed, 'vdi-create')))
    patch(path, 0x198, uuid4ish(derived(seed, 'vdi-modify')))


def fix_vhd(path, seed):
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        f.seek(size - 512)
        foot = bytearray(f.read(512))
    assert foot[:8] == b'conectix', '%s: no VHD footer' % path
    foot[24:28] = struct.pack('>I', max(SDE - 946684800, 0))	# seconds since 2000
    foot[68:84] = uuid4ish(derived(seed, 'vhd-id'))
    foot[64:68] = b'\0\0\0\0'
    foot[64:68] = struct.pack('>I', ~sum(foot) & 0xffffffff)
    patch(path, size - 512, bytes(foot))


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xffffffff
    for b in data:
        c = CRC32C[(c ^ b) & 0xff] ^ (c >> 8)
    return c ^ 0xffffffff


def guid(s):
    """A GUID's on-disk (mixed-endian) bytes from its text form."""
    p = s.split('-')
    return (struct.pack('<IHH', int(p[0], 16), int(p[1], 16), int(p[2], 16)) +
            bytes.fromhex(p[3] + p[4]))


METADATA_REGION = guid('8B7CA206-4790-4B9A-B8FE-575F050F886E')
VIRTUAL_DISK_ID = guid('BECA12AB-B2E6-4523-93EF-C309E000C746')


def fix_vhdx(path, seed):
    with open(path, 'rb') as f:
        img = f.read(4 << 20)	# headers, region tables and the log (at 1 MiB)
    assert img[:8] == b'vhdxfile', '%s: not a VHDX' % path
    seqs = [struct.unpack_from('<Q', img, off + 8)[0] for off in (64 << 10, 128 << 10)]
    for n, off in enumerate((64 << 10, 128 << 10)):
        h = bytearray(img[off:off + 4096])
        assert h[:4] == b'head'
        # the newer header stays the newer one
        h[8:16] = struct.pack('<Q', 1 + (seqs[n] > seqs[1 - n]))
        # FileWriteGuid at 16, DataWriteGuid at 32 (LogGuid at 48 stays: zero
        # when the log is empty, as qemu-img leaves it)
        h[16:32] = uuid4ish(derived(seed, 'vhdx-file-write'))
        h[32:48] = uuid4ish(derived(seed, 'vhdx-data-write'))
        h[4:8] = b'\0\0\0\0'
        h[4:8] = struct.pack('<I', crc32c(h))
        patch(path, off, bytes(h))
        log_off, = struct.unpack_from('<Q', h, 72)
        log_len, = struct.unpack_from('<I', h, 68)
    # qemu-img leaves replayed log entries behind (ignored: their LogGuid is
    # not the header's); their GUIDs are random, so they are replaced too.
    pos = log_off
    while pos < log_off + log_len and img[pos:pos + 4] == b'loge':
        elen, = struct.unpack_from('<I', img, pos + 8)
        if elen < 64 or elen % 4096:
            break
        e = bytearray(img[pos:pos + elen])
        e[32:48] = uuid4ish(derived(seed, 'vhdx-log'))
        e[4:8] = b'\0\0\0\0'
        e[4:8] = struct.pack('<I', crc32c(e))
        patch(path, pos, bytes(e))
        pos += elen
    rt = img[192 << 10:(192 << 10) + 65536]
    assert rt[:4] == b'regi'
    count = struct.unpack_from('<I', rt, 8)[0]
    for i in range(count):
        e = rt[16 + 32 * i:48 + 32 * i]
        if e[:16] != METADATA_REGION:
            continue
        moff = struct.unpack_from('<Q', e, 16)[0]
        with open(path, 'rb') as f:
            f.seek(moff)
            mt = f.read(65536)
        assert mt[:8] == b'metadata'
        for j in range(struct.unpack_from('<H', mt, 10)[0]):
            it = mt[32 + 32 * j:64 + 32 * j]
            if it[:16] == VIRTUAL_DISK_ID:
                ioff = struct.unpack_from('<I', it, 16)[0]
                patch(path, moff + ioff, uuid4ish(derived(seed, 'vhdx-disk-id')))
                return
    raise AssertionError('%s: no virtual disk id in the metadata' % path)


def convert(fmt, src, out, seed):
    if os.path.exists(out):
        os.unlink(out)
    if fmt == 'qcow2':
        qemu_img('convert', '-f', 'raw', '-O', 'qcow2', src, out)
    elif fmt in ('vmdk', 'vdi'):
        grown = out + '.raw'
        subprocess.run(['cp', '--sparse=always', src, grown], check=True)
        os.truncate(grown, GROW)
        try:
            if fmt == 'vmdk':
                qemu_img('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized',
                         grown, out)
                fix_vmdk(out, seed)
            else:
                qemu_img('convert', '-f', 'raw', '-O', 'vdi', grown, out)
                fix_vdi(out, seed)
        finally:
            os.unlink(grown)
    elif fmt == 'vhd':
        # Azure: fixed size, a whole number of MiB (force_size keeps it exact)
        assert os.path.getsize(src) % (1 << 20) == 0
        qemu_img('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on',
                 src, out)
        fix_vhd(out, seed)
    elif fmt == 'vhdx':
        qemu_img('convert', '-f', 'raw', '-O', 'vhdx', src, out)
        fix_vhdx(out, seed)
    else:
        raise SystemExit('unknown format %s' % fmt)


def tarinfo(name, size):
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.mtime = SDE
    ti.mode = 0o644
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ''
    return ti


OVF = '''<?xml version="1.0" encoding="UTF-8"?>
<Envelope ovf:version="1.0" xml:lang="en-US" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="{boot}" ovf:id="file1" ovf:size="{boot_size}"/>
    <File ovf:href="{scratch}" ovf:id="file2" ovf:size="{scratch_size}"/>
  </References>
  <DiskSection>
    <Info>Virtual disks: the boot image and a blank scratch disk</Info>
    <Disk ovf:capacity="{boot_cap}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
    <Disk ovf:capacity="{scratch_cap}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>Logical networks</Info>
    <Network ovf:name="NAT">
      <Description>NAT network: the VM reaches its repository through the host</Description>
    </Network>
  </NetworkSection>
  <VirtualSystem ovf:id="{name}">
    <Info>cvmboot {version}: boots an OS streamed from a CernVM-FS repository</Info>
    <Name>{name}</Name>
    <OperatingSystemSection ovf:id="101">
      <Info>The kind of guest operating system</Info>
      <Description>Linux (64-bit)</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>{name}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-07 virtualbox-2.2</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:Description>Number of virtual CPUs</rasd:Description>
        <rasd:ElementName>1 virtual CPU</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>1</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:Description>Memory size</rasd:Description>
        <rasd:ElementName>{ram} MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>{ram}</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Description>IDE controller</rasd:Description>
        <rasd:ElementName>ideController0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>PIIX4</rasd:ResourceSubType>
        <rasd:ResourceType>5</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:Description>Boot disk</rasd:Description>
        <rasd:ElementName>disk1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>1</rasd:AddressOnParent>
        <rasd:Description>Scratch disk (blank: partitioned on the first boot)</rasd:Description>
        <rasd:ElementName>disk2</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk2</rasd:HostResource>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>NAT</rasd:Connection>
        <rasd:Description>E1000 ethernet adapter on NAT</rasd:Description>
        <rasd:ElementName>ethernet0</rasd:ElementName>
        <rasd:InstanceID>6</rasd:InstanceID>
        <rasd:ResourceSubType>E1000</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
'''


def make_ova(src, out, seed):
    name = os.path.basename(out)[:-4] if out.endswith('.ova') else 'cvmboot'
    version = os.environ.get('CVMBOOT_VERSION', '')
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(out))) as d:
        boot = os.path.join(d, name + '-disk1.vmdk')
        scratch = os.path.join(d, name + '-disk2.vmdk')
        qemu_img('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized',
                 src, boot)
        fix_vmdk(boot, seed + b'boot')
        blank = os.path.join(d, 'blank.raw')
        open(blank, 'wb').close()
        os.truncate(blank, SCRATCH_MB << 20)
        qemu_img('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized',
                 blank, scratch)
        os.unlink(blank)
        fix_vmdk(scratch, seed + b'scratch')
        ovf = OVF.format(boot=os.path.basename(boot), scratch=os.path.basename(scratch),
                         boot_size=os.path.getsize(boot), scratch_size=os.path.getsize(scratch),
                         boot_cap=os.path.getsize(src), scratch_cap=SCRATCH_MB << 20,
                         name=name, version=version, ram=1024).encode()
        files = [(name + '.ovf', ovf)]
        mf = ''.join('SHA256(%s)= %s\n' % (n, hashlib.sha256(b).hexdigest()) for n, b in files)
        for p in (boot, scratch):
            mf += 'SHA256(%s)= %s\n' % (os.path.basename(p), sha256_file(p).hex())
        tmp = out + '.tmp'
        # The OVF descriptor first, then the manifest, then the disks (OVF 1.0).
        with tarfile.open(tmp, 'w', format=tarfile.USTAR_FORMAT) as t:
            t.addfile(tarinfo(name + '.ovf', len(ovf)), io.BytesIO(ovf))
            t.addfile(tarinfo(name + '.mf', len(mf)), io.BytesIO(mf.encode()))
            for p in (boot, scratch):
                with open(p, 'rb') as f:
                    t.addfile(tarinfo(os.path.basename(p), os.path.getsize(p)), f)
        os.rename(tmp, out)


def make_gce(src, out):
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(out))) as d:
        raw = os.path.join(d, 'disk.raw')
        subprocess.run(['cp', '--sparse=always', src, raw], check=True)
        size = os.path.getsize(raw)
        os.truncate(raw, (size + (1 << 30) - 1) // (1 << 30) * (1 << 30))
        with open(out + '.tmp', 'wb') as o:
            tar = subprocess.Popen(['tar', '--format=oldgnu', '-S', '--mtime=@%d' % SDE,
                                    '--owner=0', '--group=0', '--numeric-owner', '-C', d,
                                    '-cf', '-', 'disk.raw'], stdout=subprocess.PIPE)
            subprocess.run(['gzip', '-9n'], stdin=tar.stdout, stdout=o, check=True)
            assert tar.wait() == 0
        os.rename(out + '.tmp', out)


def main(argv):
    if len(argv) != 4:
        raise SystemExit(__doc__)
    fmt, src, out = argv[1:]
    seed = sha256_file(src) + fmt.encode() + str(SDE).encode()
    if fmt == 'ova':
        make_ova(src, out, seed)
    elif fmt == 'gce':
        make_gce(src, out)
    else:
        convert(fmt, src, out, seed)


if __name__ == '__main__':
    main(sys.argv)
