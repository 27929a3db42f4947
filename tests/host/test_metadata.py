# SPDX-License-Identifier: MIT
"""Context sources of PID 1 (boot/context*.c over net/http.h) against the
emulated metadata service of tests/lib/metadata.py, through the host verb
`cvmboot context-test`. Everything talks to 127.0.0.1 only."""
import base64
import gzip
import os
import socket
import subprocess
import time

import pytest

from conftest import ROOT
from metadata import MetadataServer

SECTION = (b'#cloud-config\n[ucernvm-begin]\n'
           b'cvmfs_branch=test.example.org\n'
           b'cvmfs_tag="v1.2"\n'
           b"cvmfs_http_proxy='http://squid:3128;DIRECT'\n"
           b'[ucernvm-end]\n')
NET_SOURCES = 'gce,ec2,openstack'
# How late a bounded wait may end on a busy 2-core machine; every bound
# tested here is far below the wait it must cut short.
SLACK_S = 15


def ctx_test(cvmboot, *args, timeout=30):
    t0 = time.monotonic()
    r = subprocess.run([cvmboot, 'context-test'] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    r.took = time.monotonic() - t0
    r.kv = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition('=')
        r.kv.setdefault(k, v)
    return r


@pytest.fixture
def serve(tmp_path):
    """serve(platform, user_data) -> a started MetadataServer; stopped by PID."""
    started = []

    def start(platform, user_data=SECTION):
        md = MetadataServer(tmp_path, platform, user_data).start()
        started.append(md)
        return md
    yield start
    for md in started:
        md.stop()


def md_args(md, sources=NET_SOURCES):
    host = '127.0.0.1:%d' % md.port
    return ['--metadata', host, '--cloudstack', host, '--sources', sources, '--timeout', '10']


def test_ec2_imdsv2_token_used(cvmboot, serve):
    md = serve('ec2')
    r = ctx_test(cvmboot, *md_args(md))
    assert r.returncode == 0, r.stderr
    assert r.kv['source'] == 'ec2'
    assert r.kv['section'] == '1'
    assert r.kv['cvmfs_branch'] == '"test.example.org"'
    assert r.kv['repo'] == 'test.example.org'
    assert r.kv['tag'] == 'v1.2'
    assert r.kv['proxy'] == 'http://squid:3128;DIRECT'
    reqs = md.requests()
    # GCE is asked first (404: not GCE), then the token, then user-data with it.
    assert [(q['method'], q['path']) for q in reqs] == [
        ('GET', '/computeMetadata/v1/instance/attributes/user-data'),
        ('GET', '/computeMetadata/v1/instance/id'),
        ('PUT', '/latest/api/token'),
        ('GET', '/latest/user-data')]
    assert reqs[0]['headers'] == {'Metadata-Flavor': 'Google'}
    assert 'X-aws-ec2-metadata-token-ttl-seconds' in reqs[2]['headers']
    assert reqs[3]['headers'].get('X-aws-ec2-metadata-token'), reqs[3]


def test_ec2_imdsv1_fallback(cvmboot, serve):
    md = serve('ec2v1')
    r = ctx_test(cvmboot, *md_args(md, 'ec2'))
    assert r.returncode == 0, r.stderr
    assert r.kv['source'] == 'ec2'
    assert 'trying IMDSv1' in r.stderr
    reqs = md.requests()
    assert [(q['method'], q['path']) for q in reqs] == [
        ('PUT', '/latest/api/token'), ('GET', '/latest/user-data')]
    assert reqs[1]['headers'] == {}


@pytest.mark.parametrize('platform', ['gce', 'openstack'])
def test_gce_openstack(cvmboot, serve, platform):
    md = serve(platform)
    r = ctx_test(cvmboot, *md_args(md))
    assert r.returncode == 0, r.stderr
    assert r.kv['source'] == platform
    assert r.kv['tag'] == 'v1.2'


def test_platform_without_user_data_is_found(cvmboot, serve):
    md = serve('ec2', user_data=None)
    r = ctx_test(cvmboot, *md_args(md))
    assert r.returncode == 0, r.stderr
    assert r.kv['source'] == 'ec2'
    assert r.kv['bytes'] == '0'
    assert r.kv['section'] == '0'


@pytest.mark.parametrize('kind', ['gzip', 'mime'])
def test_packed_user_data(cvmboot, serve, kind):
    if kind == 'gzip':
        ud = gzip.compress(SECTION, mtime=0)
    else:
        ud = (b'Content-Type: multipart/mixed; boundary="XX"\r\nMIME-Version: 1.0\r\n\r\n'
              b'--XX\r\nContent-Type: text/x-shellscript\r\n\r\n#!/bin/sh\r\necho hi\r\n'
              b'--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
              base64.encodebytes(SECTION.replace(b'\n', b'\r\n')) + b'--XX--\r\n')
    md = serve('gce', ud)
    r = ctx_test(cvmboot, *md_args(md))
    assert r.returncode == 0, r.stderr
    assert r.kv['section'] == '1'
    assert r.kv['repo'] == 'test.example.org'


def test_context_precedence_end_to_end(cvmboot, serve):
    # A context proxy turns the command line's CDN off: its servers are used.
    md = serve('openstack')
    r = ctx_test(cvmboot, *md_args(md), '--cmdline', 'cvmfs_server=s1,s2 cvmfs_cdn=cdn1')
    assert r.returncode == 0, r.stderr
    urls = [l[4:] for l in r.stdout.splitlines() if l.startswith('url=')]
    assert urls == ['http://s1/cvmfs/test.example.org', 'http://s2/cvmfs/test.example.org']


def test_save_then_load(cvmboot, serve, tmp_path):
    md = serve('gce')
    saved = tmp_path / 'context'
    saved.mkdir()
    r = ctx_test(cvmboot, *md_args(md), '--save', str(saved))
    assert r.returncode == 0, r.stderr
    assert (saved / 'user-data').read_bytes() == SECTION
    assert (saved / 'source').read_text().startswith('gce ')
    md.stop()
    # A later boot needs no network: the saved ucontext gives the same result.
    r2 = ctx_test(cvmboot, '--load', str(saved))
    assert r2.returncode == 0, r2.stderr
    strip = lambda out: [l for l in out.splitlines() if l.split('=')[0] not in
                         ('source', 'where', 'bytes', 'section', 'keys')]
    assert strip(r2.stdout) == strip(r.stdout)


def test_no_service_is_bounded(cvmboot):
    # A port that accepts connections but never answers: each host is probed
    # once within --probe-ms, then skipped; the verb says nothing was found.
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        s.listen(16)
        host = '127.0.0.1:%d' % s.getsockname()[1]
        r = ctx_test(cvmboot, '--metadata', host, '--cloudstack', host,
                     '--dhcp-server', host, '--sources', NET_SOURCES + ',cloudstack',
                     '--probe-ms', '300', '--timeout', '60', timeout=90)
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.kv['source'] == 'none'
    assert r.stderr.count('did not answer within 300 ms') == 3, r.stderr
    # The probes (3 x 300 ms), not the 60 s stage deadline, ended it.
    assert r.took < SLACK_S, r.took


def test_stage_deadline(cvmboot):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        s.listen(16)
        host = '127.0.0.1:%d' % s.getsockname()[1]
        r = ctx_test(cvmboot, '--metadata', host, '--sources', NET_SOURCES,
                     '--probe-ms', '60000', '--timeout', '1', timeout=90)
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'cvmboot.context_timeout' in r.stderr
    # The 1 s stage deadline, not the 60 s probe, ended it.
    assert r.took < 1 + SLACK_S, r.took


def test_config_drive_dir(cvmboot, tmp_path):
    d = tmp_path / 'cd'
    (d / 'openstack' / 'latest').mkdir(parents=True)
    (d / 'openstack' / 'latest' / 'user_data').write_bytes(SECTION)
    r = ctx_test(cvmboot, '--dir', str(d), '--sources', 'drive')
    assert r.returncode == 0, r.stderr
    assert r.kv['source'] == 'config-drive'
    assert r.kv['tag'] == 'v1.2'


def test_opennebula_context_not_run(cvmboot, tmp_path):
    d = tmp_path / 'one'
    d.mkdir()
    marker = tmp_path / 'was-run'
    ud = base64.b64encode(SECTION).decode()
    (d / 'context.sh').write_text("ETH0_IP='10.0.0.5'\nX=$(touch %s)\ntouch %s\n"
                                  "EC2_USER_DATA='%s'\n" % (marker, marker, ud))
    r = ctx_test(cvmboot, '--dir', str(d), '--sources', 'one')
    assert r.returncode == 0, r.stderr
    assert r.kv['source'] == 'opennebula'
    assert r.kv['repo'] == 'test.example.org'
    assert not marker.exists()
