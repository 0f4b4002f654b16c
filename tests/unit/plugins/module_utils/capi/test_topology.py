# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Unit tests of the pure topology Cluster builders and status readers (no cluster)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.scs.kaas.plugins.module_utils.capi import topology, validation

FULL = {
    "name": "prod-1",
    "namespace": "tenant-a",
    "infrastructure": "inmemory",
    "kubernetes_version": "1.35.4",
    "control_plane": {
        "replicas": 3,
        "labels": {"tier": "cp"},
        "deletion": {"node_drain_timeout": "10m", "node_volume_detach_timeout": 60},
        "machine_health_check": {"node_startup_timeout": "20m",
                                 "unhealthy_node_conditions": [{"type": "Ready", "status": "Unknown", "timeout": "5m"}]},
    },
    "node_groups": [
        {"name": "md-0", "replicas": 2, "failure_domain": "az-1",
         "labels": {"node-role.kubernetes.io/worker": ""},
         "taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}],
         "rollout": {"max_surge": "25%", "max_unavailable": 0},
         "deletion": {"node_drain_timeout": "5m", "node_deletion_timeout": "1h", "order": "Oldest"},
         "variables": {"workerFlavor": "SCS-4V-8"}},
        {"name": "batch", "autoscaler": {"min": 1, "max": 5}, "min_ready_seconds": 30,
         "machine_health_check": {"max_in_flight": 1, "max_unhealthy": "40%"}},
    ],
    "network": {"pods": ["10.244.0.0/16"], "services": ["10.96.0.0/12"], "service_domain": "k8s.local"},
    "api": {"cert_sans": ["api.prod-1.example.com", "192.0.2.10"],
            "oidc": {"issuer_url": "https://id.example.com", "client_id": "kube", "groups_claim": "groups"}},
    "variables": {"registryMirrors": [{"registry": "docker.io", "endpoints": ["https://mirror"]}]},
    "labels": {"team": "a"},
    "paused": False,
    "protected": True,
}


def _build(raw):
    spec, errors = validation.normalize_spec(raw)
    assert errors == []
    return topology.build_cluster(spec)


def test_full_spec_maps_every_field_to_v1beta2_names():
    obj = _build(FULL)
    assert obj["apiVersion"] == "cluster.x-k8s.io/v1beta2" and obj["kind"] == "Cluster"
    assert obj["metadata"]["name"] == "prod-1" and obj["metadata"]["namespace"] == "tenant-a"
    assert obj["metadata"]["labels"]["team"] == "a"
    assert obj["metadata"]["annotations"][topology.PROTECTED_ANNOTATION] == "true"
    spec = obj["spec"]
    assert spec["clusterNetwork"] == {"pods": {"cidrBlocks": ["10.244.0.0/16"]},
                                      "services": {"cidrBlocks": ["10.96.0.0/12"]},
                                      "serviceDomain": "k8s.local"}
    topo = spec["topology"]
    assert topo["classRef"] == {"name": "scs-inmemory-1-35-v1"}
    assert topo["version"] == "v1.35.4"
    cp = topo["controlPlane"]
    assert cp["replicas"] == 3
    assert cp["metadata"] == {"labels": {"tier": "cp"}}
    assert cp["deletion"] == {"nodeDrainTimeoutSeconds": 600, "nodeVolumeDetachTimeoutSeconds": 60}
    assert cp["healthCheck"] == {"enabled": True, "checks": {
        "nodeStartupTimeoutSeconds": 1200,
        "unhealthyNodeConditions": [{"type": "Ready", "status": "Unknown", "timeoutSeconds": 300}]}}
    md0, batch = topo["workers"]["machineDeployments"]
    assert md0["class"] == "default-worker" and md0["name"] == "md-0" and md0["replicas"] == 2
    assert md0["failureDomain"] == "az-1"
    assert md0["metadata"]["labels"] == {"node-role.kubernetes.io/worker": ""}
    assert md0["rollout"] == {"strategy": {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}}
    assert md0["deletion"] == {"nodeDrainTimeoutSeconds": 300, "nodeDeletionTimeoutSeconds": 3600, "order": "Oldest"}
    overrides = {o["name"]: o["value"] for o in md0["variables"]["overrides"]}
    assert overrides == {"nodeLabels": {"node-role.kubernetes.io/worker": ""},
                         "nodeTaints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}],
                         "workerFlavor": "SCS-4V-8"}
    assert [o["name"] for o in md0["variables"]["overrides"]] == sorted(overrides)
    assert "replicas" not in batch
    assert batch["metadata"]["annotations"] == {topology.AUTOSCALER_MIN: "1", topology.AUTOSCALER_MAX: "5"}
    assert batch["minReadySeconds"] == 30
    assert batch["healthCheck"]["remediation"] == {"maxInFlight": 1, "triggerIf": {"unhealthyLessThanOrEqualTo": "40%"}}
    variables = {v["name"]: v["value"] for v in topo["variables"]}
    assert variables["certSANs"] == ["api.prod-1.example.com", "192.0.2.10"]
    assert variables["oidc"] == {"issuerURL": "https://id.example.com", "clientID": "kube", "groupsClaim": "groups"}
    assert variables["registryMirrors"][0]["registry"] == "docker.io"
    assert spec["paused"] is False


def test_builder_is_deterministic_and_does_not_mutate_its_input():
    spec = validation.normalize_spec(FULL)[0]
    before = copy.deepcopy(spec)
    assert topology.build_cluster(spec) == topology.build_cluster(spec)
    assert spec == before


def test_minimal_spec_has_no_empty_lists_or_maps():
    obj = _build({"name": "m", "infrastructure": "inmemory", "kubernetes_version": "v1.34.4"})
    assert "workers" not in obj["spec"]["topology"]
    assert "variables" not in obj["spec"]["topology"]
    assert "annotations" not in obj["metadata"]

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                assert v != {} and v != [], "%s.%s is empty" % (path, k)
                walk(v, path + "." + k)
    walk(obj, "")


def test_class_and_version_change_in_one_object():
    old = _build(FULL)
    new_raw = copy.deepcopy(FULL)
    new_raw["kubernetes_version"] = "v1.36.5"
    new = _build(new_raw)
    assert new["spec"]["topology"]["classRef"]["name"] == "scs-inmemory-1-36-v1"
    assert new["spec"]["topology"]["version"] == "v1.36.5"
    assert old["spec"]["topology"]["classRef"]["name"] == "scs-inmemory-1-35-v1"


def test_unprotected_cluster_carries_no_protection_annotation():
    raw = copy.deepcopy(FULL)
    raw["protected"] = False
    assert topology.PROTECTED_ANNOTATION not in _build(raw)["metadata"].get("annotations", {})


def _live(generation=2, observed=2, conditions=None, cp=None, workers=None, version="v1.34.4", md_replicas=2):
    conds = conditions if conditions is not None else [
        {"type": t, "status": s, "reason": "X", "observedGeneration": generation}
        for t, s in topology.CONVERGED_CONDITIONS]
    return {
        "metadata": {"name": "c", "namespace": "default", "generation": generation},
        "spec": {"topology": {"version": version, "classRef": {"name": "k"}, "controlPlane": {"replicas": 1},
                              "workers": {"machineDeployments": [{"name": "md-0", "class": "w", "replicas": md_replicas}]}}},
        "status": {
            "observedGeneration": observed,
            "conditions": conds,
            "controlPlane": cp or {"desiredReplicas": 1, "replicas": 1, "upToDateReplicas": 1, "availableReplicas": 1,
                                   "readyReplicas": 1, "versions": [{"version": version, "replicas": 1}]},
            "workers": workers or {"desiredReplicas": 2, "replicas": 2, "upToDateReplicas": 2, "availableReplicas": 2,
                                   "readyReplicas": 2, "versions": [{"version": version, "replicas": 2}]},
        },
    }


def test_converged_cluster_has_no_problems():
    assert topology.convergence_problems(_live()) == []


def test_observed_generation_must_catch_up_first():
    problems = topology.convergence_problems(_live(generation=3, observed=2))
    assert [p["type"] for p in problems] == ["ObservedGeneration"]


def test_condition_observed_at_an_older_generation_does_not_count():
    live = _live()
    live["status"]["conditions"][0]["observedGeneration"] = 1
    assert [p["type"] for p in topology.convergence_problems(live)] == ["Available"]


def test_failing_conditions_are_reported_with_reason_and_message():
    live = _live()
    for cond in live["status"]["conditions"]:
        if cond["type"] == "RollingOut":
            cond.update(status="True", reason="RollingOut", message="Rolling out 1 Machine")
    problems = topology.convergence_problems(live)
    assert problems == [{"type": "RollingOut", "status": "True", "reason": "RollingOut",
                         "message": "Rolling out 1 Machine"}]


def test_scale_not_yet_reflected_in_status_is_not_converged():
    problems = topology.convergence_problems(_live(md_replicas=3))
    assert [p["type"] for p in problems] == ["workersReplicas"]


def test_old_versions_still_running_are_not_converged():
    live = _live(version="v1.35.4")
    live["status"]["workers"]["versions"] = [{"version": "v1.34.4", "replicas": 1}, {"version": "v1.35.4", "replicas": 1}]
    assert [p["type"] for p in topology.convergence_problems(live)] == ["workersVersions"]


def test_summary():
    summary = topology.summarize(_live())
    assert summary["available"] is True
    assert summary["control_plane"]["desired"] == 1
    assert summary["workers"]["versions"] == {"v1.34.4": 2}
    assert summary["node_groups"] == [{"name": "md-0", "class": "w", "replicas": 2, "failure_domain": None}]


def test_class_ref_names_a_namespace_only_when_it_differs_from_the_clusters():
    other, errors = validation.normalize_spec(dict(FULL, class_namespace="capi-classes"))
    assert errors == []
    assert topology.build_cluster(other)["spec"]["topology"]["classRef"] == {
        "name": "scs-inmemory-1-35-v1", "namespace": "capi-classes"}
    same, errors = validation.normalize_spec(dict(FULL, class_namespace="tenant-a"))
    assert errors == []
    assert topology.build_cluster(same)["spec"]["topology"]["classRef"] == {"name": "scs-inmemory-1-35-v1"}


def test_summary_reports_the_namespace_the_class_is_looked_up_in():
    spec, errors = validation.normalize_spec(dict(FULL, class_namespace="capi-classes"))
    assert errors == []
    assert topology.summarize(topology.build_cluster(spec))["class_namespace"] == "capi-classes"
    spec, errors = validation.normalize_spec(FULL)
    assert topology.summarize(topology.build_cluster(spec))["class_namespace"] == "tenant-a"
