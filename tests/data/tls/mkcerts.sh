#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/data/tls/mkcerts.sh: regenerates the certificates of tests/data/tls
# (see INDEX) with the openssl command line. Run from this directory; the
# output is committed, so unit tests need no openssl. Dates are fixed so the
# verdicts hold until 2125.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/ca.cnf" <<CNF
[ca]
default_ca = tca
[tca]
database = $tmp/index.txt
new_certs_dir = $tmp
serial = $tmp/serial
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = copy
[pol]
commonName = supplied
[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
CNF
: > "$tmp/index.txt"
echo 1000 > "$tmp/serial"

ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
# ca NAME CN
ca() {
	ec "$1.key"
	openssl req -new -key "$1.key" -subj "/CN=$2" -out "$tmp/$1.csr"
	openssl ca -batch -config "$tmp/ca.cnf" -selfsign -keyfile "$1.key" -in "$tmp/$1.csr" \
		-extensions v3_ca -startdate 20200101000000Z -enddate 21250101000000Z \
		-notext -out "$1.pem" 2>/dev/null
}
# leaf NAME KEY CA CN SAN FROM TO
leaf() {
	if [ -n "$5" ]; then ext="-addext subjectAltName=$5"; else ext=; fi
	openssl req -new -key "$2" -subj "/CN=$4" $ext -out "$tmp/$1.csr"
	openssl ca -batch -config "$tmp/ca.cnf" -cert "$3.pem" -keyfile "$3.key" \
		-in "$tmp/$1.csr" -extensions leaf -startdate "$6" -enddate "$7" \
		-notext -out "$1.pem" 2>/dev/null
}

ca ca "cvmboot test CA"
ca other-ca "cvmboot untrusted CA"
ec leaf.key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -quiet -out leaf-rsa.key
SAN="DNS:localhost,IP:127.0.0.1,IP:::1"
leaf good leaf.key ca localhost "$SAN" 20200101000000Z 21250101000000Z
leaf good-rsa leaf-rsa.key ca localhost "$SAN" 20200101000000Z 21250101000000Z
leaf expired leaf.key ca localhost "$SAN" 20200101000000Z 20210101000000Z
leaf future leaf.key ca localhost "$SAN" 21000101000000Z 21250101000000Z
leaf wronghost leaf.key ca wrong.example "DNS:wrong.example,DNS:*.wrong.example" \
	20200101000000Z 21250101000000Z
leaf untrusted leaf.key other-ca localhost "$SAN" 20200101000000Z 21250101000000Z
leaf cn-only leaf.key ca localhost "" 20200101000000Z 21250101000000Z
# Both CAs as concatenated DER, the format of the initramfs bundle.
{ openssl x509 -in ca.pem -outform DER; openssl x509 -in other-ca.pem -outform DER; } > cas.der
chmod 644 ./*.key
