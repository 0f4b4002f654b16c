# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The kube client's transport: what it reads from a kubeconfig and what goes on the wire.

The wire is a plain HTTP server on loopback that records every request and answers from a
script (the TLS side is exercised by every end-to-end test against the embedded cluster).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import http.server
import json
import os

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.kube import client as kube_client
from ansible_collections.scs.kaas.plugins.module_utils.kube import transport


class _Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                 "body": body})
        status, chunks = self.server.script.pop(0) if self.server.script else (200, [b"{}"])
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if len(chunks) == 1:
            self.send_header("Content-Length", str(len(chunks[0])))
            self.end_headers()
            self.wfile.write(chunks[0])
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks + [b""]:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.flush()

    do_GET = do_PATCH = do_DELETE = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server(loopback_http):
    return loopback_http(_Recorder)


def _kubeconfig(tmp_path, server_url, user, context="ctx", extra_cluster=None):
    config = {"apiVersion": "v1", "kind": "Config", "current-context": context,
              "clusters": [{"name": "c", "cluster": dict({"server": server_url}, **(extra_cluster or {}))}],
              "users": [{"name": "u", "user": user}],
              "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}},
                           {"name": "other", "context": {"cluster": "c", "user": "missing"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))  # JSON is YAML
    return str(path)


def test_a_token_file_is_read_relative_to_the_kubeconfig(tmp_path):
    (tmp_path / "token").write_text("from-a-file\n")
    conn = transport.connection(_kubeconfig(tmp_path, "https://127.0.0.1:6443", {"tokenFile": "token"}))
    assert conn.token == "from-a-file" and conn.server == "https://127.0.0.1:6443"


def test_certificate_data_is_decoded_and_file_paths_are_made_absolute(tmp_path):
    pem = "-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n"
    path = _kubeconfig(tmp_path, "https://127.0.0.1:6443",
                       {"client-certificate-data": base64.b64encode(pem.encode()).decode(), "client-key": "key.pem"},
                       extra_cluster={"certificate-authority": "ca.crt", "tls-server-name": "api.local"})
    conn = transport.connection(path)
    assert conn.cert_data == pem and conn.key_file == str(tmp_path / "key.pem")
    assert conn.ca_file == str(tmp_path / "ca.crt") and conn.tls_server_name == "api.local"


def test_a_context_that_names_no_known_user_or_no_context_at_all_is_refused(tmp_path):
    path = _kubeconfig(tmp_path, "https://127.0.0.1:6443", {"token": "t"})
    with pytest.raises(transport.KubeconfigError, match="has no user named 'missing'"):
        transport.connection(path, context="other")
    with pytest.raises(transport.KubeconfigError, match="has no context named 'nope'"):
        transport.connection(path, context="nope")
    with pytest.raises(transport.KubeconfigError, match="does not exist"):
        transport.connection(str(tmp_path / "absent"))
    with pytest.raises(kube_client.KubeError, match="does not exist"):
        kube_client.KubeClient(str(tmp_path / "absent"))


def test_credential_plugins_and_merged_files_are_left_to_the_kubernetes_package(tmp_path, monkeypatch):
    path = _kubeconfig(tmp_path, "https://127.0.0.1:6443", {"exec": {"command": "true", "apiVersion": "x"}})
    assert transport.simple_connection(path) is None
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([path, path]))
    assert transport.kubeconfig_path() is None
    assert transport.kubeconfig_path(path) == path
    monkeypatch.setenv("KUBECONFIG", path)
    assert transport.kubeconfig_path() == path


def test_proxies_come_from_the_kubeconfig_first_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("https_proxy", "http://proxy.invalid:3128")
    monkeypatch.setenv("no_proxy", "127.0.0.1,.cluster.local")
    assert transport._proxy_for(transport.Connection("https://127.0.0.1:6443")) is None
    assert transport._proxy_for(transport.Connection("https://api.example.org:6443")) == "http://proxy.invalid:3128"
    assert transport._proxy_for(transport.Connection("https://127.0.0.1:6443", proxy_url="http://p:1")) == "http://p:1"


def test_the_wire_carries_our_agent_token_content_types_and_bodies_encoded_once(tmp_path, server):
    url = "http://127.0.0.1:%d" % server.server_address[1]
    client = kube_client.KubeClient(_kubeconfig(tmp_path, url, {"token": "t0k"}), user_agent="scs.kaas-test/1")
    server.script[:] = [(200, [b'{"items": []}']), (200, [b'{"kind": "Cluster"}']), (404, [b'{"reason": "NotFound"}'])]
    assert client.list(client.resource("v1", "Namespace"), label_selector="a=b,c in (d)") == {"items": []}
    cluster = {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "metadata": {"name": "c1", "namespace": "n"}}
    assert client.apply(cluster, dry_run=True) == {"kind": "Cluster"}
    assert client.delete(client.resource("v1", "Namespace"), "gone") is False
    listed, applied, deleted = server.seen
    assert listed["path"] == "/api/v1/namespaces?labelSelector=a%3Db%2Cc+in+%28d%29"
    assert listed["headers"]["User-Agent"] == "scs.kaas-test/1"
    assert listed["headers"]["Authorization"] == "Bearer t0k"
    assert "Content-Type" not in listed["headers"] and listed["body"] == b""
    assert applied["method"] == "PATCH"
    assert applied["path"] == "/apis/cluster.x-k8s.io/v1beta2/namespaces/n/clusters/c1?fieldManager=scs.kaas&dryRun=All"
    assert applied["headers"]["Content-Type"] == "application/apply-patch+yaml"
    assert json.loads(applied["body"]) == cluster
    assert deleted["headers"]["Content-Type"] == "application/json"
    assert json.loads(deleted["body"])["propagationPolicy"] == "Background"
    assert client.requests == 3


def test_a_503_is_sent_again_and_other_errors_keep_the_api_reason(tmp_path, server):
    url = "http://127.0.0.1:%d" % server.server_address[1]
    client = kube_client.KubeClient(_kubeconfig(tmp_path, url, {"token": "t"}))
    server.script[:] = [(503, [b"{}"]), (200, [b'{"metadata": {"name": "x"}}']),
                        (409, [b'{"reason": "Conflict", "message": "field owned by someone"}'])]
    assert client.get(client.resource("v1", "Namespace"), "x") == {"metadata": {"name": "x"}}
    assert len(server.seen) == 2
    with pytest.raises(kube_client.KubeError) as failed:
        client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
    assert (failed.value.status, failed.value.reason, failed.value.message) == (409, "Conflict", "field owned by someone")


def test_a_watch_yields_events_across_chunks_and_an_error_event_raises_its_code(tmp_path, server):
    url = "http://127.0.0.1:%d" % server.server_address[1]
    client = kube_client.KubeClient(_kubeconfig(tmp_path, url, {"token": "t"}))
    first = json.dumps({"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "5"}}}).encode()
    second = json.dumps({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "7"}}}).encode()
    gone = json.dumps({"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired",
                                                   "message": "too old resource version"}}).encode()
    # the first event is cut in two chunks; the second and the error share one
    server.script[:] = [(200, [first[:10], first[10:] + b"\n", second + b"\n" + gone + b"\n"])]
    events = []
    with pytest.raises(kube_client.KubeError) as failed:
        for event in client.watch(client.resource("v1", "Namespace"), name="a", resource_version="4", timeout_seconds=5):
            events.append(event)
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"] and events[0]["object"]["metadata"]["name"] == "a"
    assert (failed.value.status, failed.value.reason) == (410, "Expired")
    assert server.seen[0]["path"].startswith("/api/v1/namespaces?watch=true&allowWatchBookmarks=true&"
                                             "fieldSelector=metadata.name%3Da&resourceVersion=4&timeoutSeconds=5")
    # the connection of a watch is not reused; the next request still answers
    server.script[:] = [(200, [b'{"metadata": {"name": "a"}}'])]
    assert client.get(client.resource("v1", "Namespace"), "a")["metadata"]["name"] == "a"


def test_an_exec_credential_plugin_gets_its_token_through_the_kubernetes_package(tmp_path, server):
    plugin = tmp_path / "plugin.py"
    plugin.write_text("import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
                      "'kind': 'ExecCredential', 'status': {'token': 'from-exec'}}))\n")
    import sys
    url = "http://127.0.0.1:%d" % server.server_address[1]
    path = _kubeconfig(tmp_path, url, {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                "command": sys.executable, "args": [str(plugin)],
                                                "interactiveMode": "Never"}})
    client = kube_client.KubeClient(path)
    client.get(client.resource("v1", "Namespace"), "x")
    assert server.seen[0]["headers"]["Authorization"] == "Bearer from-exec"
