# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Unit tests of workload cluster spec validation (pure, no cluster)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import ipaddress

import pytest

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.capi import class_openstack, validation

GOOD = {
    "name": "demo-1",
    "infrastructure": "inmemory",
    "kubernetes_version": "v1.34.4",
    "control_plane": {"replicas": 1},
    "node_groups": [{"name": "md-0", "replicas": 2}],
}


def _spec(**changes):
    spec = copy.deepcopy(GOOD)
    spec.update(changes)
    return spec


def _errors(raw, var="workload_cluster"):
    return validation.normalize_spec(raw, var)[1]


def test_good_spec_normalises_with_defaults():
    spec, errors = validation.normalize_spec(GOOD)
    assert errors == []
    assert spec["namespace"] == "default"
    assert spec["class"] == "scs-inmemory-1-34-v1"
    # Default pod networks: real networks, clear of the default services and OpenStack node network.
    pods = [ipaddress.ip_network(c) for c in spec["network"]["pods"]]
    others = [ipaddress.ip_network(c) for c in spec["network"]["services"] + [class_openstack.DEFAULT_NODE_CIDR]]
    assert pods and not [(p, o) for p in pods for o in others if p.overlaps(o)]
    assert spec["node_groups"][0]["class"] == "default-worker"


def test_minor_only_version_resolves_to_the_pinned_patch():
    spec, errors = validation.normalize_spec(_spec(kubernetes_version="1.35"))
    assert errors == []
    expected = [v for v in pins.WORKLOAD_KUBERNETES_VERSIONS if v.startswith("v1.35.")][0]
    assert spec["kubernetes_version"] == expected
    assert spec["class"] == "scs-inmemory-1-35-v1"


@pytest.mark.parametrize("raw, var, needle", [
    (_spec(name="Bad_Name"), "workload_cluster.name", "RFC 1123"),
    (_spec(name="x" * 64), "workload_cluster.name", "at most 63"),
    (_spec(namespace="Default"), "workload_cluster.namespace", "RFC 1123"),
    (_spec(kubernetes_version="1.34.4-rc.1"), "workload_cluster.kubernetes_version", "not a valid Kubernetes version"),
    (_spec(kubernetes_version="v1.30.1"), "workload_cluster.kubernetes_version", "outside"),
    (_spec(control_plane={"replicas": 2}), "workload_cluster.control_plane.replicas", "odd number"),
    (_spec(control_plane={"replicas": 0}), "workload_cluster.control_plane.replicas", "odd number"),
    (_spec(node_groups=[{"name": "a"}, {"name": "a"}]), "workload_cluster.node_groups[1].name", "unique"),
    (_spec(node_groups=[{"name": "a"}, {"name": "B"}]), "workload_cluster.node_groups[1].name", "RFC 1123"),
    (_spec(node_groups=[{"name": "a", "autoscaler": {"min": 4, "max": 2}}]),
     "workload_cluster.node_groups[0].autoscaler.min", "min must be <= max"),
    (_spec(node_groups=[{"name": "a", "replicas": 1, "autoscaler": {"min": 1, "max": 2}}]),
     "workload_cluster.node_groups[0].replicas", "remove replicas"),
    (_spec(network={"pods": ["10.0.0.0/8"], "services": ["10.96.0.0/12"]}),
     "workload_cluster.network.services", "disjoint"),
    (_spec(network={"nodes": "192.168.10.0/24"}), "workload_cluster.network.nodes", "disjoint"),
    (_spec(network={"pods": ["10.0.0.1/8"]}), "workload_cluster.network.pods[0]", "no host bits"),
    (_spec(node_groups=[{"name": "a", "taints": [{"key": "k", "effect": "Never"}]}]),
     "workload_cluster.node_groups[0].taints[0].effect", "NoSchedule"),
    (_spec(node_groups=[{"name": "a", "deletion": {"node_drain_timeout": "5 minutes"}}]),
     "workload_cluster.node_groups[0].deletion.node_drain_timeout", "'5m'"),
    (_spec(node_groups=[{"name": "a", "rollout": {"max_surge": 0, "max_unavailable": 0}}]),
     "workload_cluster.node_groups[0].rollout.max_surge", "above 0"),
    (_spec(api={"oidc": {"issuer_url": "http://insecure", "client_id": "x"}}),
     "workload_cluster.api.oidc.issuer_url", "https"),
    (_spec(variables={"certSANs": ["a"]}), "workload_cluster.variables.certSANs", "api.cert_sans"),
    (_spec(infrastructure="aws"), "workload_cluster.infrastructure", "inmemory"),
    (_spec(**{"class": "scs-inmemory-1-35-v1"}), "workload_cluster.class", "scs-inmemory-1-34-v1"),
    (_spec(nodegroups=[]), "workload_cluster.nodegroups", "unknown key"),
    (_spec(labels={"team": 1}), "workload_cluster.labels.team", "quote"),
])
def test_invalid_inputs_name_variable_value_and_remedy(raw, var, needle):
    errors = _errors(raw)
    matching = [e for e in errors if e.startswith(var + ":")]
    assert matching, errors
    assert any(needle in e for e in matching), matching


def test_error_shows_the_bad_value():
    errors = _errors(_spec(node_groups=[{"name": "ok"}, {"name": "Not_OK"}]))
    assert any("'Not_OK'" in e for e in errors)


def test_errors_use_the_given_variable_name():
    errors = _errors(_spec(control_plane={"replicas": 4}), var="clusters[3]")
    assert errors and errors[0].startswith("clusters[3].control_plane.replicas: 4 ")


def test_durations():
    errors = validation._Errors()
    assert validation.parse_duration(errors, "x", "1h30m") == 5400
    assert validation.parse_duration(errors, "x", "90s") == 90
    assert validation.parse_duration(errors, "x", 42) == 42
    assert validation.parse_duration(errors, "x", None) is None
    assert errors.messages == []
    assert validation.parse_duration(errors, "x", -1) is None
    assert validation.parse_duration(errors, "x", "1d") is None
    assert len(errors.messages) == 2


def test_dual_stack_cidrs_are_accepted_and_same_family_pairs_refused():
    assert _errors(_spec(network={"pods": ["10.244.0.0/16", "fd00:10:244::/56"],
                                  "services": ["10.96.0.0/12", "fd00:10:96::/112"]})) == []
    errors = _errors(_spec(network={"pods": ["10.244.0.0/16", "10.245.0.0/16"]}))
    assert any(e.startswith("workload_cluster.network.pods:") for e in errors)


CLASS = {
    "metadata": {"name": "scs-inmemory-1-34-v1"},
    "spec": {
        "variables": [{"name": "certSANs"}, {"name": "oidc"}, {"name": "nodeLabels"}, {"name": "nodeTaints"}],
        "workers": {"machineDeployments": [{"class": "default-worker"}]},
    },
}


def test_check_against_class_missing_class_lists_available():
    spec = validation.normalize_spec(GOOD)[0]
    errors = validation.check_against_class(spec, None, ["scs-inmemory-1-35-v1"])
    assert len(errors) == 1
    assert errors[0].startswith("workload_cluster.class: 'scs-inmemory-1-34-v1' does not exist")
    assert "scs-inmemory-1-35-v1" in errors[0]


def test_check_against_class_unknown_variable_and_worker_class():
    spec, errors = validation.normalize_spec(_spec(
        variables={"imageName": "x"},
        node_groups=[{"name": "md-0", "class": "gpu-worker", "variables": {"flavor": "x"}, "labels": {"a": "b"}}]))
    assert errors == []
    errors = validation.check_against_class(spec, CLASS)
    joined = "\n".join(errors)
    assert "workload_cluster.variables.imageName: 'imageName' is not a variable of ClusterClass" in joined
    assert "workload_cluster.node_groups[0].variables.flavor: 'flavor'" in joined
    assert "workload_cluster.node_groups[0].class: 'gpu-worker' is not a worker class" in joined
    assert "known variables: certSANs, nodeLabels, nodeTaints, oidc" in joined
    assert not any("nodeLabels'" in e for e in errors)


def test_status_variables_count_as_known():
    cls = copy.deepcopy(CLASS)
    cls["status"] = {"variables": [{"name": "imageName"}]}
    spec = validation.normalize_spec(_spec(variables={"imageName": "x"}))[0]
    assert validation.check_against_class(spec, cls) == []


@pytest.mark.parametrize("current, desired, ok", [
    ("v1.34.4", "v1.34.4", True),
    ("v1.34.2", "v1.34.4", True),
    ("v1.34.4", "v1.35.4", True),
    ("v1.34.4", "v1.36.5", False),   # skips a minor
    ("v1.35.4", "v1.34.4", False),   # minor down
    ("v1.34.4", "v1.34.2", False),   # patch down
])
def test_upgrade_rules_against_the_live_cluster(current, desired, ok):
    spec, errors = validation.normalize_spec(_spec(kubernetes_version=desired))
    assert errors == []
    live = {"spec": {"topology": {"version": current}}}
    errors = validation.check_against_live(spec, live)
    assert (errors == []) is ok, errors
    if not ok:
        assert errors[0].startswith("workload_cluster.kubernetes_version: ")


def test_no_live_cluster_means_create():
    spec = validation.normalize_spec(GOOD)[0]
    assert validation.check_against_live(spec, None) == []
