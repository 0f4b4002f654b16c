# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""unix_http against a socket server of the test's own (what is sent, what is parsed)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket
import tempfile
import threading

from ansible_collections.scs.kaas.plugins.module_utils.nodes import unix_http


def _serve_once(path, reply, seen):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def answer():
        conn, _addr = server.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _sep, body = data.partition(b"\r\n\r\n")
        length = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
        while length and len(body) < length[0]:
            body += conn.recv(65536)
        seen.append((head.decode("ascii"), body))
        conn.sendall(reply)
        conn.close()
        server.close()
    thread = threading.Thread(target=answer)
    thread.start()
    return thread


def test_a_post_sends_its_document_as_json_and_returns_status_and_body():
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "d.sock")
    seen = []
    thread = _serve_once(path, b'HTTP/1.0 201 Created\r\nContent-Type: application/json\r\n\r\n{"Id": "abc"}', seen)
    answer = unix_http.request("unix://" + path, "POST", "/networks/create", {"Name": "kind"})
    thread.join(5)
    assert answer == (201, b'{"Id": "abc"}')
    head, body = seen[0]
    assert head.splitlines()[0] == "POST /networks/create HTTP/1.0"
    assert "Content-Type: application/json" in head and "Content-Length: %d" % len(body) in head
    assert json.loads(body) == {"Name": "kind"}


def test_a_get_sends_no_body_and_nothing_listening_is_none():
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "d.sock")
    seen = []
    thread = _serve_once(path, b"HTTP/1.0 404 Not Found\r\n\r\nno such network", seen)
    assert unix_http.get("unix://" + path, "/networks/kind") == (404, b"no such network")
    thread.join(5)
    assert seen[0][1] == b"" and "Content-Length" not in seen[0][0]
    assert unix_http.get("unix://" + os.path.join(directory, "missing.sock"), "/_ping") is None


def test_a_head_sends_its_headers_and_returns_the_answer_headers_in_canonical_form():
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "d.sock")
    seen = []
    thread = _serve_once(path, b"HTTP/1.0 200 OK\r\ndocker-content-digest: sha256:abc\r\nContent-Length: 7\r\n\r\n",
                         seen)
    answer = unix_http.head("unix://" + path, "/v2/registry.k8s.io/pause/manifests/3.10.2",
                            {"Accept": "application/vnd.oci.image.manifest.v1+json"})
    thread.join(5)
    assert answer == (200, {"Docker-Content-Digest": "sha256:abc", "Content-Length": "7"})
    head = seen[0][0]
    assert head.splitlines()[0] == "HEAD /v2/registry.k8s.io/pause/manifests/3.10.2 HTTP/1.0"
    assert "Accept: application/vnd.oci.image.manifest.v1+json" in head.splitlines()
    assert unix_http.head("unix://" + os.path.join(directory, "missing.sock"), "/v2/") is None


def test_an_engine_network_answer_gives_its_subnet_and_gateway():
    from ansible_collections.scs.kaas.plugins.module_utils.nodes import docker_engine

    directory = tempfile.mkdtemp()
    engine = docker_engine.DockerEngine(directory, None, drop=[])
    seen = []
    network = {"Name": "kind", "IPAM": {"Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]}}
    thread = _serve_once(engine.layout.socket, b"HTTP/1.0 200 OK\r\n\r\n" + json.dumps(network).encode(), seen)
    assert engine.network_addresses(["kind"]) == {"kind": {"subnet": "172.18.0.0/16", "gateway": "172.18.0.1"}}
    thread.join(5)
    assert seen[0][0].splitlines()[0] == "GET /networks/kind HTTP/1.0"
