# SPDX-License-Identifier: MIT
"""VM layer: FUSE passthrough under the OS root. The VM suite's kernel
(Debian 6.12, third_party/pins) offers it: PID 1's cvmfs-lite takes it at
INIT, the test OS runs from overlayfs stacked on the passthrough FUSE mount,
and a large file read through the overlay never reaches the daemon (its
counters, from the magic xattr user.fuse_stats, read by a small static
helper in the OS). On a kernel without passthrough (make
KVER=6.1.0-57-cloud-amd64) the same boot shows the normal path: every read
through the daemon.

Also prints the read times of that file: cold (fetched at OPEN), warm (in
the cvmfs cache, page cache dropped) and hot (page cache)."""
import hashlib
import os
import re
import subprocess

import pytest

import qemu
import testos
from bootenv import BootEnv, FQRN
from conftest import BUILD

BOOT_S = 240
BIG = 24 << 20
CHUNKED = 40 << 20

HELPER = r'''
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];

	if (argc == 3 && strcmp(argv[1], "stats") == 0) {
		ssize_t n = getxattr(argv[2], "user.fuse_stats", buf, sizeof(buf) - 1);

		if (n < 0) {
			printf("TESTOS: stats error %s\n", strerror(errno));
			return 1;
		}
		buf[n] = 0;
		printf("TESTOS: stats %s\n", buf);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "read") == 0) {
		double t0 = now_ms();
		long long total = 0;
		ssize_t n;
		int fd = open(argv[3], O_RDONLY);

		if (fd < 0) {
			printf("TESTOS: read %s error %s\n", argv[2], strerror(errno));
			return 1;
		}
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			total += n;
		close(fd);
		printf("TESTOS: read %s %lld bytes %.1f ms%s\n", argv[2], total, now_ms() - t0,
		       n < 0 ? " error" : "");
		return n < 0;
	}
	return 2;
}
'''

INIT = r'''#!/bin/sh
export PATH=/bin:/sbin:/usr/bin
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sysfs /sys 2>/dev/null
echo "TESTOS: init pid $$ kernel $(uname -r)"
root=$(awk '$2 == "/" {t=$3} END {print t}' /proc/mounts)
lower=$(awk '$2 == "/mnt/.ro" {t=$3} END {print t}' /proc/mounts)
case "$lower" in fuse*) [ "$root" = overlay ] && echo "TESTOS: overlay-over-fuse ok" ;; esac
f=/usr/share/testos/big.bin
fstats stats /mnt/.ro
fstats read cold $f
fstats stats /mnt/.ro
sync
echo 3 > /proc/sys/vm/drop_caches
fstats read warm $f
fstats read hot $f
fstats stats /mnt/.ro
echo "TESTOS: md5 $(md5sum < $f | cut -c1-32)"
c=/usr/share/testos/chunked.bin
fstats read chunked-cold $c
fstats stats /mnt/.ro
: < $c
n=0
while [ -z "$(ls /mnt/.rw/cache/join 2>/dev/null)" ] && [ $n -lt 20 ]; do sleep 1; n=$((n+1)); done
sleep 1
sync
echo 3 > /proc/sys/vm/drop_caches
fstats read chunked-joined $c
fstats stats /mnt/.ro
echo "TESTOS: chunked md5 $(md5sum < $c | cut -c1-32)"
echo "TESTOS: done"
poweroff -f
'''


def kernel_has_passthrough(kernel):
    cfg = qemu.kernel_config(kernel)
    return os.path.exists(cfg) and 'CONFIG_FUSE_PASSTHROUGH=y' in open(cfg).read()


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('passthrough')
    e = BootEnv(BUILD, tmp)
    e.keygen()
    helper = str(tmp / 'fstats')
    src = str(tmp / 'fstats.c')
    with open(src, 'w') as f:
        f.write(HELPER)
    subprocess.run(['musl-gcc', '-static', '-Os', '-o', helper, src], check=True)
    tree = testos.build(str(tmp / 'os'), extra={'sbin/init': INIT})
    subprocess.run(['cp', helper, os.path.join(tree, 'bin', 'fstats')], check=True)
    big = os.urandom(BIG)
    with open(os.path.join(tree, 'usr', 'share', 'testos', 'big.bin'), 'wb') as f:
        f.write(big)
    chunked = os.urandom(CHUNKED)
    with open(os.path.join(tree, 'usr', 'share', 'testos', 'chunked.bin'), 'wb') as f:
        f.write(chunked)
    os.makedirs(os.path.dirname(e.repo), exist_ok=True)
    # big.bin: one object (below the chunking minimum), the kernel can read
    # it; chunked.bin: two or more chunks, joined for the kernel once cached.
    r = subprocess.run([e.tool, 'publish', tree, e.repo, '--name', FQRN, '--keys', e.keys,
                        '--tag', 'v1', '--chunk-min', '28M', '--chunk-avg', '32M',
                        '--chunk-max', '36M'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    e.big_md5 = hashlib.md5(big).hexdigest()
    e.chunked_md5 = hashlib.md5(chunked).hexdigest()
    e.serve()
    yield e
    e.stop()


def stats(con):
    return [{k: int(v) for k, v in re.findall(r'(\w+)=(-?\d+)', m)}
            for m in re.findall(r'TESTOS: stats (.*)', con)]


def test_passthrough_under_the_overlay_root(env, tmp_path):
    release = qemu.kernel_release(BUILD)
    offered = kernel_has_passthrough(qemu.kernel_path(BUILD))
    disk = str(tmp_path / 'scratch.img')
    with open(disk, 'wb') as f:
        f.truncate(1 << 30)
    log = str(tmp_path / 'console.log')
    vm = qemu.VM(env.initrd(), log=log, mem=512, net_args=env.net_args(),
                 extra=qemu.disk_args(disk))
    with vm:
        took = vm.wait_exit(BOOT_S)
        con = vm.console()
    assert took is not None, 'no power-off within %d s:\n%s' % (BOOT_S, con[-4000:])
    assert 'TESTOS: done' in con, con[-4000:]
    assert 'TESTOS: init pid 1 kernel %s' % release in con, con[-4000:]
    assert 'TESTOS: overlay-over-fuse ok' in con, con[-4000:]
    assert 'TESTOS: md5 %s' % env.big_md5 in con, con[-4000:]
    reads = dict(re.findall(r'TESTOS: read (\w+) %d bytes ([\d.]+) ms\n' % BIG, con))
    assert set(reads) == {'cold', 'warm', 'hot'}, con[-4000:]
    assert 'TESTOS: chunked md5 %s' % env.chunked_md5 in con, con[-4000:]
    s = stats(con)
    assert len(s) == 5, con[-4000:]
    print('kernel %s: passthrough=%d; %s bytes read cold %s ms, warm %s ms, hot %s ms; '
          'counters %s' % (release, s[-1]['passthrough'], BIG, reads['cold'], reads['warm'],
                           reads['hot'], s))
    if offered:
        # PID 1's mount took it; the OS's own files (busybox, this script)
        # and big.bin were opened in passthrough mode; none of big.bin's
        # reads (cold, warm, hot) came to the daemon.
        assert s[0]['passthrough'] == 1 and s[0]['passthrough_error'] == 0, s
        assert s[0]['passthrough_opens'] > 0, s
        assert s[2]['passthrough_opens'] > s[0]['passthrough_opens'], s
        assert s[2]['daemon_reads'] == s[0]['daemon_reads'], s
        # the warm and hot opens of big.bin found the backing file its cold
        # open left: answered without the catalog or the cache
        assert s[2]['kept_backing_opens'] >= s[1]['kept_backing_opens'] + 2, s
        # chunked.bin: its first open found no chunk cached (the daemon read
        # and fetched them); the next one (no read) had them joined in the
        # background; the one after that: the kernel read
        assert s[3]['daemon_reads'] > s[2]['daemon_reads'], s
        new = [x['passthrough_opens'] - x['kept_backing_opens'] for x in s]
        assert new[4] == new[3] + 1, s	# one new backing file: the join (the rest: kept)
        assert s[4]['daemon_reads'] == s[3]['daemon_reads'], s
    else:
        assert s[0]['passthrough'] == 0 and s[2]['passthrough_opens'] == 0, s
        assert s[2]['kept_backing_opens'] == 0, s
        assert s[4]['daemon_reads'] > s[3]['daemon_reads'], s
        assert s[1]['daemon_reads'] > s[0]['daemon_reads'], s
