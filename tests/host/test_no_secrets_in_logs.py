# SPDX-License-Identifier: MIT
"""Keys and tokens never appear in what cvmboot prints or writes next to its
results: the private keys of `cvmboot keygen` (repository key and master
key) after a verbose `cvmboot publish`, and the EC2 IMDSv2 token after
`cvmboot context-test` (with --save) against tests/lib/metadata.py. Every
stdout/stderr and every file written (the repository, including the
inflated objects; the saved context) is searched for the secret: its PEM
body lines, and windows of the raw DER bytes for the keys. 127.0.0.1 only."""
import base64
import os
import subprocess
import zlib

import cvmfsrepo
from metadata import MetadataServer

SECTION = (b'#cloud-config\n[ucernvm-begin]\ncvmfs_branch=test.example.org\n'
           b'cvmfs_tag="v1"\n[ucernvm-end]\n')


def pem_secrets(path):
    """(text needles, binary needles) of a PEM private key file."""
    with open(path) as f:
        text = f.read()
    assert 'PRIVATE KEY' in text, '%s is not a private key' % path
    body = [l.strip() for l in text.splitlines() if l.strip() and not l.startswith('-----')]
    der = base64.b64decode(''.join(body))
    # every full base64 line (64 chars of key material), and 24-byte windows
    # of the DER past its header (the integers: modulus, exponents, primes)
    lines = [l for l in body if len(l) >= 40]
    windows = [der[i:i + 24] for i in range(32, len(der) - 24, 97)]
    return lines, windows


def files_under(top):
    for dirpath, _, files in os.walk(top):
        for f in files:
            p = os.path.join(dirpath, f)
            if os.path.isfile(p) and not os.path.islink(p):
                yield p


def contents(path):
    """The file's bytes, plus its inflated form if it is a zlib object."""
    with open(path, 'rb') as f:
        data = f.read()
    out = [data]
    try:
        out.append(zlib.decompress(data))
    except zlib.error:
        pass
    return out


def leaks(blobs, text_needles, bin_needles):
    """Names of the blobs (name -> bytes) that contain a needle."""
    found = []
    for name, data in blobs:
        for n in text_needles:
            if n.encode() in data:
                found.append('%s contains %r...' % (name, n[:16]))
                break
        else:
            for n in bin_needles:
                if n in data:
                    found.append('%s contains private key bytes' % name)
                    break
    return found


def test_keygen_publish_no_private_key_in_output(cvmboot, tmp_path):
    r = subprocess.run([cvmboot, 'keygen', 'secret.test', str(tmp_path / 'keys')],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    outputs = [('keygen stdout', r.stdout), ('keygen stderr', r.stderr)]
    keys = {ext: str(tmp_path / 'keys' / ('secret.test.' + ext)) for ext in ('key', 'masterkey')}
    text, binary = [], []
    for path in keys.values():
        t, b = pem_secrets(path)
        text += t
        binary += b
    assert text and binary
    tree = tmp_path / 'tree'
    (tree / 'd').mkdir(parents=True)
    (tree / 'd' / 'f').write_bytes(b'payload\n' * 100)
    (tree / 'hello').write_text('hello\n')
    repo = tmp_path / 'repo'
    for i, tag in enumerate(('v1', 'v2')):
        (tree / 'n').write_text(str(i))
        r = subprocess.run([cvmboot, 'publish', str(tree), str(repo), '--name', 'secret.test',
                            '--keys', str(tmp_path / 'keys'), '--tag', tag, '-v'],
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
        outputs += [('publish %s stdout' % tag, r.stdout), ('publish %s stderr' % tag, r.stderr)]
    # The search must be able to fail: the key file itself is caught.
    with open(keys['key'], 'rb') as f:
        assert leaks([('key file', f.read())], text, binary)
    # And the signatures, made with those keys, must be there to search.
    assert (repo / '.cvmfswhitelist').exists() and (repo / '.cvmfspublished').exists()
    blobs = list(outputs)
    for p in files_under(str(repo)):
        blobs += [(p, c) for c in contents(p)]
    assert len(blobs) > 6
    bad = leaks(blobs, text, binary)
    assert not bad, 'private key material leaked: ' + '; '.join(bad)


def test_context_test_no_imds_token_in_output(cvmboot, tmp_path):
    md = MetadataServer(tmp_path, 'ec2', SECTION).start()
    try:
        save = tmp_path / 'save'
        save.mkdir()
        host = '127.0.0.1:%d' % md.port
        r = subprocess.run([cvmboot, 'context-test', '--metadata', host, '--cloudstack', host,
                            '--sources', 'ec2', '--timeout', '10', '--save', str(save)],
                           capture_output=True, timeout=60)
        reqs = md.requests()
    finally:
        md.stop()
    assert r.returncode == 0, r.stderr
    tokens = {q['headers'].get('X-aws-ec2-metadata-token') for q in reqs} - {None}
    assert tokens, 'the client used no IMDSv2 token: %r' % reqs
    blobs = [('context-test stdout', r.stdout), ('context-test stderr', r.stderr)]
    blobs += [(p, c) for p in files_under(str(save)) for c in contents(p)]
    assert any(b'test.example.org' in data for _, data in blobs), \
        'the saved context is missing: nothing was searched'
    for tok in tokens:
        bad = [name for name, data in blobs if tok.encode() in data]
        assert not bad, 'the IMDSv2 token appears in: %s' % ', '.join(bad)
