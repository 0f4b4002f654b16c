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
from urllib.parse import urlparse

import pytest
import yaml

import helpers
import proc_helpers

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.embedded import registry, runtime


def test_apiserver_version_is_the_pin(management_cluster):
    version = json.loads(management_cluster.kubectl("get", "--raw", "/version").stdout)
    assert version["gitVersion"] == pins.KUBERNETES_MANAGEMENT_VERSION


def test_built_binaries_report_the_versions_of_their_go_modules(embedded_build):
    """The version stamps (linker flags) of the built binaries are the pinned releases."""
    b = embedded_build["binaries"]

    def run(*argv):
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True,
                              timeout=60, env=dict(os.environ, CLUSTERCTL_DISABLE_VERSIONCHECK="true")).stdout

    kubectl = json.loads(run(b["kubectl"], "version", "--client", "-o", "json"))["clientVersion"]
    assert kubectl["gitVersion"] == pins.KUBERNETES_MANAGEMENT_VERSION and kubectl["gitTreeState"] == "clean"
    for name in ("kube-apiserver", "kube-controller-manager"):
        assert run(b[name], "--version").split() == ["Kubernetes", pins.KUBERNETES_MANAGEMENT_VERSION], name
    clusterctl = json.loads(run(b["clusterctl"], "version", "-o", "json"))["clusterctl"]
    assert clusterctl["gitVersion"] == pins.CLUSTER_API_VERSION


def test_everything_is_healthy_and_files_are_private(management_cluster):
    status = management_cluster.status()
    assert status["healthy"], json.dumps(status, indent=2)
    assert sorted(status["components"]) == sorted(runtime.COMPONENTS)
    state = management_cluster.state_dir
    for rel in ("kubeconfig", "state.json", "pki/ca.key", "pki/admin.key", "pki/sa.key", "pki/webhook/tls.key",
                "pki/webhook-ca.key", "audit/policy.yaml", "audit/audit.log"):
        mode = os.stat(os.path.join(state, rel)).st_mode & 0o777
        assert mode == 0o600, "%s has mode %o" % (rel, mode)
    for rel in ("", "pki", "pki/webhook", "logs", "pids", "audit", "etcd", "bin"):
        mode = os.stat(os.path.join(state, rel)).st_mode & 0o777
        assert mode == 0o700, "%s/ has mode %o" % (rel, mode)
    # bin/kubectl: the built kubectl of the pinned release, for operators.
    assert os.path.realpath(os.path.join(state, "bin", "kubectl")) == \
        os.path.realpath(management_cluster.binaries["kubectl"])


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


def test_audit_reads_see_a_write_at_once(management_cluster):
    """Each read finds the writes answered just before it, with no sleep (the marker request)."""
    from kubernetes import client as k8s_client

    mc = management_cluster
    core = k8s_client.CoreV1Api(mc.api_client())
    for attempt in range(10):
        marker = mc.mark()
        name = "audit-probe-%d-%d" % (attempt, os.getpid())
        core.create_namespaced_config_map("default", {"metadata": {"name": name}})
        core.delete_namespaced_config_map(name, "default")
        writes = mc.writes(helpers.E2E_USER_AGENT, since=marker)
        assert [(w["verb"], w["objectRef"]["name"]) for w in writes] == [("create", name), ("delete", name)], writes


def test_audit_read_fails_on_a_line_that_is_not_json(tmp_path):
    log = tmp_path / "audit.log"
    event = {"stage": "ResponseComplete", "verb": "create", "requestURI": "/api/v1/namespaces", "auditID": "a"}
    marker = dict(event, requestURI="/api/v1/namespaces?dryRun=All&fieldManager=tok-1", auditID="m")
    reader = helpers.AuditLog(str(log), kubeconfig=None)
    # A trailing line the server is still writing is not an error while the marker is missing ...
    log.write_text(json.dumps(event) + "\n" + '{"stage": "Respo')
    assert reader._scan(0, "tok-1") == ([event], None)
    # ... and the marker ends the read just after its line.
    log.write_text(json.dumps(event) + "\n" + json.dumps(marker) + "\n" + json.dumps(event) + "\n")
    assert reader._scan(0, "tok-1") == ([event], len(json.dumps(event)) + len(json.dumps(marker)) + 2)
    # A complete line that does not parse fails the read.
    log.write_text(json.dumps(event) + "\n" + "garbage\n" + json.dumps(marker) + "\n")
    with pytest.raises(AssertionError, match="not a JSON audit event"):
        reader._scan(0, "tok-1")


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


# ---------------------------------------------------------------- embedded_cluster_info, field by field


def _cluster_info(ansible_env, tmp_path, state_dir):
    """The result of scs.kaas.embedded_cluster_info, run through ansible-playbook."""
    out = tmp_path / "info.json"
    playbook = tmp_path / "info.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "info", "hosts": "localhost", "gather_facts": False, "connection": "local",
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": [
            {"name": "info", "scs.kaas.embedded_cluster_info": {"state_dir": str(state_dir)}, "register": "info"},
            {"name": "save", "ansible.builtin.copy": {"content": "{{ info | to_json }}", "dest": str(out),
                                                      "mode": "0600"}},
        ],
    }]))
    run = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                          str(playbook)], env=ansible_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout
    with open(str(out)) as handle:
        return json.load(handle)


def _observed_processes(state_dir, binaries):
    """component -> pid of every process whose executable is a built binary and whose arguments
    name ``state_dir`` (read from /proc, nothing from the runtime's records)."""
    by_binary = {os.path.realpath(path): name for name, path in binaries.items()}
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            exe = os.path.realpath("/proc/%s/exe" % entry)
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                argv = [a.decode() for a in handle.read().split(b"\0") if a]
        except OSError:
            continue
        if exe in by_binary and any(state_dir in a for a in argv[1:]):
            assert by_binary[exe] not in found, "two processes of %s for %s" % (by_binary[exe], state_dir)
            found[by_binary[exe]] = int(entry)
    return found


def _start_epoch(pid):
    """Start time of ``pid`` in seconds since the epoch (/proc/<pid>/stat and /proc/stat btime)."""
    with open("/proc/%d/stat" % pid) as handle:
        stat = handle.read()
    ticks = int(stat[stat.rfind(")") + 2:].split()[19])
    with open("/proc/stat") as handle:
        btime = int([line.split()[1] for line in handle if line.startswith("btime ")][0])
    return btime + ticks / os.sysconf("SC_CLK_TCK")


def _listening_ports(pid):
    """{port: address} of every TCP socket ``pid`` listens on, from `ss -ltnpH`."""
    out = subprocess.run(["ss", "-ltnpH"], stdout=subprocess.PIPE, text=True, check=True).stdout
    ports = {}
    for line in out.splitlines():
        if "pid=%d," % pid in line:
            host, _sep, port = line.split()[3].rpartition(":")
            ports[int(port)] = host.strip("[]")
    return ports


def test_cluster_info_reports_what_the_system_shows(management_cluster, embedded_build, ansible_env, tmp_path):
    mc = management_cluster
    before_call = time.time()
    info = _cluster_info(ansible_env, tmp_path, mc.state_dir)

    assert os.path.realpath(info["state_dir"]) == os.path.realpath(mc.state_dir)

    # pids: exactly the processes /proc shows running our binaries for this state dir.
    observed = _observed_processes(mc.state_dir, {n: embedded_build["binaries"][n] for n in runtime.COMPONENTS})
    assert {name: c["pid"] for name, c in info["components"].items()} == observed
    for name, component in info["components"].items():
        pid = component["pid"]
        assert component["running"] is True and component["healthy"] is True, (name, component)
        assert _start_epoch(pid) < before_call, (name, pid)
        # ports: what the process really listens on (CAPD also opens one per in-memory workload cluster).
        listening = _listening_ports(pid)
        reported = component["ports"]
        assert sorted(reported.values()) == sorted(p for p in listening if not (
            name == "capd-manager" and p >= registry.INMEMORY_MIN_PORT)), (name, reported, listening)
        assert all(listening[p] == "127.0.0.1" for p in reported.values()), (name, listening)
        # log: private, and its last start line is this process's command line.
        assert os.stat(component["log"]).st_mode & 0o777 == 0o600
        with open(component["log"], "rb") as handle:
            starts = [line for line in handle.read().decode("utf-8", "replace").splitlines()
                      if line.startswith("==== ") and " starting " in line]
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            argv = [a.decode() for a in handle.read().split(b"\0") if a]
        assert starts and starts[-1].split(" starting ", 1)[1] == " ".join(argv), (name, starts[-1:])
    assert info["running"] is True and info["healthy"] is True

    # api_server: the URL whose port the kube-apiserver process listens on, and whose /version
    # answers with the pinned release, using the reported kubeconfig's credentials.
    url = urlparse(info["api_server"])
    assert url.scheme == "https" and url.hostname == "127.0.0.1"
    assert url.port in _listening_ports(info["components"]["kube-apiserver"]["pid"])
    assert os.stat(info["kubeconfig"]).st_mode & 0o777 == 0o600
    with open(info["kubeconfig"]) as handle:
        kubeconfig = yaml.safe_load(handle)
    assert [c["cluster"]["server"] for c in kubeconfig["clusters"]] == [info["api_server"]]
    version = json.loads(subprocess.run(
        [embedded_build["binaries"]["kubectl"], "--kubeconfig", info["kubeconfig"], "get", "--raw", "/version"],
        stdout=subprocess.PIPE, text=True, check=True, timeout=60).stdout)
    assert version["gitVersion"] == pins.KUBERNETES_MANAGEMENT_VERSION

    # audit_log: the file the API server writes its audit events to (a marker request shows up there).
    helpers.AuditLog(info["audit_log"], info["kubeconfig"]).mark()


def test_cluster_info_of_a_cluster_that_never_ran(ansible_env, tmp_path):
    never = tmp_path / "never-started"
    info = _cluster_info(ansible_env, tmp_path, never)
    assert info["running"] is False and info["healthy"] is False
    assert sorted(info["components"]) == sorted(runtime.COMPONENTS)
    for name, component in info["components"].items():
        assert (component["running"], component["healthy"], component["pid"]) == (False, False, None), name
        assert not os.path.exists(component["log"])
    assert not os.path.exists(info["kubeconfig"]) and not os.path.exists(info["audit_log"])
