# SPDX-License-Identifier: MIT
"""Independent reader and checker of CernVM-FS repositories, plus helpers
that make them with build/cvmboot (keygen, publish).

The checker uses only python's sqlite3/zlib/hashlib and the openssl command
line, never our C code, so it judges what `cvmboot publish` writes against
the format spec (docs/cvmfs-format.md), not against itself.

    keys = keygen('test.repo', tmp / 'keys')
    publish(tree, repo, 'test.repo', keys, tag='v1', chunk_min=65536)
    r = Repo(repo, pubkey=keys['pub'])
    r.check()                   # raises RepoError naming the first problem
    r.files()                   # {path: bytes} of the published tree
"""
import hashlib
import json
import os
import sqlite3
import struct
import subprocess
import tempfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROOT_MD5 = 'd41d8cd98f00b204e9800998ecf8427e'
COUNTERS = ['regular', 'symlink', 'special', 'dir', 'nested', 'chunked', 'chunks',
            'file_size', 'chunked_size', 'xattr', 'external', 'external_file_size']
F_DIR, F_MOUNT, F_FILE, F_LINK, F_SPECIAL, F_NROOT, F_CHUNKED, F_EXTERNAL = \
    1, 2, 4, 8, 16, 32, 64, 128
CATALOG_TABLES = {
    'properties': ['key', 'value'],
    'catalog': ['md5path_1', 'md5path_2', 'parent_1', 'parent_2', 'hardlinks', 'hash', 'size',
                'mode', 'mtime', 'mtimens', 'flags', 'name', 'symlink', 'uid', 'gid', 'xattr'],
    'chunks': ['md5path_1', 'md5path_2', 'offset', 'size', 'hash'],
    'nested_catalogs': ['path', 'sha1', 'size'],
    'bind_mountpoints': ['path', 'sha1', 'size'],
    'statistics': ['counter', 'value'],
}


class RepoError(Exception):
    """A repository does not follow the format; the message names what."""


def cvmboot_path():
    build = os.environ.get('CVMBOOT_BUILD') or os.path.join(ROOT, 'build')
    return os.path.join(build, 'cvmboot')


def keygen(fqrn, keydir, cvmboot=None):
    """Runs `cvmboot keygen`; returns the paths {pub, masterkey, key, crt, dir}."""
    keydir = str(keydir)
    subprocess.run([cvmboot or cvmboot_path(), 'keygen', fqrn, keydir], check=True,
                   capture_output=True, text=True)
    d = {ext: os.path.join(keydir, '%s.%s' % (fqrn, ext))
         for ext in ('pub', 'masterkey', 'key', 'crt')}
    d['dir'] = keydir
    return d


def publish(tree, repo, name, keys, tag=None, cvmboot=None, check=True, **opts):
    """Runs `cvmboot publish TREE REPO --name NAME --keys DIR [--tag TAG]`.

    keys: the dict from keygen() or a key directory. opts become options:
    description, hash, chunk_min, chunk_avg, chunk_max, whitelist_days,
    threads (values) and rehash/verbose (flags). Returns the
    CompletedProcess (stdout/stderr text); raises if check and it failed."""
    keydir = keys['dir'] if isinstance(keys, dict) else str(keys)
    cmd = [cvmboot or cvmboot_path(), 'publish', str(tree), str(repo), '--name', name,
           '--keys', keydir]
    if tag:
        cmd += ['--tag', tag]
    for k, v in sorted(opts.items()):
        flag = '--' + k.replace('_', '-')
        if v is True:
            cmd.append(flag)
        elif v is not None and v is not False:
            cmd += [flag, str(v)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError('publish failed (%d): %s%s' % (r.returncode, r.stdout, r.stderr))
    return r


def rand(n, seed):
    """n pseudo-random bytes, the same for the same seed (a SHA-256 chain)."""
    out, h = bytearray(), hashlib.sha256(seed.encode()).digest()
    while len(out) < n:
        h = hashlib.sha256(h).digest()
        out += h
    return bytes(out[:n])


def hash_of(data, algo):
    if algo == 'sha1':
        return hashlib.sha1(data).digest()
    if algo == 'rmd160':
        return hashlib.new('ripemd160', data).digest()
    if algo == 'shake128':
        return hashlib.shake_128(data).digest(20)
    raise ValueError(algo)


def parse_hex(s):
    """hex name -> (algo, digest bytes); the algorithm comes from the length."""
    if len(s) == 40:
        return 'sha1', bytes.fromhex(s)
    if len(s) == 47 and s.endswith('-rmd160'):
        return 'rmd160', bytes.fromhex(s[:40])
    if len(s) == 49 and s.endswith('-shake128'):
        return 'shake128', bytes.fromhex(s[:40])
    raise RepoError('bad hash string %r' % s)


def hex_of(algo, digest):
    return digest.hex() + {'sha1': '', 'rmd160': '-rmd160', 'shake128': '-shake128'}[algo]


def md5pair(path):
    return struct.unpack('<qq', hashlib.md5(path.encode()).digest())


def flag_algo(flags):
    return ['sha1', 'rmd160', 'shake128'][(flags >> 8) & 7]


def parse_xattr(blob):
    """v1 blob -> {key: value}; raises RepoError when malformed."""
    if blob is None:
        return {}
    if len(blob) < 2 or blob[0] != 1:
        raise RepoError('xattr blob: bad version')
    n, off, out, keys = blob[1], 2, {}, []
    for _ in range(n):
        if off + 2 > len(blob):
            raise RepoError('xattr blob truncated')
        kl, vl = blob[off], blob[off + 1]
        off += 2
        if kl == 0 or off + kl + vl > len(blob):
            raise RepoError('xattr blob truncated')
        k = blob[off:off + kl]
        out[k.decode()] = blob[off + kl:off + kl + vl]
        keys.append(k)
        off += kl + vl
    if off != len(blob):
        raise RepoError('xattr blob: trailing bytes')
    if keys != sorted(keys):
        raise RepoError('xattr blob: keys not sorted')
    return out


def openssl(*args, data=None):
    r = subprocess.run(['openssl'] + list(args), input=data, capture_output=True)
    return r.returncode, r.stdout, r.stderr


def split_signed(raw, what):
    """file -> (body, hash line, signature) at the first '\\n--\\n'."""
    i = raw.find(b'\n--\n')
    if i < 0:
        raise RepoError('%s: no "--" signature separator' % what)
    body = raw[:i + 1]
    rest = raw[i + 4:]
    j = rest.find(b'\n')
    if j < 0:
        raise RepoError('%s: no hash line' % what)
    return body, rest[:j].decode(), rest[j + 1:]


class Repo:
    """A repository directory (as served over HTTP)."""

    def __init__(self, path, fqrn=None, pubkey=None):
        self.path = str(path)
        self.fqrn = fqrn
        self.pubkey = pubkey
        self.tmp = tempfile.mkdtemp(prefix='cvmfsrepo-')
        self._catalogs = {}

    # ---- raw objects ----
    def object_path(self, hexhash, suffix=''):
        return os.path.join(self.path, 'data', hexhash[:2], hexhash[2:] + suffix)

    def object(self, hexhash, suffix='', inflate=True):
        """Reads an object, checks its hash over the stored bytes, inflates."""
        p = self.object_path(hexhash, suffix)
        try:
            raw = open(p, 'rb').read()
        except OSError as e:
            raise RepoError('object %s missing: %s' % (p, e))
        algo, digest = parse_hex(hexhash)
        if hash_of(raw, algo) != digest:
            raise RepoError('object %s: content does not match its hash' % p)
        if not inflate:
            return raw
        try:
            d = zlib.decompressobj()
            out = d.decompress(raw)
            if not d.eof:
                raise RepoError('object %s: truncated zlib stream' % p)
            return out
        except zlib.error as e:
            raise RepoError('object %s: not zlib: %s' % (p, e))

    # ---- manifest, certificate, whitelist ----
    def manifest(self):
        raw = open(os.path.join(self.path, '.cvmfspublished'), 'rb').read()
        body, hline, sig = split_signed(raw, '.cvmfspublished')
        m = {}
        for line in body.decode().split('\n'):
            if line:
                m[line[0]] = line[1:]
        for k in 'CRDS':
            if k not in m:
                raise RepoError('manifest: key %s missing' % k)
        return {'fields': m, 'body': body, 'hash_line': hline, 'sig': sig, 'raw': raw}

    def cert_pem(self, m=None):
        m = m or self.manifest()
        return self.object(m['fields']['X'], 'X')

    def cert_fingerprint(self, pem):
        """SHA-1 of the DER, by openssl and by hashing the DER ourselves."""
        rc, out, err = openssl('x509', '-noout', '-fingerprint', '-sha1', data=pem)
        if rc:
            raise RepoError('certificate: openssl cannot read it: %s' % err.decode())
        fp = out.decode().strip().split('=', 1)[1]
        rc, der, _ = openssl('x509', '-outform', 'DER', data=pem)
        mine = ':'.join('%02X' % b for b in hashlib.sha1(der).digest())
        if mine != fp:
            raise RepoError('certificate fingerprint mismatch %s != %s' % (mine, fp))
        return fp

    def verify_manifest(self, m=None):
        m = m or self.manifest()
        f = m['fields']
        if self.fqrn and f.get('N') != self.fqrn:
            raise RepoError('manifest: N=%s, expected %s' % (f.get('N'), self.fqrn))
        if f['R'] != ROOT_MD5:
            raise RepoError('manifest: R is not md5("")')
        algo, _ = parse_hex(f['C'])
        if hex_of(algo, hash_of(m['body'], algo)) != m['hash_line']:
            raise RepoError('manifest: body does not match its hash line')
        pem = self.cert_pem(m)
        with open(os.path.join(self.tmp, 'cert.pem'), 'wb') as fh:
            fh.write(pem)
        rc, pub, err = openssl('x509', '-in', fh.name, '-pubkey', '-noout')
        with open(os.path.join(self.tmp, 'certpub.pem'), 'wb') as fh2:
            fh2.write(pub)
        with open(os.path.join(self.tmp, 'msig.bin'), 'wb') as fh3:
            fh3.write(m['sig'])
        rc, out, err = openssl('dgst', '-sha1', '-verify', fh2.name, '-signature', fh3.name,
                               data=m['hash_line'].encode())
        if rc != 0 or b'Verified OK' not in out:
            raise RepoError('manifest: signature does not verify (openssl: %s)' %
                            (out + err).decode().strip())
        return self.cert_fingerprint(pem)

    def whitelist(self):
        raw = open(os.path.join(self.path, '.cvmfswhitelist'), 'rb').read()
        body, hline, sig = split_signed(raw, '.cvmfswhitelist')
        lines = body.decode().split('\n')[:-1]
        if len(lines[0]) != 14 or len(lines[1]) != 15 or lines[1][0] != 'E':
            raise RepoError('whitelist: bad date lines')
        w = {'created': lines[0], 'expires': lines[1][1:], 'fqrn': None, 'fingerprints': [],
             'body': body, 'hash_line': hline, 'sig': sig}
        for line in lines[2:]:
            if line.startswith('N'):
                w['fqrn'] = line[1:]
            elif line:
                w['fingerprints'].append(line.split(' ')[0].split('#')[0].strip())
        return w

    def verify_whitelist(self, fingerprint, now=None):
        import time
        w = self.whitelist()
        if self.fqrn and w['fqrn'] != self.fqrn:
            raise RepoError('whitelist: names %s' % w['fqrn'])
        algo, _ = parse_hex(w['hash_line'])
        if hex_of(algo, hash_of(w['body'], algo)) != w['hash_line']:
            raise RepoError('whitelist: body does not match its hash line')
        if not self.pubkey:
            raise RepoError('whitelist: no master public key given')
        sigf = os.path.join(self.tmp, 'wsig.bin')
        with open(sigf, 'wb') as fh:
            fh.write(w['sig'])
        rc, out, err = openssl('pkeyutl', '-verifyrecover', '-pubin', '-inkey', self.pubkey,
                               '-in', sigf)
        if rc != 0 or out != w['hash_line'].encode():
            raise RepoError('whitelist: signature does not recover the hash line')
        now = time.strftime('%Y%m%d%H', time.gmtime(now))
        if not now < w['expires'][:10]:
            raise RepoError('whitelist: expired %s' % w['expires'])
        if fingerprint not in w['fingerprints']:
            raise RepoError('whitelist: certificate %s not listed' % fingerprint)
        return w

    # ---- catalogs ----
    def catalog(self, hexhash):
        """sqlite3 connection on the inflated catalog object."""
        if hexhash not in self._catalogs:
            data = self.object(hexhash, 'C')
            p = os.path.join(self.tmp, hexhash + '.db')
            with open(p, 'wb') as fh:
                fh.write(data)
            self._catalogs[hexhash] = (sqlite3.connect(p), len(data))
        return self._catalogs[hexhash][0]

    def catalog_size(self, hexhash):
        self.catalog(hexhash)
        return self._catalogs[hexhash][1]

    def properties(self, hexhash):
        return dict(self.catalog(hexhash).execute('SELECT key, value FROM properties'))

    def history(self, m=None):
        m = m or self.manifest()
        h = m['fields'].get('H')
        if not h:
            return None
        p = os.path.join(self.tmp, 'history-%s.db' % h)
        with open(p, 'wb') as fh:
            fh.write(self.object(h, 'H'))
        return sqlite3.connect(p)

    def tags(self):
        db = self.history()
        if db is None:
            return {}
        cols = ['name', 'hash', 'revision', 'timestamp', 'channel', 'description', 'size',
                'branch']
        return {r[0]: dict(zip(cols, r)) for r in db.execute('SELECT %s FROM tags' %
                                                             ', '.join(cols))}

    def walk(self, root=None):
        """{path: entry} over all catalogs of one revision. entry: the row as
        a dict plus 'catalog' (hex) and 'chunks' [(offset, size, hex)]."""
        root = root or self.manifest()['fields']['C']
        out = {}
        self._walk(root, out, '', 0)
        return out

    def _walk(self, h, out, prefix, depth):
        if depth > 64:
            raise RepoError('nested catalogs too deep')
        db = self.catalog(h)
        cols = CATALOG_TABLES['catalog']
        rows = [dict(zip(cols, r)) for r in db.execute('SELECT %s FROM catalog' %
                                                       ', '.join(cols))]
        by_md5 = {(r['md5path_1'], r['md5path_2']): r for r in rows}
        # rebuild paths from the catalog root down, by parent md5
        children = {}
        for r in rows:
            children.setdefault((r['parent_1'], r['parent_2']), []).append(r)
        root_row = by_md5.get(md5pair(prefix))
        if root_row is None:
            raise RepoError('catalog %s: no row for its root %r' % (h, prefix))
        seen = 0
        stack = [(prefix, root_row)]
        while stack:
            path, r = stack.pop()
            seen += 1
            if md5pair(path) != (r['md5path_1'], r['md5path_2']):
                raise RepoError('%s: md5path columns wrong' % path)
            e = dict(r)
            e['catalog'] = h
            e['chunks'] = [(o, s, hex_of(flag_algo(r['flags']), hh)) for o, s, hh in db.execute(
                'SELECT offset, size, hash FROM chunks WHERE md5path_1=? AND md5path_2=? '
                'ORDER BY offset', (r['md5path_1'], r['md5path_2']))]
            if path in out and not (out[path]['flags'] & F_MOUNT):
                raise RepoError('%s: in two catalogs' % path)
            if path not in out or (r['flags'] & F_NROOT):
                out[path] = e
            if r['flags'] & F_DIR and (path == prefix or not r['flags'] & F_MOUNT):
                for c in children.get(md5pair(path), []):
                    if c is r:
                        continue
                    stack.append((path + '/' + c['name'], c))
        if seen != len(rows):
            raise RepoError('catalog %s: %d rows, %d reachable from its root' %
                            (h, len(rows), seen))
        for path, sub, size in db.execute('SELECT path, sha1, size FROM nested_catalogs'):
            if self.catalog_size(sub) != size:
                raise RepoError('nested catalog %s: size %d != %d' %
                                (path, size, self.catalog_size(sub)))
            self._walk(sub, out, path, depth + 1)

    def content(self, e):
        """Bytes of a regular file entry (bulk or chunks), every hash checked."""
        if e['flags'] & F_CHUNKED:
            data, off = b'', 0
            for o, s, hx in e['chunks']:
                if o != off:
                    raise RepoError('chunk gap at %d' % off)
                part = self.object(hx, 'P')
                if len(part) != s:
                    raise RepoError('chunk %s: %d bytes, row says %d' % (hx, len(part), s))
                data += part
                off += s
        else:
            data = self.object(hex_of(flag_algo(e['flags']), e['hash']))
        if len(data) != e['size']:
            raise RepoError('file of %d bytes, catalog says %d' % (len(data), e['size']))
        return data

    def files(self, root=None):
        """{path: bytes} of every regular file."""
        return {p: self.content(e) for p, e in self.walk(root).items()
                if (e['flags'] & (F_FILE | F_LINK | F_SPECIAL)) == F_FILE}

    # ---- reflog and meta-info (spec section 6) ----
    REF_SUFFIX = {0: 'C', 1: 'X', 2: 'H', 3: 'M'}

    def reflog(self):
        """{(hex, type): timestamp} of REPO/.cvmfsreflog, or None if absent."""
        p = os.path.join(self.path, '.cvmfsreflog')
        if not os.path.exists(p):
            return None
        copy = os.path.join(self.tmp, 'reflog.db')
        with open(p, 'rb') as src, open(copy, 'wb') as dst:
            dst.write(src.read())
        db = sqlite3.connect(copy)
        try:
            return self._reflog_rows(db)
        finally:
            db.close()

    def _reflog_rows(self, db):
        tables = {t: [r[1] for r in db.execute('PRAGMA table_info(%s)' % t)]
                  for t in ('properties', 'refs')}
        if tables['properties'] != ['key', 'value']:
            raise RepoError('reflog: properties table has columns %s' % tables['properties'])
        if tables['refs'] != ['hash', 'type', 'timestamp']:
            raise RepoError('reflog: refs table has columns %s' % tables['refs'])
        pk = [r[1] for r in db.execute('PRAGMA table_info(refs)') if r[5]]
        if pk != ['hash']:
            raise RepoError('reflog: refs primary key is %s, not (hash)' % pk)
        props = dict(db.execute('SELECT key, value FROM properties'))
        try:
            schema, rev = float(props.get('schema')), int(props.get('schema_revision'))
        except (TypeError, ValueError):
            raise RepoError('reflog: schema properties %r' % props)
        if schema != 1.0 or rev != 0:
            raise RepoError('reflog: schema %s revision %s (want 1.0 / 0)' % (schema, rev))
        if 'fqrn' not in props:
            raise RepoError('reflog: no fqrn property')
        self._reflog_fqrn = props['fqrn']
        out = {}
        for h, t, ts in db.execute('SELECT hash, type, timestamp FROM refs'):
            if t not in self.REF_SUFFIX:
                raise RepoError('reflog: reference %s has type %r' % (h, t))
            if not isinstance(ts, int) or ts <= 0:
                raise RepoError('reflog: reference %s has timestamp %r' % (h, ts))
            parse_hex(h)
            out[(h, t)] = ts
        return out

    def check_reflog(self, m=None, tags=None):
        """Manifest Y = hash of .cvmfsreflog; it names this repository and
        lists the manifest's root catalog, certificate, history and meta-info
        and every tag's root catalog; each listed object exists and matches
        its hash. Returns the references."""
        m = m or self.manifest()
        f = m['fields']
        if 'Y' not in f:
            raise RepoError('manifest: no Y (reflog hash)')
        p = os.path.join(self.path, '.cvmfsreflog')
        try:
            raw = open(p, 'rb').read()
        except OSError as e:
            raise RepoError('reflog %s missing: %s' % (p, e))
        algo, _ = parse_hex(f['C'])
        if hex_of(algo, hash_of(raw, algo)) != f['Y']:
            raise RepoError('manifest: Y %s is not the hash of .cvmfsreflog' % f['Y'])
        refs = self.reflog()
        if self._reflog_fqrn != f.get('N'):
            raise RepoError('reflog: fqrn %r, manifest names %r' % (self._reflog_fqrn, f.get('N')))
        want = [(f['C'], 0), (f['X'], 1)]
        want += [(f[k], t) for k, t in (('H', 2), ('M', 3)) if k in f]
        want += [(t['hash'], 0) for t in (tags or {}).values()]
        for key in want:
            if key not in refs:
                raise RepoError('reflog: %s (type %d) not listed' % key)
        for h, t in refs:
            self.object(h, self.REF_SUFFIX[t])
        return refs

    def metainfo(self, m=None):
        """The meta-info object as a dict (zlib JSON object, spec section 6)."""
        m = m or self.manifest()
        h = m['fields'].get('M')
        if not h:
            raise RepoError('manifest: no M (meta-info)')
        data = self.object(h, 'M')
        try:
            info = json.loads(data.decode())
        except (UnicodeDecodeError, ValueError) as e:
            raise RepoError('meta-info %s: not JSON: %s' % (h, e))
        if not isinstance(info, dict):
            raise RepoError('meta-info %s: not a JSON object' % h)
        if not isinstance(info.get('recommended-stratum1s', []), list) or \
                not isinstance(info.get('custom', {}), dict):
            raise RepoError('meta-info %s: recommended-stratum1s or custom has the wrong type'
                            % h)
        return info

    # ---- the whole check ----
    def check_schema(self, h, nested_path):
        db = self.catalog(h)
        for t, cols in CATALOG_TABLES.items():
            have = [r[1] for r in db.execute('PRAGMA table_info(%s)' % t)]
            if have != cols:
                raise RepoError('catalog %s: table %s has columns %s' % (h, t, have))
        idx = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")]
        if 'idx_catalog_parent' not in idx:
            raise RepoError('catalog %s: no idx_catalog_parent' % h)
        p = self.properties(h)
        if p.get('schema') != '2.5' or p.get('schema_revision') != '7':
            raise RepoError('catalog %s: schema %s r%s' % (h, p.get('schema'),
                                                           p.get('schema_revision')))
        for k in ('revision', 'last_modified'):
            if k not in p:
                raise RepoError('catalog %s: property %s missing' % (h, k))
        if nested_path:
            if p.get('root_prefix') != nested_path:
                raise RepoError('catalog %s: root_prefix %r' % (h, p.get('root_prefix')))
        elif 'TTL' not in p:
            raise RepoError('root catalog: no TTL property')
        stats = dict(db.execute('SELECT counter, value FROM statistics'))
        want = ['%s_%s' % (a, c) for a in ('self', 'subtree') for c in COUNTERS]
        if sorted(stats) != sorted(want):
            raise RepoError('catalog %s: statistics rows %s' % (h, sorted(stats)))
        return stats

    def check_counters(self, h, nested_path=''):
        """Recomputes self_* from the rows and subtree_* from the children;
        returns (self, subtree) dicts."""
        stats = self.check_schema(h, nested_path)
        db = self.catalog(h)
        mine = dict.fromkeys(COUNTERS, 0)
        for flags, size, xattr, p1, p2 in db.execute(
                'SELECT flags, size, xattr, md5path_1, md5path_2 FROM catalog'):
            if flags & F_DIR:
                mine['dir'] += 1
            elif flags & F_LINK:
                mine['symlink'] += 1
            elif flags & F_SPECIAL:
                mine['special'] += 1
            else:
                mine['regular'] += 1
                mine['file_size'] += size
                if flags & F_CHUNKED:
                    mine['chunked'] += 1
                    mine['chunked_size'] += size
                    mine['chunks'] += db.execute(
                        'SELECT count(*) FROM chunks WHERE md5path_1=? AND md5path_2=?',
                        (p1, p2)).fetchone()[0]
            if xattr is not None:
                mine['xattr'] += 1
        sub = dict.fromkeys(COUNTERS, 0)
        for path, child, _ in db.execute('SELECT path, sha1, size FROM nested_catalogs'):
            mine['nested'] += 1
            cs, csub = self.check_counters(child, path)
            for c in COUNTERS:
                sub[c] += cs[c] + csub[c]
        for c in COUNTERS:
            if stats['self_' + c] != mine[c] or stats['subtree_' + c] != sub[c]:
                raise RepoError('catalog %s: counter %s is self %d / subtree %d, rows say %d / %d'
                                % (h, c, stats['self_' + c], stats['subtree_' + c], mine[c],
                                   sub[c]))
        return mine, sub

    def check_entries(self, entries):
        for path, e in entries.items():
            f = e['flags']
            if e['name'] is None or e['symlink'] is None:
                raise RepoError('%s: NULL name or symlink' % path)
            parse_xattr(e['xattr'])
            mode = e['mode']
            if f & F_DIR:
                if not (mode & 0o170000) == 0o040000 or e['hash'] is not None:
                    raise RepoError('%s: directory row wrong' % path)
            elif f & F_LINK:
                if mode & 0o170000 != 0o120000 or not e['symlink'] or not f & F_FILE:
                    raise RepoError('%s: symlink row wrong' % path)
            elif f & F_SPECIAL:
                if not f & F_FILE or e['hash'] is not None:
                    raise RepoError('%s: special row wrong' % path)
            elif f & F_FILE:
                if mode & 0o170000 != 0o100000:
                    raise RepoError('%s: file row with mode %o' % (path, mode))
                self.content(e)
            parent = path.rsplit('/', 1)[0] if path else None
            want = (0, 0) if path == '' else md5pair(parent)
            if (e['parent_1'], e['parent_2']) != want:
                raise RepoError('%s: parent columns wrong' % path)

    def check(self, now=None):
        """Every check of the format; raises RepoError at the first problem.
        Returns a summary dict."""
        m = self.manifest()
        fp = self.verify_manifest(m)
        self.verify_whitelist(fp, now)
        f = m['fields']
        root = f['C']
        if int(f.get('B', -1)) != self.catalog_size(root):
            raise RepoError('manifest B=%s, root catalog has %d bytes' %
                            (f.get('B'), self.catalog_size(root)))
        props = self.properties(root)
        if props.get('revision') != f['S']:
            raise RepoError('root catalog revision %s != manifest S %s' %
                            (props.get('revision'), f['S']))
        self.check_counters(root)
        entries = self.walk(root)
        self.check_entries(entries)
        tags = self.tags()
        if 'trunk' not in tags or tags['trunk']['hash'] != root:
            raise RepoError('history: trunk does not point at the root catalog')
        for name, t in tags.items():
            self.check_counters(t['hash'])
            self.check_entries(self.walk(t['hash']))
        self.metainfo(m)
        refs = self.check_reflog(m, tags)
        return {'refs': len(refs), 'root': root, 'revision': int(f['S']), 'entries': len(entries),
                'fingerprint': fp, 'tags': sorted(tags)}

    def object_files(self):
        """Set of every object file name under data/ (xx/rest+suffix)."""
        out = set()
        for d in os.listdir(os.path.join(self.path, 'data')):
            if len(d) != 2:
                continue
            for n in os.listdir(os.path.join(self.path, 'data', d)):
                out.add(d + '/' + n)
        return out
