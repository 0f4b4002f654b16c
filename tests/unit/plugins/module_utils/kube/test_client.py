# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Unit tests of the kube client's request building (no network: nothing is sent, except connection
attempts to a closed loopback port)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import time

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.kube import client as kube_client

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
"""


@pytest.fixture
def client(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    return kube_client.KubeClient(str(path))


def test_user_agent_and_field_manager_constants():
    assert kube_client.USER_AGENT.startswith("scs.kaas/")
    assert kube_client.FIELD_MANAGER == "scs.kaas"


def test_requests_carry_our_user_agent(client):
    assert client.transport.url("/api/v1/namespaces") == "https://127.0.0.1:6443/api/v1/namespaces"
    headers = client.transport.headers_for("application/json")
    assert headers["User-Agent"] == kube_client.USER_AGENT
    assert headers["Authorization"] == "Bearer not-a-real-token"


def test_apply_query_and_content_type(client):
    sent = {}

    def fake_request(method, path, query=None, body=None, content_type=None, timeout=None):
        sent.update(method=method, path=path, query=query, body=body, content_type=content_type)
        return {}

    client.request = fake_request
    client.apply({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
                  "metadata": {"name": "c1", "namespace": "ns"}}, dry_run=True)
    assert sent["method"] == "PATCH"
    assert sent["path"] == "/apis/cluster.x-k8s.io/v1beta2/namespaces/ns/clusters/c1"
    assert sent["query"] == {"fieldManager": "scs.kaas", "force": None, "dryRun": "All"}
    assert sent["content_type"] == "application/apply-patch+yaml"
    client.apply({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
                  "metadata": {"name": "c1", "namespace": "ns"}}, force=True)
    assert sent["query"] == {"fieldManager": "scs.kaas", "force": "true", "dryRun": None}


def test_known_resources_need_no_discovery(client):
    client.request = None  # any request would fail
    res = client.resource("cluster.x-k8s.io/v1beta2", "Machine")
    assert res.path("ns", "m") == "/apis/cluster.x-k8s.io/v1beta2/namespaces/ns/machines/m"
    assert client.resource("v1", "Secret").path("ns") == "/api/v1/namespaces/ns/secrets"
    assert client.resource("controlplane.cluster.x-k8s.io", "KubeadmControlPlane").version == "v1beta2"


def test_unknown_kind_uses_targeted_discovery_once(client):
    calls = []

    def fake_request(method, path, query=None, body=None, content_type=None, timeout=None):
        calls.append(path)
        if path == "/apis/infrastructure.cluster.x-k8s.io":
            return {"preferredVersion": {"version": "v1beta2"}}
        return {"resources": [{"name": "devclusters/status", "kind": "DevCluster"},
                              {"name": "devclusters", "kind": "DevCluster", "namespaced": True}]}

    client.request = fake_request
    res = client.resource("infrastructure.cluster.x-k8s.io", "DevCluster")
    assert res.plural == "devclusters" and res.version == "v1beta2"
    client.resource("infrastructure.cluster.x-k8s.io/v1beta2", "DevCluster")
    assert calls == ["/apis/infrastructure.cluster.x-k8s.io", "/apis/infrastructure.cluster.x-k8s.io/v1beta2"]


def test_a_kind_served_only_at_a_version_the_group_does_not_prefer_is_found(client):
    # CAPD serves the infrastructure group at v1beta2, CAPO's kinds are only at v1beta1.
    group = "/apis/infrastructure.cluster.x-k8s.io"
    served = {group + "/v1beta2": [{"name": "devclusters", "kind": "DevCluster"}],
              group + "/v1beta1": [{"name": "openstackclusters", "kind": "OpenStackCluster", "namespaced": True}]}

    def fake_request(method, path, query=None, body=None, content_type=None, timeout=None):
        if path == "/apis/infrastructure.cluster.x-k8s.io":
            return {"preferredVersion": {"version": "v1beta2"},
                    "versions": [{"version": "v1beta2"}, {"version": "v1beta1"}]}
        return {"resources": served[path]}

    client.request = fake_request
    res = client.resource("infrastructure.cluster.x-k8s.io", "OpenStackCluster")
    assert (res.version, res.plural) == ("v1beta1", "openstackclusters")
    expected = "OpenStackMachine is not served by API group infrastructure.cluster.x-k8s.io .versions v1beta2, v1beta1"
    with pytest.raises(kube_client.KubeError, match=expected):
        client.resource("infrastructure.cluster.x-k8s.io", "OpenStackMachine")


def test_paths_of_the_embedded_clusters_kinds_need_no_discovery(client):
    # Moved from the embedded runtime's own client (object and collection paths).
    client.request = None  # any request would fail
    assert client.resource("v1", "Namespace").path(name="a") == "/api/v1/namespaces/a"
    provider = client.resource("clusterctl.cluster.x-k8s.io/v1alpha3", "Provider")
    assert provider.path("capi-system", "cluster-api") == \
        "/apis/clusterctl.cluster.x-k8s.io/v1alpha3/namespaces/capi-system/providers/cluster-api"
    assert client.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition").path(name="x.y") == \
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.y"
    assert provider.path() == "/apis/clusterctl.cluster.x-k8s.io/v1alpha3/providers"
    assert client.resource("v1", "Namespace").path() == "/api/v1/namespaces"
    assert client.resource("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration").path(name="v") == \
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/v"


def test_user_agent_and_field_manager_are_parameters(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    other = kube_client.KubeClient(str(path), user_agent="scs.kaas-test/unit-test", field_manager="scs.kaas-embedded")
    assert other.transport.headers_for("application/json")["User-Agent"] == "scs.kaas-test/unit-test"
    sent = {}

    def fake_request(method, path, query=None, body=None, content_type=None, timeout=None):
        sent.update(query=query)
        return {}

    other.request = fake_request
    other.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}})
    assert sent["query"]["fieldManager"] == "scs.kaas-embedded"


def test_metadata_only_list_asks_for_partial_object_metadata(client):
    sent = {}

    def fake_request(method, path, query=None, body=None, content_type=None, timeout=None, accept=None):
        sent.update(path=path, accept=accept)
        return {"items": []}

    client.request = fake_request
    client.list(client.resource("v1", "Namespace"), metadata_only=True)
    assert sent["path"] == "/api/v1/namespaces"
    assert sent["accept"].startswith("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")


def test_429_and_503_are_retried_by_the_client_configuration(client):
    retries = client.transport.pool.connection_pool_kw["retries"]
    assert set(retries.status_forcelist) == {429, 503}
    assert retries.allowed_methods is None  # server-side apply (PATCH) is idempotent
    assert retries.total > 0 and retries.raise_on_status is False


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_server_that_never_answered_fails_at_once_and_a_restart_is_waited_for(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.replace("6443", str(_closed_port())))
    client = kube_client.KubeClient(str(path), reconnect_timeout=1)
    started = time.monotonic()
    with pytest.raises(kube_client.KubeError) as failed:
        client.request("GET", "/api/v1/namespaces")
    assert failed.value.status == 0 and "again" not in failed.value.message
    assert time.monotonic() - started < 1 and client.requests == 1
    # Once the server has answered, a refused connection is a restart: sent again until the timeout.
    client._answered = True
    started = time.monotonic()
    with pytest.raises(kube_client.KubeError, match="did not answer again within 1s"):
        client.request("GET", "/api/v1/namespaces")
    assert 0.5 <= time.monotonic() - started < 3 and client.requests > 2


def test_only_requests_safe_to_repeat_are_sent_again_after_a_broken_connection():
    assert kube_client._safe_to_repeat("GET", None) and kube_client._safe_to_repeat("DELETE", None)
    assert kube_client._safe_to_repeat("PATCH", kube_client.APPLY_PATCH)
    assert not kube_client._safe_to_repeat("PATCH", "application/merge-patch+json")
    assert not kube_client._safe_to_repeat("POST", "application/json")
