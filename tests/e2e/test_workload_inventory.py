# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The inventory as the source of truth, against the embedded management cluster.

A cluster in its own namespace uses the classes of the one class namespace; its kubeconfig is
written with ``wait: false`` as soon as its Secret exists; ``workload_cluster_info`` is checked
field by field against the live objects; a version two minors ahead is refused by clusters.yml and
walked by upgrade.yml; a downgrade (and the removed ``workload_cluster_upgrade_to``) is refused with
zero writes. (``playbooks/demo.yml`` is checked by ``tests/newcomer/test_demo.py``, which runs
``make demo`` as a newcomer does.)

The tests in this module run in order and share one cluster.
"""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest
import yaml

import helpers
import workload_helpers as wh

CLASS_NAMESPACE = "wl-classes"
NAMESPACE = "wl-team-a"
HOST = "team-a-1"
SPEC = {
    "kubernetes_version": "v1.34.4",
    "control_plane": {"replicas": 1},
    "node_groups": [{"name": "md-0", "replicas": 1, "rollout": {"max_surge": 1, "max_unavailable": 0}}],
}
DEFAULTS = {"infrastructure": "inmemory", "namespace": NAMESPACE}
SUMMARY_FIELDS = {
    "name", "namespace", "class", "class_namespace", "kubernetes_version", "phase", "paused", "protected",
    "deleting", "generation", "observed_generation", "control_plane", "workers", "node_groups", "conditions",
    "available", "problems", "converged", "machines",
}


@pytest.fixture(scope="module")
def lab(management_cluster, ansible_env, tmp_path_factory):
    directory = tmp_path_factory.mktemp("wl-inventory")
    lab = {"mc": management_cluster, "env": ansible_env, "dir": directory}
    lab["inventory"] = _inventory(lab, "hosts.yml", SPEC)
    wh.install_classes(ansible_env, lab["inventory"])
    return lab


def _inventory(lab, filename, spec):
    """Clusters in NAMESPACE, classes in CLASS_NAMESPACE (the one inventory variable)."""
    return wh.write_inventory(str(lab["dir"] / filename), lab["mc"].kubeconfig, {HOST: spec}, DEFAULTS,
                              extra_vars={"cluster_classes_namespace": CLASS_NAMESPACE})


def _cluster(mc, namespace=NAMESPACE, name=HOST):
    return helpers.get_cluster(mc, namespace, name)


def _wait_converged(mc, machines, version, namespace=NAMESPACE, name=HOST):
    helpers.wait_for("%s/%s available with %d machines at %s" % (namespace, name, machines, version),
                     lambda: helpers.cluster_available(mc, namespace, name)
                     and helpers.machines_running(mc, namespace, name, machines, version),
                     300, 1.0, mc.diagnostics)


def test_cluster_uses_the_class_namespace_and_gets_its_kubeconfig_without_waiting(lab):
    mc = lab["mc"]
    assert mc.kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0
    kubeconfig_dir = str(lab["dir"] / "kubeconfigs")
    capture = str(lab["dir"] / "create.json")
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], wh.capture_playbook(str(lab["dir"])),
                                  {"workload_cluster_wait": False, "workload_cluster_kubeconfig_dir": kubeconfig_dir,
                                   "capture_file": capture})
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "TASK [note]" not in proc.stdout, proc.stdout[-6000:]  # the capture playbook's rescue did not run
    assert recap[HOST]["changed"] >= 1 and recap[HOST]["failed"] == 0
    # the Cluster's own namespace was created with it (the classes are elsewhere)
    assert mc.kubectl("get", "namespace", NAMESPACE, check=False).returncode == 0
    # the file is there when the module returns: it waited for the Secret, not for convergence
    path = os.path.join(kubeconfig_dir, "%s-%s.kubeconfig" % (NAMESPACE, HOST))
    assert os.path.isfile(path), os.listdir(kubeconfig_dir) if os.path.isdir(kubeconfig_dir) else "no directory"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [n for n in os.listdir(kubeconfig_dir) if n.startswith(".kubeconfig-")] == []  # no temporary file left
    secret = mc.kubectl_json("get", "secret", "-n", NAMESPACE, "%s-kubeconfig" % HOST, "-o", "json")
    with open(path, "rb") as handle:
        content = handle.read()
    assert content == base64.b64decode(secret["data"]["value"])
    with open(capture) as handle:
        result = json.load(handle)["clusters"][HOST]
    assert result["failed"] is False, result["msg"]
    assert result["kubeconfig_path"] == path and result["action"] == "create"
    assert content.decode() not in proc.stdout and secret["data"]["value"] not in proc.stdout

    cluster = _cluster(mc)
    assert cluster["spec"]["topology"]["classRef"] == {"name": "scs-inmemory-1-34-v1", "namespace": CLASS_NAMESPACE}
    # CAPI found the class across namespaces: the cluster converges
    _wait_converged(mc, 2, "v1.34.4")
    assert mc.kubectl("get", "clusterclasses", "-n", NAMESPACE, "-o", "name").stdout.split() == []


def test_check_mode_in_a_missing_namespace_reports_the_creation_and_writes_nothing(lab):
    mc = lab["mc"]
    inventory = wh.write_inventory(str(lab["dir"] / "new-namespace.yml"), mc.kubeconfig, {"team-b-1": SPEC},
                                   dict(DEFAULTS, namespace="wl-team-b"),
                                   extra_vars={"cluster_classes_namespace": CLASS_NAMESPACE})
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], inventory, "clusters.yml", args=["--check", "--diff"])
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert recap["team-b-1"]["changed"] >= 1 and "create: v1.34.4" in proc.stdout
    assert mc.writes(wh.OUR_AGENT, marker) == []
    assert mc.kubectl("get", "namespace", "wl-team-b", check=False).returncode != 0


def _info(lab, **filters):
    playbook = str(lab["dir"] / "info.yml")
    capture = str(lab["dir"] / "info.json")
    with open(playbook, "w") as handle:
        yaml.safe_dump([{
            "name": "info", "hosts": "localhost", "gather_facts": False,
            "tasks": [
                {"name": "read", "scs.kaas.workload_cluster_info": dict({"kubeconfig": lab["mc"].kubeconfig}, **filters),
                 "register": "info"},
                {"name": "save", "ansible.builtin.copy": {"content": "{{ info | to_json }}", "dest": capture,
                                                          "mode": "0600"}},
            ],
        }], handle)
    proc, _recap = wh.run_playbook(lab["env"], lab["inventory"], playbook)
    assert proc.returncode == 0, proc.stdout[-4000:]
    with open(capture) as handle:
        return json.load(handle)


def _live_state(mc):
    """The Cluster and its Machines read with the kubernetes client, and a fingerprint of both."""
    cluster = _cluster(mc)
    machines = helpers.machines(mc, NAMESPACE, HOST)
    fingerprint = (cluster["metadata"]["resourceVersion"],
                   sorted((m["metadata"]["name"], m["metadata"]["resourceVersion"]) for m in machines))
    return cluster, machines, fingerprint


def _expected_counts(status_part):
    return {"desired": status_part.get("desiredReplicas", 0), "current": status_part.get("replicas", 0),
            "ready": status_part.get("readyReplicas", 0), "available": status_part.get("availableReplicas", 0),
            "up_to_date": status_part.get("upToDateReplicas", 0),
            "versions": {v["version"]: v["replicas"] for v in status_part.get("versions") or []}}


def test_info_reports_every_field_as_the_live_objects_say(lab):
    mc = lab["mc"]
    for _attempt in range(5):
        cluster, machines, before = _live_state(mc)
        info = _info(lab, namespace=NAMESPACE)
        cluster, machines, after = _live_state(mc)
        if before == after:
            break
    else:
        pytest.fail("the cluster kept changing while it was read")
    assert info["changed"] is False
    assert [(c["namespace"], c["name"]) for c in info["clusters"]] == [(NAMESPACE, HOST)]
    got = info["clusters"][0]
    assert set(got) == SUMMARY_FIELDS
    meta, spec, status = cluster["metadata"], cluster["spec"], cluster["status"]
    topo = spec["topology"]
    assert got["name"] == meta["name"] == HOST and got["namespace"] == meta["namespace"] == NAMESPACE
    assert got["class"] == topo["classRef"]["name"]
    assert got["class_namespace"] == topo["classRef"]["namespace"]
    assert got["kubernetes_version"] == topo["version"]
    assert got["phase"] == status["phase"]
    assert got["paused"] is bool(spec.get("paused"))
    assert got["protected"] is (meta.get("annotations", {}).get("kaas.scs.community/protected") == "true")
    assert got["deleting"] is ("deletionTimestamp" in meta)
    assert got["generation"] == meta["generation"] and got["observed_generation"] == status["observedGeneration"]
    assert got["control_plane"] == _expected_counts(status["controlPlane"])
    assert got["workers"] == _expected_counts(status["workers"])
    assert got["node_groups"] == [{"name": md["name"], "class": md["class"], "replicas": md.get("replicas"),
                                   "failure_domain": md.get("failureDomain")}
                                  for md in topo["workers"]["machineDeployments"]]
    assert got["conditions"] == {c["type"]: {"status": c["status"], "reason": c.get("reason"),
                                             "message": c.get("message", "")} for c in status["conditions"]}
    available = [c for c in status["conditions"] if c["type"] == "Available"]
    assert got["available"] is (available[0]["status"] == "True")
    # converged: the test waited for it above and the objects did not change since
    assert got["converged"] is True and got["problems"] == []
    control_plane = [m for m in machines if "cluster.x-k8s.io/control-plane" in m["metadata"].get("labels", {})]
    phases, versions = {}, {}
    for machine in machines:
        phases[machine["status"]["phase"]] = phases.get(machine["status"]["phase"], 0) + 1
        versions[machine["spec"]["version"]] = versions.get(machine["spec"]["version"], 0) + 1
    assert got["machines"] == {"total": len(machines), "control_plane": len(control_plane),
                               "workers": len(machines) - len(control_plane), "phases": phases, "versions": versions}
    # the table: a header and this cluster's row, built from the same live values
    row = [NAMESPACE, HOST, topo["classRef"]["name"], topo["version"],
           "%s/%s" % (status["controlPlane"]["availableReplicas"], status["controlPlane"]["desiredReplicas"]),
           "%s/%s" % (status["workers"]["availableReplicas"], status["workers"]["desiredReplicas"]),
           str(len(machines)), available[0]["status"], "converged"]
    assert [line.split() for line in info["table"]] == [
        ["NAMESPACE", "NAME", "CLASS", "VERSION", "CP", "WORKERS", "MACHINES", "AVAILABLE", "STATE"], row]
    # the filters narrow to nothing when nothing matches
    assert _info(lab, namespace=NAMESPACE, name="no-such-cluster")["clusters"] == []


def test_two_minors_ahead_is_refused_by_clusters_yml_without_writes(lab):
    mc = lab["mc"]
    inventory = _inventory(lab, "target.yml", dict(SPEC, kubernetes_version="v1.36.5"))
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], inventory, "clusters.yml")
    assert proc.returncode != 0 and recap[HOST]["failed"] == 1
    assert "workload_cluster.kubernetes_version: 'v1.34.4' -> 'v1.36.5' skips 1 minor version(s)" in proc.stdout
    assert "run playbooks/upgrade.yml, which walks Cluster %s/%s there one minor at a time" % (NAMESPACE, HOST) in proc.stdout
    assert mc.writes(wh.OUR_AGENT, marker) == []
    assert _cluster(mc)["spec"]["topology"]["version"] == "v1.34.4"


def test_upgrade_walks_to_the_inventory_version_and_clusters_yml_agrees(lab):
    mc = lab["mc"]
    inventory = _inventory(lab, "target.yml", dict(SPEC, kubernetes_version="v1.36.5"))
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], inventory, "upgrade.yml")
    assert proc.returncode == 0, proc.stdout[-8000:]
    writes = mc.writes(wh.OUR_AGENT, marker)
    # one write per minor, class and version together, the class still from the class namespace
    assert [(w["verb"], w["objectRef"]["resource"], w["objectRef"]["name"]) for w in writes] == [
        ("patch", "clusters", HOST)] * 2, writes
    topo = _cluster(mc)["spec"]["topology"]
    assert topo["version"] == "v1.36.5"
    assert topo["classRef"] == {"name": "scs-inmemory-1-36-v1", "namespace": CLASS_NAMESPACE}
    _wait_converged(mc, 2, "v1.36.5")
    assert wh.machine_creations(mc, NAMESPACE, marker) == 4  # 2 steps x 2 machines, each replaced once
    marker = mc.mark()
    for playbook in ("clusters.yml", "upgrade.yml"):
        proc, recap = wh.run_playbook(lab["env"], inventory, playbook)
        assert proc.returncode == 0, proc.stdout[-6000:]
        assert recap[HOST]["changed"] == 0, playbook
    assert mc.writes(wh.OUR_AGENT, marker) == []


@pytest.mark.parametrize("playbook", ["clusters.yml", "upgrade.yml"])
def test_downgrade_is_refused_with_what_to_do_instead(lab, playbook):
    mc = lab["mc"]
    inventory = _inventory(lab, "older.yml", dict(SPEC, kubernetes_version="v1.35.4"))
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], inventory, playbook)
    assert proc.returncode != 0 and recap[HOST]["failed"] == 1
    assert "workload_cluster.kubernetes_version: 'v1.36.5' -> 'v1.35.4' is a downgrade" in proc.stdout
    assert "set workload_cluster.kubernetes_version to v1.36.5" in proc.stdout
    assert "valid: v1.36.5" in proc.stdout
    assert mc.writes(wh.OUR_AGENT, marker) == []
    assert _cluster(mc)["spec"]["topology"]["version"] == "v1.36.5"


def test_a_target_outside_the_inventory_is_refused(lab):
    mc = lab["mc"]
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "upgrade.yml", {"workload_cluster_upgrade_to": "1.36"})
    assert proc.returncode != 0
    assert "workload_cluster_upgrade_to=1.36 is not an option" in proc.stdout
    assert "workload_cluster.kubernetes_version" in proc.stdout
    assert mc.writes(wh.OUR_AGENT, marker) == []
