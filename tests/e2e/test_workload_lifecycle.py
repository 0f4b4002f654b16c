# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Workload cluster lifecycle through the playbooks against the embedded management cluster.

create (1 CP, 2 workers) -> Available; second run: no change and zero writes; check mode + diff:
zero writes; scale; upgrade.yml walks two minors to the inventory's version (1.34 -> 1.36), each
step changes class and version in one write and replaces each Machine exactly once, and the next
clusters.yml changes nothing; a label another field manager took over fails the run naming the
variable, the field and the manager, with zero writes, until the operator forces it; protected delete
refused with zero writes; delete waits until everything is gone.

The tests in this module run in order and share one cluster.
"""

from __future__ import annotations

import base64
import os
import stat

import pytest
import yaml

import helpers
import proc_helpers
import workload_helpers as wh

from ansible_collections.scs.kaas.plugins.module_utils.embedded import registry

NAMESPACE = "wl-lifecycle"
HOST = "wl-a"
SPEC = {
    "kubernetes_version": "v1.34.4",
    "control_plane": {"replicas": 1},
    "node_groups": [{"name": "md-0", "replicas": 2, "labels": {"tier": "general"},
                     "rollout": {"max_surge": 1, "max_unavailable": 0},
                     "deletion": {"node_drain_timeout": "2m"}}],
    "api": {"cert_sans": ["api.wl-a.example.com"]},
    "labels": {"team": "blue"},
}
DEFAULTS = {"infrastructure": "inmemory", "namespace": NAMESPACE}


@pytest.fixture(scope="module")
def lab(management_cluster, ansible_env, tmp_path_factory):
    directory = tmp_path_factory.mktemp("wl-lifecycle")
    inventory = wh.write_inventory(str(directory / "hosts.yml"), management_cluster.kubeconfig,
                                   {HOST: SPEC}, DEFAULTS)
    wh.install_classes(ansible_env, inventory, NAMESPACE)
    return {"mc": management_cluster, "env": ansible_env, "inventory": inventory, "dir": directory}


def _cluster(mc):
    return helpers.get_cluster(mc, NAMESPACE, HOST)


def _converged_machines(mc, count, version):
    return helpers.machines_running(mc, NAMESPACE, HOST, count, version)


def test_create_reaches_available(lab):
    mc = lab["mc"]
    kubeconfig_dir = str(lab["dir"] / "kubeconfigs")
    # -vvv: the most verbose output must still carry no secret (see _secret_fragments).
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml",
                                  {"workload_cluster_kubeconfig_dir": kubeconfig_dir}, args=("-vvv",))
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert recap[HOST]["changed"] >= 1 and recap[HOST]["failed"] == 0
    assert helpers.cluster_available(mc, NAMESPACE, HOST)
    cluster = _cluster(mc)
    assert cluster["spec"]["topology"]["classRef"]["name"] == "scs-inmemory-1-34-v1"
    assert _converged_machines(mc, 3, "v1.34.4")
    path = os.path.join(kubeconfig_dir, "%s-%s.kubeconfig" % (NAMESPACE, HOST))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as handle:
        content = handle.read()
    assert "certificate-authority-data" in content
    assert content not in proc.stdout  # never logged
    with open(mc.kubeconfig) as handle:
        management_kubeconfig = handle.read()
    fragments = _secret_fragments(content) + _secret_fragments(management_kubeconfig)
    assert len(fragments) >= 4, "expected client keys in both kubeconfigs"
    leaked = [fragment[:12] + "..." for fragment in fragments if fragment in proc.stdout]
    assert not leaked, "secret material in the -vvv output: %s" % leaked


def test_every_listening_socket_of_the_management_cluster_is_on_loopback(lab):
    """With a workload cluster up, every socket the started processes listen on, CAPD's in-memory
    ones included (its debug port and the workload cluster's API from 20000 up), is on loopback."""
    mc = lab["mc"]
    pids = proc_helpers.descendants(mc.started_pids().values())
    ours = [e for e in proc_helpers.listeners() if any(pid in pids for _n, pid in e["processes"])]
    ports = sorted(e["port"] for e in ours)
    assert registry.INMEMORY_DEBUG_PORT in ports, ports
    assert any(p >= registry.INMEMORY_MIN_PORT for p in ports), ports
    assert mc.ports["kube_apiserver"] in ports and mc.ports["capi_webhook"] in ports, ports
    exposed = [e["line"] for e in ours if e["address"] not in ("127.0.0.1", "::1")]
    assert not exposed, "listening beyond loopback:\n" + "\n".join(exposed)
    assert _cluster(mc)["spec"]["controlPlaneEndpoint"]["host"] == "127.0.0.1"


def _secret_fragments(kubeconfig_text):
    """Values of client keys/tokens in a kubeconfig, base64 and decoded (a line of the PEM body)."""
    fragments = []
    for user in yaml.safe_load(kubeconfig_text).get("users") or []:
        for key in ("client-key-data", "token"):
            value = (user.get("user") or {}).get(key)
            if not value:
                continue
            fragments.append(value)
            if key == "client-key-data":
                pem_lines = base64.b64decode(value).decode().splitlines()
                fragments.append(pem_lines[len(pem_lines) // 2])
    return fragments


def test_second_run_changes_nothing_and_writes_nothing(lab):
    mc = lab["mc"]
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml")
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert recap[HOST]["changed"] == 0
    assert mc.writes(wh.OUR_AGENT, marker) == []


def test_check_mode_with_diff_writes_nothing(lab):
    mc = lab["mc"]
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml",
                                  {"workload_cluster_scale": {"md-0": 5}}, args=["--check", "--diff"])
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert recap[HOST]["changed"] >= 1
    assert mc.writes(wh.OUR_AGENT, marker) == []
    md = _cluster(mc)["spec"]["topology"]["workers"]["machineDeployments"][0]
    assert md["replicas"] == 2


def _label_managers(cluster, label):
    """Field managers that own ``metadata.labels[label]`` of the object."""
    return sorted(entry["manager"] for entry in cluster["metadata"].get("managedFields") or ()
                  if "f:" + label in ((entry.get("fieldsV1") or {}).get("f:metadata") or {}).get("f:labels", {}))


def test_a_field_another_manager_owns_is_refused_until_forced(lab):
    mc = lab["mc"]
    mc.kubectl("label", "cluster", HOST, "-n", NAMESPACE, "team=red", "--overwrite")
    assert _label_managers(_cluster(mc), "team") == ["kubectl-label"]
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml")
    assert proc.returncode != 0 and recap[HOST]["failed"] == 1, proc.stdout[-6000:]
    assert ('workload_cluster.labels.team (field metadata.labels.team) is owned by field manager "kubectl-label"'
            in proc.stdout), proc.stdout[-6000:]
    assert "workload_cluster_force_conflicts" in proc.stdout
    assert mc.writes(wh.OUR_AGENT, marker) == []
    cluster = _cluster(mc)
    assert cluster["metadata"]["labels"]["team"] == "red" and _label_managers(cluster, "team") == ["kubectl-label"]

    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml",
                                  {"workload_cluster_force_conflicts": True})
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert recap[HOST]["changed"] >= 1
    assert [w["verb"] for w in mc.writes(wh.OUR_AGENT, marker)] == ["patch"]
    cluster = _cluster(mc)
    assert cluster["metadata"]["labels"]["team"] == "blue" and _label_managers(cluster, "team") == ["scs.kaas"]
    assert wh.machine_creations(mc, NAMESPACE, marker) == 0


def test_scale_workers(lab):
    mc = lab["mc"]
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml", {"workload_cluster_scale": {"md-0": 3}})
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert recap[HOST]["changed"] >= 1
    writes = mc.writes(wh.OUR_AGENT, marker)
    assert len(writes) == 1 and writes[0]["verb"] == "patch", writes
    assert _converged_machines(mc, 4, "v1.34.4")
    assert wh.machine_creations(mc, NAMESPACE, marker) == 1


def test_upgrade_walks_two_minors_replacing_each_machine_once(lab):
    mc = lab["mc"]
    # the inventory holds the target: raise its version (and the scaled workers) and run upgrade.yml
    target = dict(SPEC, kubernetes_version="v1.36.5")
    target["node_groups"] = [dict(SPEC["node_groups"][0], replicas=3)]
    inventory = wh.write_inventory(str(lab["dir"] / "target.yml"), mc.kubeconfig, {HOST: target}, DEFAULTS)
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], inventory, "upgrade.yml")
    assert proc.returncode == 0, proc.stdout[-8000:]
    cluster = _cluster(mc)
    assert cluster["spec"]["topology"]["version"] == "v1.36.5"
    assert cluster["spec"]["topology"]["classRef"]["name"] == "scs-inmemory-1-36-v1"
    assert helpers.cluster_available(mc, NAMESPACE, HOST)
    assert _converged_machines(mc, 4, "v1.36.5")
    # exactly two writes of ours: one per step, each changing class and version together
    writes = mc.writes(wh.OUR_AGENT, marker)
    assert [w["verb"] for w in writes] == ["patch", "patch"], writes
    # two steps x 4 machines (1 control plane + 3 workers), each replaced exactly once per step
    assert wh.machine_creations(mc, NAMESPACE, marker) == 8
    # the inventory now matches the cluster: clusters.yml is no downgrade and writes nothing
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], inventory, "clusters.yml")
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert recap[HOST]["changed"] == 0
    assert mc.writes(wh.OUR_AGENT, marker) == []


def test_protected_cluster_is_not_deleted_without_force(lab):
    mc = lab["mc"]
    protected = dict(SPEC, protected=True, kubernetes_version="v1.36.5")
    protected["node_groups"] = [dict(SPEC["node_groups"][0], replicas=3)]
    inventory = wh.write_inventory(str(lab["dir"] / "protected.yml"), mc.kubeconfig, {HOST: protected}, DEFAULTS)
    proc, recap = wh.run_playbook(lab["env"], inventory, "clusters.yml")
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert _cluster(mc)["metadata"]["annotations"]["kaas.scs.community/protected"] == "true"
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], inventory, "delete.yml")
    assert proc.returncode != 0
    assert recap[HOST]["failed"] == 1
    assert "is protected" in proc.stdout and "force_delete_protected" in proc.stdout
    assert mc.writes(wh.OUR_AGENT, marker) == []
    assert _cluster(mc)["metadata"].get("deletionTimestamp") is None


def test_delete_waits_until_everything_is_gone(lab):
    mc = lab["mc"]
    # Every kind of the CAPI and provider groups, by API discovery; it must see the cluster first.
    kinds = helpers.capi_kinds(mc)
    before = {entry.split("/", 1)[0] for entry in helpers.cluster_objects(mc, NAMESPACE, HOST, kinds)}
    assert {"Cluster.cluster.x-k8s.io", "Machine.cluster.x-k8s.io", "DevMachine.infrastructure.cluster.x-k8s.io",
            "KubeadmControlPlane.controlplane.cluster.x-k8s.io", "Secret"} <= before, sorted(before)
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "delete.yml",
                                  {"workload_cluster_force_delete_protected": True})
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert recap[HOST]["changed"] >= 1
    # The playbook returned after its wait: nothing of the cluster may be left at this moment.
    assert helpers.cluster_objects(mc, NAMESPACE, HOST, kinds) == []
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "delete.yml")
    assert proc.returncode == 0 and recap[HOST]["changed"] == 0
    assert mc.writes(wh.OUR_AGENT, marker) == []
