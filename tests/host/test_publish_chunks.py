# SPDX-License-Identifier: MIT
"""Content-defined chunking identical to upstream CernVM-FS (issue 19).

The expected cut offsets come from xor32_cuts() below, written from the
format spec (§9, "Upstream's xor32 cut rule, exactly"), not from our C: the
chunk list that `cvmboot publish` writes must be the same, offset for offset.
"""
import bisect
import random
import re

import pytest

from cvmfsrepo import F_CHUNKED, Repo, keygen, publish, rand

FQRN = 'test.repo'
MAGIC = 0x7FFFFFFF           # the middle of the 32-bit range
WINDOW = 32                  # xor32 depends on the last 32 bytes only


def xor32_hit(x, thr):
    """abs((int32_t)x - MAGIC) < thr, in 32-bit two's complement with
    wrap-around (upstream builds with -fwrapv): INT32_MIN stays negative."""
    d = (x - MAGIC) & 0xFFFFFFFF
    if d >= 1 << 31:
        d -= 1 << 32
    a = d if d == -(1 << 31) else abs(d)
    return a < thr


def xor32_cuts(data, cmin, cavg, cmax):
    """[(offset, size)] of upstream's chunks of data (spec §9)."""
    if len(data) <= cmin:
        return [(0, len(data))]
    thr = (0xFFFFFFFF // cavg) & 0xFFFFFFFF
    if thr >= 1 << 31:
        thr -= 1 << 32
    out, c, n = [], 0, len(data)
    while True:
        x = 0
        for o in range(c + cmin - WINDOW, min(c + cmin, n)):
            x = ((x << 1) ^ data[o]) & 0xFFFFFFFF
        cut = None
        o = c + cmin
        while o < min(c + cmax, n):
            x = ((x << 1) ^ data[o]) & 0xFFFFFFFF
            if xor32_hit(x, thr):
                cut = o
                break
            o += 1
        if cut is None and c + cmax < n:
            cut = c + cmax
        if cut is None:
            out.append((c, n - c))
            return out
        out.append((c, cut - c))
        c = cut


def xor32_hits(data, cavg, block=4 << 20):
    """Every offset o >= 32 where the rolling value over data[o-31..o] is a
    hit. A tested byte is at least min >= 32 bytes into its chunk, and x
    depends only on the last 32 bytes fed, all fed since the reset at the
    chunk's start: so x there equals the whole stream's rolling value, and
    the hits can be found for all offsets at once. Vectorised with Python
    integers, one 40-bit lane per offset: lane o = XOR_k data[o-k] << k
    (at most 39 bits), then lane-wise (x - lo) mod 2^32 >= width in bit 32."""
    thr = 0xFFFFFFFF // cavg
    lo, width = MAGIC - thr + 1, 2 * thr - 1      # x in [lo, lo + width)
    out, consts = [], {}
    for s in range(0, len(data), block):
        part = data[max(0, s - 31):s + block]
        skip = min(s, 31)
        n = len(part)
        if n not in consts:
            consts[n] = (int.from_bytes(b'\xff\xff\xff\xff\0' * n, 'little'),
                         int.from_bytes(b'\1\0\0\0\0' * n, 'little'))
        m32, ones = consts[n]
        lanes = bytearray(5 * n)
        lanes[0::5] = part
        x = int.from_bytes(lanes, 'little')
        for k in (1, 2, 4, 8, 16):  # XOR over k < 2, 4, 8, 16, 32 by doubling
            x ^= x << (41 * k)
        x &= m32
        y = (x + ones * ((1 << 32) - lo)) & m32           # (x - lo) mod 2^32
        outside = (y + ones * ((1 << 32) - width)).to_bytes(5 * n + 5, 'little')[4::5]
        allones = (x + ones).to_bytes(5 * n + 5, 'little')[4::5]   # x == 0xffffffff
        base, first = s - skip, max(skip, 32 - (s - skip))
        found = {m.start() for m in re.finditer(b'\x00', outside[:n])}
        found |= {m.start() for m in re.finditer(b'\x01', allones[:n])}
        out += sorted(base + i for i in found if i >= first)
    return out


def cuts_from_hits(hits, n, cmin, cmax):
    """[(offset, size)] from the hit offsets, by the spec's walk."""
    if n <= cmin:
        return [(0, n)]
    out, c = [], 0
    while True:
        j = bisect.bisect_left(hits, c + cmin)
        h = hits[j] if j < len(hits) else None
        if h is not None and h < c + cmax and h < n:
            cut = h
        elif c + cmax < n:
            cut = c + cmax
        else:
            out.append((c, n - c))
            return out
        out.append((c, cut - c))
        c = cut


@pytest.fixture(scope='module')
def keys(tmp_path_factory, cvmboot):
    return keygen(FQRN, tmp_path_factory.mktemp('keys') / 'k', cvmboot=cvmboot)


def publish_files(base, keys, files, **sizes):
    """Publishes {name: bytes} into a new repository under base; returns
    the checked repository's entries (every chunked file's chunk list)."""
    src, repo = base / 'src', base / 'repo'
    src.mkdir(parents=True)
    for name, data in files.items():
        (src / name).write_bytes(data)
    publish(src, repo, FQRN, keys, **sizes)
    r = Repo(repo, FQRN, keys['pub'])
    r.check()
    entries = r.walk()
    for name in files:
        assert entries['/' + name]['flags'] & F_CHUNKED, name
    return entries


def test_reference_rule_corners():
    """The spec's rule as written here: a hit at byte o makes the chunk
    [c, o); the value 0xffffffff cuts (INT32_MIN case); zeros never cut."""
    cmin, cavg, cmax = 1024, 2048, 4096
    assert xor32_hit(MAGIC, 10) and xor32_hit(0xFFFFFFFF, 10)
    assert xor32_hit(0x80000000, 10) and not xor32_hit(0, 10)
    assert not xor32_hit(0xFFFFFFFE, 10)
    # no hit at all in zeros: hard cuts at max
    assert xor32_cuts(bytes(10000), cmin, cavg, cmax) == [(0, 4096), (4096, 4096),
                                                            (8192, 1808)]
    # x = 0x7fffffff exactly at byte cmin + 5: 31 one-bits fed as 0x01 bytes
    d = bytearray(10000)
    d[cmin + 5 - 30:cmin + 6] = b'\x01' * 31
    assert xor32_cuts(bytes(d), cmin, cavg, cmax)[0] == (0, cmin + 5)


def test_same_cuts_as_upstream(tmp_path, keys):
    """Pseudo-random data with a run of zeros (hard cuts at max) and a forced
    0xffffffff value at the first chunk's first tested byte."""
    sizes = dict(chunk_min=65536, chunk_avg=131072, chunk_max=262144)
    a = bytearray(rand(3 << 20, 'cdc-a'))
    # bytes [min-32, min): x = 0xffffff80 (25 one-bits, 7 zero-bits, one
    # bit per byte); byte min = 0xff makes x = 0xffffffff: a cut at min
    m = sizes['chunk_min']
    a[m - 32:m] = b'\x01' * 25 + b'\x00' * 7
    a[m] = 0xFF
    a[1 << 20:(1 << 20) + 700000] = bytes(700000)
    a = bytes(a)
    b = rand(5 << 20, 'cdc-b')
    odd = dict(chunk_min=100000, chunk_avg=150000, chunk_max=300000)
    entries = publish_files(tmp_path, keys, {'a': a, 'b': b}, **sizes)
    want_a = xor32_cuts(a, 65536, 131072, 262144)
    assert want_a[0] == (0, m)
    assert sum(1 for _, s in want_a if s == 262144) >= 2      # the zero run
    assert [(o, s) for o, s, _ in entries['/a']['chunks']] == want_a
    want_b = xor32_cuts(b, 65536, 131072, 262144)
    assert [(o, s) for o, s, _ in entries['/b']['chunks']] == want_b
    # the fast reference (used for 100 MiB below) agrees with the literal one
    assert cuts_from_hits(xor32_hits(a, 131072), len(a), 65536, 262144) == want_a
    assert cuts_from_hits(xor32_hits(b, 131072), len(b), 65536, 262144) == want_b
    assert len(want_b) > 25 and sum(s < 262144 for _, s in want_b) > len(want_b) // 2
    # a non-power-of-two average (threshold 28,633)
    entries = publish_files(tmp_path / 'odd', keys, {'b': b}, **odd)
    assert [(o, s) for o, s, _ in entries['/b']['chunks']] == \
        xor32_cuts(b, 100000, 150000, 300000)


def test_insertion_changes_one_or_two_chunks(tmp_path, keys):
    sizes = dict(chunk_min=65536, chunk_avg=131072, chunk_max=262144)
    a = rand(4 << 20, 'cdc-ins')
    b = a[:1000] + b'!' + a[1000:]
    entries = publish_files(tmp_path, keys, {'a': a, 'b': b}, **sizes)
    ca, cb = entries['/a']['chunks'], entries['/b']['chunks']
    assert len(ca) > 20
    ha = {h for _, _, h in ca}
    new = [c for c in cb if c[2] not in ha]
    assert 1 <= len(new) <= 2, new
    # the new chunks come first; the rest are a's objects, one byte further on
    assert cb[:len(new)] == new
    k = len(ca) - (len(cb) - len(new))
    assert 1 <= k <= 2
    assert [(o + 1, s, h) for o, s, h in ca[k:]] == cb[len(new):]


def test_100mib_random_file_default_sizes(tmp_path, keys):
    """Defaults 4/8/16 MiB: upstream made 15 chunks of 2.1-12.4 MiB from a
    random 100 MiB file; expected ~12-16, never all at the maximum. The
    cuts are upstream's, offset for offset."""
    data = random.Random(19).randbytes(100 << 20)
    entries = publish_files(tmp_path, keys, {'f': data})
    ch = [(o, s) for o, s, _ in entries['/f']['chunks']]
    sizes = [s for _, s in ch]
    print('chunks of a 100 MiB random file:', len(ch), sizes)
    assert ch == cuts_from_hits(xor32_hits(data, 8 << 20), len(data), 4 << 20, 16 << 20)
    assert 10 <= len(ch) <= 18, sizes
    assert sum(1 for s in sizes[:-1] if s == 16 << 20) < len(sizes) - 1, sizes
    assert all(4 << 20 <= s <= 16 << 20 for s in sizes[:-1]), sizes
