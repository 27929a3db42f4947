#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""boot/web/serve.py: serves the web flavour's files (the page, v86, the
kernel, the initramfs and the repository: one origin) with nginx on
127.0.0.1 until ^C. `make web` runs it; the browser test and the bench use
nginx() for the same configuration.

    /usr/bin/python3 boot/web/serve.py --root build/web/srv [--port 8086]
"""
import argparse
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..',
                                'tests', 'lib'))
from servers import Nginx  # noqa: E402

# The MIME types the page needs (v86 compiles the .wasm with
# WebAssembly.compileStreaming, which wants application/wasm); the rest,
# the repository's objects included, is application/octet-stream.
TYPES = '''types {
        text/html html;
        text/javascript js;
        application/wasm wasm;
    }'''


def nginx(root, port=None):
    """An nginx (tests/lib/servers.py) serving root with the page's types."""
    return Nginx(root, port=port, extra_http=TYPES)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--root', required=True)
    ap.add_argument('--port', type=int, default=8086)
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.root, 'index.html')):
        sys.exit('serve: %s has no index.html: run `make web-files` first' % a.root)
    web = nginx(a.root, a.port).start()
    print('cvmboot web: open %s/ in a browser (nginx on 127.0.0.1 only; ^C stops it)' % web.url,
          flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        web.stop()


if __name__ == '__main__':
    main()
