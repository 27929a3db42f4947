# SPDX-License-Identifier: MIT
"""A streamed-boot environment for VM tests: keys, the test OS published as a
repository, nginx serving it on 127.0.0.1, and initrds carrying the repository
settings. The guest reaches nginx only through a restricted user network with
a per-connection guestfwd (10.0.2.100:80 -> 127.0.0.1:PORT)."""
import os
import subprocess

import qemu
import testos
from servers import Nginx

FQRN = 'test.cvmboot'
GUEST_REPO_IP = '10.0.2.100'


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    assert r.returncode == 0, '%s failed:\n%s%s' % (' '.join(argv), r.stdout, r.stderr)
    return r


class BootEnv:
    def __init__(self, build, tmp):
        self.build = build
        self.tmp = str(tmp)
        self.tool = os.path.join(build, 'cvmboot')
        self.keys = os.path.join(self.tmp, 'keys')
        self.srv = os.path.join(self.tmp, 'srv')
        self.repo = os.path.join(self.srv, 'cvmfs', FQRN)
        self.web = None

    def keygen(self):
        run([self.tool, 'keygen', FQRN, self.keys])
        return os.path.join(self.keys, FQRN + '.pub')

    def publish(self, tag, version='1', usr_text='usr-v1', extra=None, files=None):
        extra = dict(extra or {})
        extra.setdefault('etc/testos-local', 'upstream-v%s\n' % version)
        tree = os.path.join(self.tmp, 'os-' + tag)
        os.makedirs(os.path.dirname(self.repo), exist_ok=True)
        testos.build(tree, version=version, usr_text=usr_text, extra=extra, files=files)
        run([self.tool, 'publish', tree, self.repo, '--name', FQRN, '--keys', self.keys,
             '--tag', tag])

    def serve(self):
        self.web = Nginx(self.srv).start()
        return self.web

    def initrd(self, tag='', name='initrd-test.img'):
        """build/initrd.img plus a config archive naming our repository."""
        cfgdir = os.path.join(self.tmp, 'cfg')
        os.makedirs(cfgdir, exist_ok=True)
        defaults = os.path.join(cfgdir, 'defaults')
        with open(defaults, 'w') as f:
            f.write('repo_url=http://%s/cvmfs/@fqrn@\nrepo_name=%s\nrepo_tag=%s\n'
                    'repo_key=/etc/cvmboot/keys/repo.pub\n' % (GUEST_REPO_IP, FQRN, tag))
        cpio = self.config_cpio = os.path.join(cfgdir, 'config.cpio')
        run([self.tool, 'mkinitramfs', '--modules-only',
             '--file', defaults + ':etc/cvmboot/defaults',
             '--file', os.path.join(self.keys, FQRN + '.pub') + ':etc/cvmboot/keys/repo.pub',
             '-o', cpio])
        out = os.path.join(self.tmp, name)
        with open(out, 'wb') as o:
            for p in (os.path.join(self.build, 'initrd.img'), cpio):
                with open(p, 'rb') as i:
                    o.write(i.read())
        return out

    def net_args(self, model='virtio-net-pci', forwards=(), **kw):
        """The repository at 10.0.2.100:80 (or forwards=(...) instead, with kw
        moving slirp's network, e.g. for a metadata service at 169.254.169.254)."""
        fw = list(forwards) or [(GUEST_REPO_IP, 80, self.web.port)]
        return qemu.user_net(fw, model=model, **kw)

    def stop(self):
        if self.web:
            self.web.stop()
