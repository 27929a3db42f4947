#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Benchmark of the cvmfs-lite client (prints, never asserts).

Side by side in one run: warm `find -ls` over ~20,000 entries, cold and warm
`cat` of a 100 MiB tree, each against the same tree on the local disk;
cold-fetch throughput against a plain download (curl, one keep-alive
connection) of the same objects from the same nginx; the daemon's RSS.

    CVMBOOT_BUILD=$PWD/build /usr/bin/python3 tests/bench/bench_mount.py [--small]
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from cvmfsmount import Mount  # noqa: E402
from cvmfsrepo import Repo, hex_of, keygen, publish  # noqa: E402
from servers import Nginx  # noqa: E402

FQRN = 'bench.cvmboot.org'


def timed(fn):
    t = time.monotonic()
    fn()
    return time.monotonic() - t


def sh(cmd, cwd=None):
    subprocess.run(cmd, shell=True, check=True, cwd=cwd, stdout=subprocess.DEVNULL)


def evict_local(tree):
    """Drops one tree from the page cache (not the whole system's)."""
    for dp, _, fs in os.walk(tree):
        for f in fs:
            p = os.path.join(dp, f)
            if os.path.islink(p):
                continue
            fd = os.open(p, os.O_RDONLY)
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)


def make_small_tree(root, n):
    rnd = random.Random(1)
    per = 100
    for d in range(n // per):
        dd = os.path.join(root, 'd%03d' % (d // 20), 's%03d' % d)
        os.makedirs(dd)
        if d % 20 == 0:
            open(os.path.join(os.path.dirname(dd), '.cvmfscatalog'), 'w').close()
        for i in range(per):
            with open(os.path.join(dd, 'f%03d' % i), 'wb') as f:
                f.write(rnd.randbytes(rnd.randrange(50, 400)))


def make_big_tree(root, mib):
    os.makedirs(os.path.join(root, 'many'))
    rnd = random.Random(2)
    # a mix: one 32 MiB file (chunked) and the rest in 1 MiB files
    with open(os.path.join(root, 'big.bin'), 'wb') as f:
        for _ in range(32):
            f.write(rnd.randbytes(1 << 20))
    for i in range(mib - 32):
        with open(os.path.join(root, 'many', 'm%03d' % i), 'wb') as f:
            f.write(rnd.randbytes(1 << 20))


def rss_kib(pid):
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for l in f:
            if l.startswith(('VmRSS', 'VmHWM')):
                k, v = l.split(':')
                out[k] = int(v.split()[0])
    return out


def main():
    small = '--small' in sys.argv
    nfiles, mib = (2000, 40) if small else (20000, 100)
    base = tempfile.mkdtemp(prefix='bench-mount-')
    try:
        t0 = time.monotonic()
        ta, tb = os.path.join(base, 'treeA'), os.path.join(base, 'treeB')
        make_small_tree(ta, nfiles)
        make_big_tree(tb, mib)
        keys = keygen(FQRN, os.path.join(base, 'keys'))
        ra, rb = os.path.join(base, 'repoA'), os.path.join(base, 'repoB')
        publish(ta, ra, FQRN, keys)
        publish(tb, rb, FQRN, keys)
        print('setup: %d-entry tree and %d MiB tree published in %.1f s' %
              (nfiles + nfiles // 100, mib, time.monotonic() - t0))
        rows = []
        with Nginx(ra) as wa, Nginx(rb) as wb:
            # ---- find -ls over the small-file tree ----
            with Mount(wa.url, os.path.join(base, 'mA'), FQRN, keys['pub'],
                       os.path.join(base, 'cA')) as m:
                cold = timed(lambda: sh('find . -ls > /dev/null', cwd=m.mnt))
                warm = min(timed(lambda: sh('find . -ls > /dev/null', cwd=m.mnt))
                           for _ in range(3))
                local = min(timed(lambda: sh('find . -ls > /dev/null', cwd=ta))
                            for _ in range(3))
                lsr = timed(lambda: sh('ls -lR > /dev/null', cwd=m.mnt))
                catcold = timed(lambda: sh('find . -type f -exec cat {} + > /dev/null',
                                           cwd=m.mnt))
                catwarm = timed(lambda: sh('find . -type f -exec cat {} + > /dev/null',
                                           cwd=m.mnt))
                rows.append(('find -ls, %d entries: cold (catalogs only)' % nfiles, cold, None))
                rows.append(('find -ls, warm', warm, local))
                rows.append(('ls -lR, warm', lsr, None))
                evict_local(ta)
                lcat = timed(lambda: sh('find . -type f -exec cat {} + > /dev/null', cwd=ta))
                lcatw = timed(lambda: sh('find . -type f -exec cat {} + > /dev/null', cwd=ta))
                rows.append(('cat all small files, cold', catcold, lcat))
                rows.append(('cat all small files, warm', catwarm, lcatw))
                rss_a = rss_kib(m.pid)
            # ---- 100 MiB tree ----
            cache = os.path.join(base, 'cB')
            with Mount(wb.url, os.path.join(base, 'mB'), FQRN, keys['pub'], cache) as m:
                cold = timed(lambda: sh('cat big.bin many/* > /dev/null', cwd=m.mnt))
                warm = min(timed(lambda: sh('cat big.bin many/* > /dev/null', cwd=m.mnt))
                           for _ in range(2))
                rss_b = rss_kib(m.pid)
                pid_b = m.pid
            evict_local(tb)
            lcold = timed(lambda: sh('cat big.bin many/* > /dev/null', cwd=tb))
            lwarm = min(timed(lambda: sh('cat big.bin many/* > /dev/null', cwd=tb))
                        for _ in range(2))
            rows.append(('cat %d MiB tree, cold (network + verify + inflate)' % mib, cold, lcold))
            rows.append(('cat %d MiB tree, warm (page cache)' % mib, warm, lwarm))
            # remount on the warm disk cache: no network, kernel caches empty
            with Mount(wb.url, os.path.join(base, 'mB'), FQRN, keys['pub'], cache) as m:
                for dp, _, fs in os.walk(cache):
                    pass
                evict_local(cache)
                dc = timed(lambda: sh('cat big.bin many/* > /dev/null', cwd=m.mnt))
            rows.append(('cat %d MiB tree, disk cache cold, remounted' % mib, dc, lcold))
            # ---- cold fetch vs plain download of the same objects ----
            r = Repo(rb)
            urls = []
            for p, e in r.walk().items():
                if e['flags'] & 64:
                    urls += [wb.url + '/data/%s/%sP' % (h[:2], h[2:]) for _, _, h in e['chunks']]
                elif e['hash'] is not None and not e['flags'] & 1:
                    h = hex_of('sha1', e['hash'])
                    urls.append(wb.url + '/data/%s/%s' % (h[:2], h[2:]))
            nbytes = sum(os.path.getsize(os.path.join(rb, u.split(wb.url + '/', 1)[1]))
                         for u in urls)
            cfg = os.path.join(base, 'curl.cfg')
            with open(cfg, 'w') as f:
                for u in urls:
                    f.write('url = "%s"\noutput = "/dev/null"\n' % u)
            plain = timed(lambda: sh('curl -s -K %s' % cfg))
            print()
            print('%-58s %9s %9s %7s' % ('measure', 'cvmfs-lite', 'local', 'ratio'))
            for name, t, ref in rows:
                print('%-58s %8.3fs %9s %7s' % (name, t, '%.3fs' % ref if ref else '-',
                                                '%.1fx' % (t / ref) if ref else '-'))
            mbs = nbytes / (1 << 20)
            print()
            print('cold fetch: %.1f MiB of objects (%d requests): cvmfs-lite %.1f MiB/s, '
                  'curl keep-alive %.1f MiB/s (ratio %.2f)' %
                  (mbs, len(urls), mbs / rows[5][1], mbs / plain, plain / rows[5][1]))
            print('daemon RSS (KiB): small-file tree %s; %d MiB tree %s' %
                  (rss_a, mib, rss_b))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == '__main__':
    main()
