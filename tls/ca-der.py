#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""tls/ca-der.py IN OUT: turns a CA bundle (PEM, with any comments, or DER
certificates already concatenated) into the concatenated DER that PID 1 loads
from /etc/cvmboot/ca.der: ~30% smaller than PEM, ~10% smaller under xz, and
~4x faster for mbedTLS to parse (no base64). Order is kept, exact duplicates
dropped. Exits 1 naming the problem when IN holds no usable certificate."""
import base64
import binascii
import os
import re
import sys

PEM = re.compile(rb'-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----', re.S)


def der_len(buf, off):
    """Total length of the DER element at buf[off], or None if malformed."""
    if off + 2 > len(buf) or buf[off] != 0x30:
        return None
    n = buf[off + 1]
    if n < 0x80:
        total = 2 + n
    else:
        k = n & 0x7f
        if k == 0 or k > 4 or off + 2 + k > len(buf):
            return None
        total = 2 + k + int.from_bytes(buf[off + 2:off + 2 + k], 'big')
    return total if off + total <= len(buf) else None


def certs(data, name):
    if b'-----BEGIN ' in data:
        for m in PEM.finditer(data):
            kind = m.group(1).decode()
            if kind != 'CERTIFICATE':
                sys.exit('%s: %s block: only "CERTIFICATE" PEM blocks are supported '
                         '(convert with `openssl x509`)' % (name, kind))
            try:
                der = base64.b64decode(b''.join(m.group(2).split()), validate=True)
            except binascii.Error as e:
                sys.exit('%s: bad base64 in a CERTIFICATE block: %s' % (name, e))
            if der_len(der, 0) != len(der):
                sys.exit('%s: a CERTIFICATE block is not one DER SEQUENCE' % name)
            yield der
        return
    off = 0
    while off < len(data):
        n = der_len(data, off)
        if n is None:
            sys.exit('%s: neither PEM nor concatenated DER (bad DER at byte %d)' % (name, off))
        yield data[off:off + n]
        off += n


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: tls/ca-der.py IN OUT')
    src, dst = sys.argv[1:]
    try:
        data = open(src, 'rb').read()
    except OSError as e:
        sys.exit('CA_BUNDLE %s: %s (install ca-certificates or pass CA_BUNDLE=file.pem)'
                 % (src, e.strerror))
    seen, out = set(), []
    for der in certs(data, src):
        if der not in seen:
            seen.add(der)
            out.append(der)
    if not out:
        sys.exit('%s: no certificate found' % src)
    with open(dst + '.tmp', 'wb') as f:
        f.write(b''.join(out))
    os.replace(dst + '.tmp', dst)


if __name__ == '__main__':
    main()
