# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The embedded management cluster itself: version, idempotence, port checks, role, stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import helpers
import proc_helpers

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.embedded import registry, runtime


def test_apiserver_version_is_the_pin(management_cluster):
    version = json.loads(management_cluster.kubectl("get", "--raw", "/version").stdout)
    assert version["gitVersion"] == pins.KUBERNETES_MANAGEMENT_VERSION


def test_everything_is_healthy_and_files_are_private(management_cluster):
    status = management_cluster.status()
    assert status["healthy"], json.dumps(status, indent=2)
    assert sorted(status["components"]) == sorted(runtime.COMPONENTS)
    state = management_cluster.state_dir
    for rel in ("kubeconfig", "state.json", "pki/ca.key", "pki/admin.key", "pki/sa.key", "pki/webhook/tls.key",
                "pki/webhook-ca.key", "audit/policy.yaml", "audit/audit.log"):
        mode = os.stat(os.path.join(state, rel)).st_mode & 0o777
        assert mode == 0o600, "%s has mode %o" % (rel, mode)
    for rel in ("", "pki", "pki/webhook", "logs", "pids", "audit", "etcd"):
        mode = os.stat(os.path.join(state, rel)).st_mode & 0o777
        assert mode == 0o700, "%s/ has mode %o" % (rel, mode)


def test_crds_carry_labels_and_conversion(management_cluster):
    crds = {c["metadata"]["name"]: c for c in management_cluster.kubectl_json("get", "crd")["items"]}
    cluster = crds["clusters.cluster.x-k8s.io"]
    assert cluster["metadata"]["labels"]["cluster.x-k8s.io/provider"] == "cluster-api"
    conv = cluster["spec"]["conversion"]
    assert conv["strategy"] == "Webhook"
    port = management_cluster.ports["capi_webhook"]
    assert conv["webhook"]["clientConfig"]["url"] == "https://127.0.0.1:%d/convert" % port
    assert conv["webhook"]["clientConfig"]["caBundle"]
    devmachine = crds["devmachines.infrastructure.cluster.x-k8s.io"]["metadata"]["labels"]
    assert devmachine["cluster.x-k8s.io/provider"] == "infrastructure-docker"
    assert devmachine["cluster.x-k8s.io/v1beta2"] == "v1beta2"
    kcp = crds["kubeadmcontrolplanes.controlplane.cluster.x-k8s.io"]
    assert kcp["spec"]["conversion"]["webhook"]["clientConfig"]["url"].startswith(
        "https://127.0.0.1:%d/" % management_cluster.ports["controlplane_webhook"])
    osc = crds["openstackclusters.infrastructure.cluster.x-k8s.io"]["metadata"]["labels"]
    assert osc["cluster.x-k8s.io/provider"] == "infrastructure-openstack"
    assert osc["cluster.x-k8s.io/v1beta1"] == "v1beta1"
    for name, crd in crds.items():
        if name.endswith(".x-k8s.io"):
            assert crd["metadata"]["labels"].get("cluster.x-k8s.io/provider") or name.startswith("providers.clusterctl"), name
            established = helpers.condition(crd, "Established")
            assert established and established["status"] == "True", name


def test_webhooks_are_registered_by_url(management_cluster):
    for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        items = management_cluster.kubectl_json("get", kind)["items"]
        names = sorted(i["metadata"]["name"] for i in items)
        for prefix in ("capi-", "capi-kubeadm-bootstrap-", "capi-kubeadm-control-plane-", "capd-"):
            assert any(n.startswith(prefix) for n in names), (prefix, names)
        for item in items:
            for hook in item["webhooks"]:
                assert "service" not in hook["clientConfig"], hook["name"]
                assert hook["clientConfig"]["url"].startswith("https://127.0.0.1:"), hook["name"]


def test_clusterctl_inventory(management_cluster):
    providers = management_cluster.kubectl_json("get", "providers.clusterctl.cluster.x-k8s.io", "-A")["items"]
    got = sorted((p["metadata"]["namespace"], p["metadata"]["name"], p["type"], p["providerName"]) for p in providers)
    assert got == [
        ("capd-system", "infrastructure-docker", "InfrastructureProvider", "docker"),
        ("capi-kubeadm-bootstrap-system", "bootstrap-kubeadm", "BootstrapProvider", "kubeadm"),
        ("capi-kubeadm-control-plane-system", "control-plane-kubeadm", "ControlPlaneProvider", "kubeadm"),
        ("capi-system", "cluster-api", "CoreProvider", "cluster-api"),
    ]
    for p in providers:
        assert p["version"] == pins.CLUSTER_API_VERSION or p["metadata"]["name"] == "infrastructure-docker"
        assert p["metadata"]["labels"]["clusterctl.cluster.x-k8s.io"] == ""
        assert p["metadata"]["labels"]["cluster.x-k8s.io/provider"] == p["metadata"]["name"]


def test_second_start_is_a_noop_without_writes(management_cluster):
    marker = management_cluster.mark()
    pids = management_cluster.started_pids()
    result = management_cluster.cluster.start()
    assert result["changed"] is False, result
    assert result["started"] == [] and result["applied"] == [] and result["restarted"] == []
    assert management_cluster.started_pids() == pids
    assert management_cluster.count_writes(runtime.USER_AGENT.split("/", maxsplit=1)[0] + "/", since=marker) == 0


def test_port_conflict_names_port_and_holder(management_cluster, embedded_build, tmp_path):
    other = helpers.ManagementCluster(str(tmp_path / "second"), embedded_build)
    with pytest.raises(runtime.EmbeddedError) as err:
        other.start()
    message = str(err.value)
    apiserver_pid = management_cluster.started_pids()["kube-apiserver"]
    assert "port %d (kube-apiserver secure)" % management_cluster.ports["kube_apiserver"] in message
    assert "pid %d" % apiserver_pid in message
    assert "port 19000 (capd-manager inmemory-debug)" in message
    # Nothing was started for the second cluster.
    assert other.started_pids() == {}
    assert not os.path.isdir(os.path.join(other.state_dir, "pids")) or not os.listdir(os.path.join(other.state_dir, "pids"))


def test_invalid_ports_are_refused_before_anything_happens(embedded_build, tmp_path):
    for ports, text in (({"kube_apiserver": 19000}, "ports.kube_apiserver: 19000 is reserved"),
                        ({"etcd_client": 70000}, "ports.etcd_client: 70000 is not a port number"),
                        ({"etcd_peer": 16443}, "every port must be distinct"),
                        ({"apiserver": 1}, "unknown key 'apiserver'")):
        with pytest.raises(runtime.EmbeddedError) as err:
            helpers.ManagementCluster(str(tmp_path / "x"), embedded_build, ports=ports)
        assert text in str(err.value)
    assert not os.path.exists(str(tmp_path / "x"))


def _playbook(ansible_env, state_dir, action, *extra):
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
           os.path.join(helpers.REPO_ROOT, "playbooks", "management.yml"),
           "-e", "management_cluster_embedded_state_dir=%s" % state_dir,
           "-e", "management_cluster_action=%s" % action] + list(extra)
    return subprocess.run(cmd, env=ansible_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=900, check=False)


def test_role_start_is_idempotent_and_reports_status(management_cluster, ansible_env):
    marker = management_cluster.mark()
    pids = management_cluster.started_pids()
    run = _playbook(ansible_env, management_cluster.state_dir, "start")
    assert run.returncode == 0, run.stdout
    assert "changed=0" in run.stdout, run.stdout
    assert management_cluster.started_pids() == pids
    assert management_cluster.count_writes("scs.kaas", since=marker) == 0

    run = _playbook(ansible_env, management_cluster.state_dir, "status")
    assert run.returncode == 0, run.stdout
    assert "kube-apiserver: running=True healthy=True" in run.stdout, run.stdout
    assert "capd-manager: running=True healthy=True" in run.stdout, run.stdout

    run = _playbook(ansible_env, management_cluster.state_dir, "restart")
    assert run.returncode != 0
    # The role's argument spec refuses it before any task runs.
    assert "management_cluster_action must be one of: start, stop, status, got: restart" in run.stdout, run.stdout


def test_stop_stops_only_what_start_started(management_cluster):
    dummy = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        pids = management_cluster.started_pids()
        assert sorted(pids) == sorted(runtime.COMPONENTS)
        everything = proc_helpers.descendants(pids.values())
        result = management_cluster.stop()
        assert result["changed"] is True
        assert sorted(result["stopped"]) == sorted(runtime.COMPONENTS)
        for pid in everything:
            assert proc_helpers.proc_starttime(pid) is None, "pid %d still runs" % pid
        assert management_cluster.leftover_processes() == []
        assert dummy.poll() is None, "the unrelated process was stopped"
        assert os.listdir(os.path.join(management_cluster.state_dir, "pids")) == []
        # Nothing listens on the cluster's ports any more.
        ports = set(management_cluster.ports.values()) | {registry.INMEMORY_DEBUG_PORT}
        assert not [e for e in proc_helpers.listeners() if e["port"] in ports]
        # A second stop is a no-op.
        assert management_cluster.stop()["changed"] is False
    finally:
        dummy.kill()
        dummy.wait()
        start = time.time()
        result = management_cluster.start()
        print("warm start after stop: %.1fs (%s)" % (time.time() - start, result["timings"]))
    assert result["changed"] is True
    assert sorted(result["started"]) == sorted(runtime.COMPONENTS)
    assert result["applied"] == []
    assert management_cluster.status()["healthy"]
