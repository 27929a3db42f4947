#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<name>/.

Seeds come from tests/data (copied or combined), from small inputs built
here (FUSE requests, HTTP responses, xattr blobs, command lines), and from a
tiny repository made with `cvmboot keygen` + `cvmboot publish` (manifest,
whitelist, certificate object, decompressed catalog and history database).

    CVMBOOT_BUILD=$PWD/build-x python3 tests/fuzz/gen_corpus.py

Deterministic except for the published repository's keys and timestamps.
Every seed stays far below 100 KB (checked)."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, 'tests', 'data')
OUT = os.path.join(HERE, 'corpus')
SEP = b'\n--8<--\n'
sys.path.insert(0, os.path.join(ROOT, 'tests', 'lib'))


def put(target, name, data):
    if len(data) > 100 * 1024:
        raise SystemExit('seed %s/%s is %d bytes (> 100 KB)' % (target, name, len(data)))
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def rd(*rel):
    with open(os.path.join(DATA, *rel), 'rb') as f:
        return f.read()


def fuse_req(opcode, nodeid, body, unique=1):
    hdr = struct.pack('<IIQQIIIHH', 40 + len(body), opcode, unique, nodeid, 0, 0, 0, 0, 0)
    return hdr + body


def fuse_seq(*reqs):
    return b''.join(struct.pack('<H', len(r)) + r for r in reqs)


def fuse_seeds():
    init = fuse_req(26, 0, struct.pack('<IIIII', 7, 38, 131072, 0x7fffffff, 0) + bytes(44))
    read_in = lambda fh, off, size: struct.pack('<QQIIQII', fh, off, size, 0, 0, 0, 0)
    put('fuse', 'session', fuse_seq(
        init,
        fuse_req(1, 1, b'a\0', 2),
        fuse_req(1, 1, b'nothere\0', 3),
        fuse_req(3, 2, struct.pack('<IIQ', 0, 0, 0), 4),
        fuse_req(14, 2, struct.pack('<II', 0, 0), 5),
        fuse_req(15, 2, read_in(2, 0, 4096), 6),
        fuse_req(15, 2, read_in(2, 12000, 1 << 20), 7),
        fuse_req(18, 2, struct.pack('<QIIQ', 2, 0, 0, 0), 8),
        fuse_req(27, 1, struct.pack('<II', 0, 0), 9),
        fuse_req(28, 1, read_in(1, 0, 4096), 10),
        fuse_req(44, 1, read_in(1, 2, 4096), 11),
        fuse_req(29, 1, struct.pack('<QIIQ', 1, 0, 0, 0), 12),
        fuse_req(5, 3, b'', 13),
        fuse_req(17, 1, b'', 14),
        fuse_req(22, 2, struct.pack('<II', 0, 0) + b'user.v\0', 15),
        fuse_req(22, 2, struct.pack('<II', 64, 0) + b'user.v\0', 16),
        fuse_req(23, 2, struct.pack('<II', 64, 0), 17),
        fuse_req(34, 2, struct.pack('<II', 2, 0), 18),
        fuse_req(2, 2, struct.pack('<Q', 1), 0),
        fuse_req(42, 0, struct.pack('<II', 2, 0) + struct.pack('<QQQQ', 2, 1, 3, 1), 0),
        fuse_req(9, 1, b'x\0', 19),		# MKDIR: EROFS
        fuse_req(4095, 1, b'', 20),		# unknown: ENOSYS
        fuse_req(38, 0, b'', 21)))		# DESTROY
    put('fuse', 'init-old-minor', fuse_seq(
        fuse_req(26, 0, struct.pack('<IIII', 7, 8, 0, 0)), fuse_req(3, 1, bytes(16), 2),
        fuse_req(1, 1, b'b\0', 3)))
    put('fuse', 'init-bad-major', fuse_seq(fuse_req(26, 0, struct.pack('<IIII', 6, 1, 0, 0))))


def http_seeds():
    heads = {
        'ok-length': b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: x\r\n\r\nhello',
        'chunked': b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
                   b'5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n',
        'close': b'HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nbody until eof',
        'notfound': b'HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found',
        'redirect': b'HTTP/1.1 302 Found\r\nLocation: http://[::1]:8080/a?b=c\r\n'
                    b'Content-Length: 0\r\n\r\n',
        'squid': b'HTTP/1.1 503 Service Unavailable\r\nX-Squid-Error: ERR_CONNECT_FAIL 111\r\n'
                 b'Proxy-Status: squid; error=connection_refused\r\nContent-Length: 0\r\n\r\n',
        'continue': b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
        'folded': b'HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\nContent-Length:  3 \r\n\r\nabc',
        'short': b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial',
    }
    for name, resp in heads.items():
        put('http_head', name, resp.split(b'\r\n\r\n', 1)[0] + b'\r\n\r\n')
        put('http_exchange', name, b'\x07\x00' + resp)
        put('http_exchange', name + '-bytewise-timeout', b'\x00\x01' + resp)
    put('http_head', 'url', b'https://user@cvmfs-stratum-one.cern.ch:8000/cvmfs/@fqrn@?x=1')
    put('http_head', 'chunkline', b'1F;name=value\r\n')


def publish_seeds(tmp):
    import cvmfsrepo
    tree = os.path.join(tmp, 'tree')
    os.makedirs(os.path.join(tree, 'sub', 'deep'))
    with open(os.path.join(tree, 'hello'), 'w') as f:
        f.write('hello world\n')
    with open(os.path.join(tree, 'sub', 'big'), 'wb') as f:
        f.write(bytes(range(256)) * 1200)	# chunked with chunk_min below
    os.symlink('hello', os.path.join(tree, 'link'))
    os.link(os.path.join(tree, 'hello'), os.path.join(tree, 'hard'))
    open(os.path.join(tree, 'sub', '.cvmfscatalog'), 'w').close()
    subprocess.run(['setfattr', '-n', 'user.fuzz', '-v', 'seed', os.path.join(tree, 'hello')],
                   check=False, capture_output=True)
    keys = cvmfsrepo.keygen('fuzz.seed', os.path.join(tmp, 'keys'))
    repo = os.path.join(tmp, 'repo')
    cvmfsrepo.publish(tree, repo, 'fuzz.seed', keys, tag='v1', chunk_min=65536,
                      chunk_avg=131072, chunk_max=262144)
    with open(os.path.join(repo, '.cvmfspublished'), 'rb') as f:
        man = f.read()
    put('manifest', 'published', man)
    with open(os.path.join(repo, '.cvmfswhitelist'), 'rb') as f:
        put('whitelist', 'published', f.read())
    n = 0
    for dirpath, _, files in sorted(os.walk(os.path.join(repo, 'data'))):
        for fn in sorted(files):
            with open(os.path.join(dirpath, fn), 'rb') as f:
                obj = f.read()
            if fn.endswith('X'):
                put('cert', 'published.certX', obj)
            elif fn.endswith('C') or fn.endswith('H'):
                raw = zlib.decompress(obj)
                n += 1
                put('catalog' if fn.endswith('C') else 'history', 'published-%d' % n, raw)
                # The same bytes for the other target: catalogs are SQLite too.
                put('history' if fn.endswith('C') else 'catalog', 'other-%d' % n, raw)


def catalog_rows_seeds():
    """Edit programs for fuzz_catalog_rows (see its header): byte 0 picks the
    base catalog, then [target, row, kind, arg] + value per edit. Targets:
    0/1 md5path, 7 mode, 11 name, 19 chunks.size, 21 nested path, 25
    properties value; kinds: 1 text, 4 special integer, 5 copy, 6 duplicate."""
    e = lambda t, row, kind, arg, val=b'': bytes([t, row, kind, arg]) + val
    put('catalog_rows', 'noop', b'\0')
    put('catalog_rows', 'name-slash', b'\0' + e(11, 1, 1, 3, b'a/b'))
    put('catalog_rows', 'name-dotdot', b'\1' + e(11, 2, 1, 2, b'..') + e(11, 3, 1, 1, b'.'))
    put('catalog_rows', 'dup-row', b'\0' + e(0, 1, 6, 5) + e(0, 2, 6, 9))
    put('catalog_rows', 'same-id-as-root', b'\0' + e(0, 1, 5, 0) + e(1, 1, 5, 0))
    put('catalog_rows', 'chunk-size', b'\0' + e(19, 0, 4, 12) + e(19, 1, 4, 13))
    put('catalog_rows', 'nested-root', b'\0' + e(21, 0, 1, 0))
    put('catalog_rows', 'mode-fifo', b'\1' + e(7, 1, 4, 19) + e(7, 2, 4, 16))
    put('catalog_rows', 'revision', b'\0' + e(25, 1, 1, 1, b'9') + e(25, 2, 1, 2, b'-1'))


def read_seeds():
    """fuzz_read (see its header): catalog edits, three blobs, server
    behaviour, FUSE requests; on the base catalog published-2 (hello, hard,
    link, sub): inodes 257.. are its rows."""
    init_free = lambda *reqs: fuse_seq(*reqs)
    read_in = lambda fh, off, size: struct.pack('<QQIIQII', fh, off, size, 0, 0, 0, 0)
    reqs = [fuse_req(1, 1, b'hello\0', 2), fuse_req(1, 1, b'hard\0', 3),
            fuse_req(1, 1, b'link\0', 4), fuse_req(1, 1, b'sub\0', 5)]
    u = 6
    for ino in range(257, 264):
        reqs += [fuse_req(3, ino, struct.pack('<IIQ', 0, 0, 0), u),
                 fuse_req(14, ino, struct.pack('<II', 0, 0), u + 1),
                 fuse_req(15, ino, read_in(0, 0, 4096), u + 2),
                 fuse_req(15, ino, read_in(0, 5, 1 << 17), u + 3),
                 fuse_req(5, ino, b'', u + 4)]
        u += 5
    reqs += [fuse_req(27, 1, struct.pack('<II', 0, 0), u), fuse_req(28, 1, read_in(0, 0, 4096), u + 1),
             fuse_req(44, 1, read_in(0, 0, 4096), u + 2), fuse_req(17, 1, b'', u + 3)]
    session = init_free(*reqs)
    blobs = [b'hello world\n', b'x' * 5000, bytes(range(256)) * 3]
    for name, beh in (('right', b'\x08'), ('sizes-differ', b'\x00'),
                      ('hostile', b'\x08\x00\x03\x04\x05\x06\x07\x01')):
        put('read', name, SEP.join([b'\0'] + blobs + [beh, session]))
    put('read', 'chunked', SEP.join([b'\1'] + blobs + [b'\x08', session]))


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    catalog_rows_seeds()
    read_seeds()
    put('manifest', 'legacy_aufs', rd('cvmfs-lite', 'legacy_aufs.cvmfspublished'))
    put('whitelist', 'legacy_aufs', rd('cvmfs-lite', 'legacy_aufs.cvmfswhitelist'))
    put('cert', 'legacy_aufs.certX', rd('cvmfs-lite', 'legacy_aufs.certX'))
    put('cert', 'legacy_aufs.crt', rd('cvmfs-lite', 'keys', 'legacy_aufs.cern.ch.crt'))
    put('cert', 'legacy_aufs.pub', rd('cvmfs-lite', 'keys', 'legacy_aufs.cern.ch.pub'))
    put('cert', 'tls-good.pem', rd('tls', 'good.pem'))
    put('xattr', 'two', bytes([1, 2, 4, 1]) + b'user' + b'x' + bytes([8, 0]) + b'user.foo')
    put('xattr', 'one', bytes([1, 1, 8, 5]) + b'user.foo' + b'value')
    put('xattr', 'empty', bytes([1, 0]))
    for f in sorted(os.listdir(os.path.join(DATA, 'net'))):
        if f.endswith('.bin'):
            put('dhcp', f, rd('net', f))
    put('cmdline', 'typical', b'BOOT_IMAGE=/vmlinuz console=ttyS0 cvmfs_server=a.cern.ch,b '
        b'cvmfs_http_proxy="http://p:3128;DIRECT" cvmfs_tag=v1 cvmboot.context=ec2,gce '
        b'cvmboot.on_error=retry ip=10.0.0.2::10.0.0.1:255.255.255.0:vm:eth0:off:8.8.8.8 '
        b'-- single\n')
    put('cmdline', 'ip-dhcp', b'ip=dhcp cvmboot.timeout=30 cvmfs_branch=x resize_rootfs=off')
    for f in sorted(os.listdir(os.path.join(DATA, 'boot'))):
        if f.startswith('ud-'):
            put('userdata', f, rd('boot', f))
        elif f.endswith('.tar.gz'):
            put('tar', f, rd('boot', f))
    put('shvars', 'one-context.sh', rd('boot', 'one-context.sh'))
    put('gpt', 'sgdisk-256m', rd('blk', 'gpt-sgdisk-256m-head.bin') + SEP +
        rd('blk', 'gpt-sgdisk-256m-tail.bin'))
    put('gpt', 'mbr-sfdisk', rd('blk', 'mbr-sfdisk-2g.bin'))
    acc = []
    for side in ('upstream', 'local'):
        for k in ('passwd', 'group', 'shadow', 'gshadow'):
            acc.append(rd('aufs-setup', 'accounts', side, k))
    put('accounts', 'debian-like', SEP.join(acc))
    put('accounts', 'upstream-only', SEP.join(acc[:4]))
    fuse_seeds()
    http_seeds()
    with tempfile.TemporaryDirectory() as tmp:
        publish_seeds(tmp)


if __name__ == '__main__':
    main()
