# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Unit tests of the retry policy for cloud requests: a real keystoneauth Session against an HTTP
server on loopback that answers what each test scripts (error paths only; the services themselves
are tested in tests/e2e)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.server
import json
import os
import socket
import time

import openstack.config
import pytest
from keystoneauth1 import exceptions as ksa_exceptions
from keystoneauth1 import session as ksa_session

from ansible_collections.scs.kaas.plugins.module_utils.openstack import cloud, retry


class _Scripted(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append((self.command, self.path))
        status, delay = self.server.script.pop(0) if self.server.script else (200, 0)
        time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_DELETE = do_PUT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server(loopback_http):
    return loopback_http(_Scripted)


def _session():
    waits = []
    return retry.install(ksa_session.Session(), sleep=waits.append), waits


def _url(server, path):
    return "http://127.0.0.1:%d%s" % (server.server_address[1], path)


def test_a_read_is_repeated_until_it_succeeds(server):
    server.script = [(503, 0), (502, 0)]
    session, waits = _session()
    assert session.request(_url(server, "/v2.1/flavors"), "GET").status_code == 200
    assert len(server.seen) == 3 and waits == [0.5, 1.0]


def test_a_delete_is_repeated_and_a_read_gives_up_after_five_attempts(server):
    server.script = [(500, 0), (204, 0)]
    session, _waits = _session()
    assert session.request(_url(server, "/v2.1/os-server-groups/x"), "DELETE").status_code == 204
    server.seen[:] = []
    server.script = [(503, 0)] * 10
    with pytest.raises(ksa_exceptions.ServiceUnavailable):
        session.request(_url(server, "/v2.1/flavors"), "GET")
    assert len(server.seen) == 5
    response = session.request(_url(server, "/v2.1/flavors"), "GET", raise_exc=False)
    assert response.status_code == 503 and len(server.seen) == 10


def test_a_creation_answered_5xx_is_not_repeated(server):
    server.script = [(503, 0)]
    session, waits = _session()
    expected = r"^compute service: POST /v2.1/os-server-groups failed \(HTTP 503\); it is not sent again.*Run the playbook"
    with pytest.raises(retry.UnsafeToRepeat, match=expected):
        session.request(_url(server, "/v2.1/os-server-groups"), "POST", json={"server_group": {}},
                        endpoint_filter={"service_type": "compute"})
    assert server.seen == [("POST", "/v2.1/os-server-groups")] and waits == []


def test_a_creation_whose_answer_timed_out_is_not_repeated(server):
    server.script = [(201, 1.0)]
    session, _waits = _session()
    with pytest.raises(retry.UnsafeToRepeat, match="ConnectTimeout"):
        session.request(_url(server, "/v3/users/u/application_credentials"), "POST", json={}, timeout=0.2)
    assert len(server.seen) == 1


def test_a_token_request_and_a_refused_connection_are_repeated(server):
    server.script = [(503, 0), (201, 0)]
    session, _waits = _session()
    assert session.request(_url(server, "/v3/auth/tokens"), "POST", json={}).status_code == 201
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    session, waits = _session()
    with pytest.raises(ksa_exceptions.ConnectFailure):
        session.request("http://127.0.0.1:%d/v2.1/os-server-groups" % closed, "POST", json={})
    assert waits == list(retry.BACKOFF)


@pytest.mark.parametrize("message, verdict", [
    ("Failed to establish a new connection: [Errno 101] Network is unreachable", "retry"),
    ("Failed to establish a new connection: [Errno 111] Connection refused", "retry"),
    ("Connection aborted: Remote end closed connection without response", "retry"),
    ("Connection aborted: [Errno 104] Connection reset by peer", "unsafe"),
])
def test_a_creation_is_sent_again_only_when_it_never_left(message, verdict):
    outcome = ksa_exceptions.ConnectFailure(message)
    assert retry.decide("POST", "https://cloud:8774/v2.1/os-server-groups", outcome) == verdict
    assert retry.decide("GET", "https://cloud:8774/v2.1/os-server-groups", outcome) == "retry"


def test_a_streamed_body_is_never_sent_twice(server, tmp_path):
    server.script = [(503, 0)]
    upload = tmp_path / "image.raw"
    upload.write_bytes(b"x" * 4096)
    session, waits = _session()
    with open(str(upload), "rb") as handle, pytest.raises(retry.UnsafeToRepeat, match="HTTP 503"):
        session.request(_url(server, "/v2/images/i/file"), "PUT", data=handle, raise_exc=False)
    assert len(server.seen) == 1 and waits == []
    # Not even after a refused connection: whether the stream was read is not known there.
    refused = ksa_exceptions.ConnectFailure("Failed to establish a new connection: [Errno 111] Connection refused")
    assert retry.decide("PUT", "https://cloud:9292/v2/images/i/file", refused, repeatable=False) == "unsafe"


def test_openstacksdk_repeats_nothing_by_itself():
    """openstacksdk's defaults repeat requests after some status codes (any method) for some services;
    the connections this collection opens turn every one of them off, so only retry.install decides."""
    with open(os.path.join(os.path.dirname(openstack.config.__file__), "defaults.json")) as handle:
        defaults = json.load(handle)
    retrying = [key for key, value in defaults.items() if key.endswith("retries") and value]
    assert "image_status_code_retries" in retrying  # the default this guards against
    assert all(cloud.NO_SDK_RETRIES.get(key) == 0 for key in retrying), retrying
    region = openstack.config.get_cloud_region(
        auth={"auth_url": "https://127.0.0.1:5000/v3"}, load_yaml_config=False, load_envvars=False,
        **cloud.NO_SDK_RETRIES)
    for service in ("image", "compute", "network", "identity", "load-balancer", "block-storage"):
        assert region.get_status_code_retries(service) == 0 and region.get_connect_retries(service) == 0, service
