# SPDX-License-Identifier: MIT
"""`cvmboot sign-image` / `verify-image`: the metadata lists each file's size
and SHA-256 and the baked-in repository settings; the detached signature is
made with the repository's master key and checked with its .pub. A changed
file, changed metadata or another key is refused with a reason."""
import os
import subprocess

from conftest import BUILD

TOOL = os.path.join(BUILD, 'cvmboot')


def run(*argv):
    return subprocess.run([TOOL] + list(argv), capture_output=True, text=True)


def test_sign_and_verify(tmp_path):
    keys = str(tmp_path / 'keys')
    assert run('keygen', 'img.test', keys).returncode == 0
    other = str(tmp_path / 'other')
    assert run('keygen', 'other.test', other).returncode == 0
    d = tmp_path / 'out'
    d.mkdir()
    (d / 'cvmboot.iso').write_bytes(os.urandom(100000))
    (d / 'cvmboot.hdd').write_bytes(os.urandom(50000))
    (d / 'vmlinuz').write_bytes(b'kernel' * 1000)
    (d / 'initramfs.cpio.xz').write_bytes(b'initrd' * 1000)
    (d / 'defaults').write_text('repo_url=http://s1.example/cvmfs/@fqrn@\nrepo_name=img.test\n')
    meta = str(d / 'cvmboot.meta')
    r = run('sign-image', '--keys', keys, '--name', 'img.test', '--version', '9.9',
            '--image', str(d / 'cvmboot.iso'), '--image', str(d / 'cvmboot.hdd'),
            '--kernel', str(d / 'vmlinuz'), '--initrd', str(d / 'initramfs.cpio.xz'),
            '--defaults', str(d / 'defaults'), '-o', meta)
    assert r.returncode == 0, r.stderr
    text = open(meta).read()
    assert text.startswith('format=cvmboot-image-meta 1\nversion=9.9\n'), text
    assert 'image=cvmboot.iso 100000 sha256:' in text
    assert 'kernel=vmlinuz 6000 sha256:' in text and 'initrd=initramfs.cpio.xz 6000' in text
    assert 'default.repo_url=http://s1.example/cvmfs/@fqrn@' in text
    pub = os.path.join(keys, 'img.test.pub')
    r = run('verify-image', '--key', pub, '--meta', meta)
    assert r.returncode == 0 and 'signature OK' in r.stdout, r.stdout + r.stderr
    assert r.stdout.count(': OK') == 4, r.stdout
    # another repository's key
    r = run('verify-image', '--key', os.path.join(other, 'other.test.pub'), '--meta', meta)
    assert r.returncode == 1 and 'BAD signature' in r.stderr, r.stderr
    # a changed image file
    with open(str(d / 'cvmboot.hdd'), 'r+b') as f:
        f.write(b'X')
    r = run('verify-image', '--key', pub, '--meta', meta)
    assert r.returncode == 1 and 'image cvmboot.hdd: MISMATCH (sha256)' in r.stdout, r.stdout
    assert 'do not use them' in r.stderr
    # changed metadata (say, a hash replaced to match a forged file)
    open(meta, 'w').write(text.replace('version=9.9', 'version=9.8'))
    r = run('verify-image', '--key', pub, '--meta', meta)
    assert r.returncode == 1 and 'BAD signature' in r.stderr, r.stderr
    # no signature next to it
    os.unlink(meta + '.sig')
    r = run('verify-image', '--key', pub, '--meta', meta)
    assert r.returncode == 1 and '.sig' in r.stderr
