# SPDX-License-Identifier: MIT
"""The tiny OS the VM tests stream: Debian's busybox-static as its userland.

Its /sbin/init prints markers the tests judge ("TESTOS: ..."), checks that /
is an overlay whose lower layer is a FUSE mount, counts its boots in a file
on the writable layer, and powers off."""
import os
import shutil
import subprocess

APPLETS = ('sh', 'ash', 'mount', 'umount', 'cat', 'echo', 'mkdir', 'sync', 'poweroff',
           'ls', 'grep', 'awk', 'sed', 'head', 'tail', 'rm', 'cp', 'mv', 'ln', 'sleep',
           'stat', 'wc', 'tr', 'cut', 'find', 'getfattr', 'id', 'hostname', 'ip',
           'ifconfig', 'true', 'false', 'test', 'date', 'uname', 'dmesg', 'touch', 'md5sum',
           'pivot_root')

INIT = r'''#!/bin/sh
export PATH=/bin:/sbin:/usr/bin
# systemd-shutdown's return to the initramfs: /run/initramfs becomes / with
# the OS below /oldroot (dev, proc, sys bound in), then /shutdown VERB.
to_initramfs() {
    sync
    mount -o bind /run/initramfs /run/initramfs
    for d in dev proc sys; do mount -o bind /$d /run/initramfs/$d; done
    cd /run/initramfs && pivot_root . oldroot && exec /shutdown "$1"
    echo "TESTOS: return to the initramfs failed"
}
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sysfs /sys 2>/dev/null
echo "TESTOS: init pid $$ version $(cat /etc/testos-version)"
root=$(awk '$2 == "/" {t=$3} END {print t}' /proc/mounts)
lower=$(awk '$2 == "/mnt/.ro" {t=$3} END {print t}' /proc/mounts)
echo "TESTOS: root=$root lower=$lower"
case "$lower" in fuse*) [ "$root" = overlay ] && echo "TESTOS: overlay-over-fuse ok" ;; esac
n=$(cat /var/lib/testos/count 2>/dev/null || echo 0)
n=$((n + 1))
mkdir -p /var/lib/testos && echo $n > /var/lib/testos/count
echo "TESTOS: boot $n"
echo "TESTOS: etc-local=$(cat /etc/testos-local 2>/dev/null) usr-file=$(cat /usr/share/testos/file 2>/dev/null)"
# Actions the tests ask for on the kernel command line.
for w in $(cat /proc/cmdline); do
    case "$w" in
    testos.edit) echo local-etc > /etc/testos-local; echo local-usr > /usr/share/testos/file
                 echo "TESTOS: edited /etc and /usr" ;;
    testos.unpin) rm -f /mnt/.rw/aux/cvmfs_snapshot && echo "TESTOS: unpinned" ;;
    testos.netloss)
        # The test stops every server when it sees this line.
        echo "TESTOS: waiting for the network to go"
        sleep 8
        ls / > /dev/null && echo "TESTOS: ls / ok"
        echo "TESTOS: pinned=$(md5sum < /usr/share/testos/pinned | cut -c1-32)"
        cat /usr/share/testos/unpinned > /dev/null 2>&1 || echo "TESTOS: unpinned unreadable"
        ifconfig eth0 down && ifconfig eth0 up && echo "TESTOS: network restarted" ;;
    testos.kexec)
        # systemctl kexec: load /boot's kernel, then shut down with kexec (first boot)
        if [ "$n" = 1 ]; then
            /bin/kexec-load /boot/vmlinuz /boot/initrd.img "$(cat /proc/cmdline)" &&
                echo "TESTOS: kexec loaded" && to_initramfs kexec
        fi ;;
    testos.kexec-none) [ "$n" = 1 ] && to_initramfs kexec ;;
    esac
done
sync
echo "TESTOS: done"
poweroff -f
'''


def kexec_loader(outdir):
    """tests/lib/kexec-load.c built static (musl-gcc) into outdir."""
    out = os.path.join(str(outdir), 'kexec-load')
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'kexec-load.c')
    subprocess.run(['musl-gcc', '-static', '-Os', '-o', out, src], check=True)
    return out


def build(root, version='1', usr_text='usr-v1', extra=None, files=None):
    """Writes the OS tree into root (created). extra: {relpath: text};
    files: {relpath: path of a file to copy}."""
    for d in ('bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'run', 'tmp', 'mnt', 'root',
              'var/lib', 'usr/share/testos', 'usr/bin'):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy2('/bin/busybox', os.path.join(root, 'bin', 'busybox'))
    for a in APPLETS:
        p = os.path.join(root, 'bin', a)
        if not os.path.lexists(p):
            os.symlink('busybox', p)
    texts = {
        'sbin/init': INIT,
        'etc/testos-version': version + '\n',
        'usr/share/testos/file': usr_text + '\n',
        'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
        'etc/group': 'root:x:0:\n',
    }
    texts.update(extra or {})
    for rel, text in texts.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, 'w') as f:
            f.write(text)
    for rel, src in (files or {}).items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        shutil.copy2(src, p)
    os.chmod(os.path.join(root, 'sbin', 'init'), 0o755)
    return root
