# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Built topology Clusters validate against the Cluster API v1beta2 Cluster CRD schema (offline).

The CRD YAML comes from the pinned cluster-api Go module (``crd_files`` in conftest.py); a missing
file is a failure. Unknown fields are errors here (the API server would prune them silently).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os

import jsonschema
import pytest
import yaml

from ansible_collections.scs.kaas.plugins.module_utils.capi import topology, validation

CRD_FILE = "cluster.x-k8s.io_clusters.yaml"


def _strict(schema):
    """Copy of an OpenAPI v3 schema where objects with properties refuse unknown fields."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if not isinstance(node, dict):
            return
        if "properties" in node and "additionalProperties" not in node \
                and not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
        for key in ("properties", "patternProperties"):
            for child in (node.get(key) or {}).values():
                walk(child)
        for key in ("items", "additionalProperties"):
            walk(node.get(key))
        for key in ("anyOf", "allOf", "oneOf"):
            for child in node.get(key) or []:
                walk(child)
    walk(schema)
    return schema


@pytest.fixture(scope="module")
def cluster_schema(crd_files):
    paths = [p for p in crd_files["sigs.k8s.io/cluster-api"] if os.path.basename(p) == CRD_FILE]
    if len(paths) != 1:
        pytest.fail("expected one %s in the cluster-api module, found %r" % (CRD_FILE, paths))
    with open(paths[0]) as handle:
        crd = yaml.safe_load(handle)
    versions = {v["name"]: v for v in crd["spec"]["versions"]}
    assert "v1beta2" in versions and versions["v1beta2"]["served"]
    schema = _strict(versions["v1beta2"]["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = {"type": "object"}
    return schema


SPECS = [
    {"name": "minimal", "infrastructure": "inmemory", "kubernetes_version": "v1.34.4"},
    {
        "name": "full", "namespace": "t1", "infrastructure": "openstack", "kubernetes_version": "1.36",
        "control_plane": {"replicas": 3, "labels": {"a": "b"}, "annotations": {"x": "y"},
                          "deletion": {"node_drain_timeout": "5m", "node_volume_detach_timeout": 60,
                                       "node_deletion_timeout": "10m"},
                          "machine_health_check": {"node_startup_timeout": "20m", "max_unhealthy": 1,
                                                   "unhealthy_node_conditions": [
                                                       {"type": "Ready", "status": "False", "timeout": "5m"}],
                                                   "unhealthy_machine_conditions": [
                                                       {"type": "EtcdPodHealthy", "status": "False", "timeout": 300}]},
                          "variables": {"controlPlaneFlavor": "SCS-4V-8"}},
        "node_groups": [
            {"name": "md-0", "replicas": 3, "failure_domain": "nova", "labels": {"role": "w"},
             "taints": [{"key": "k", "value": "v", "effect": "NoExecute"}], "min_ready_seconds": 10,
             "rollout": {"strategy": "RollingUpdate", "max_surge": "20%", "max_unavailable": 1},
             "deletion": {"node_drain_timeout": 30, "order": "Newest"},
             "machine_health_check": {"enabled": True, "max_in_flight": "10%", "unhealthy_range": "[1-3]"},
             "variables": {"workerFlavor": "SCS-8V-16"}},
            {"name": "auto", "autoscaler": {"min": 0, "max": 10}, "rollout": {"strategy": "OnDelete"}},
        ],
        "network": {"pods": ["10.244.0.0/16", "fd00:10:244::/56"], "services": ["10.96.0.0/12", "fd00:10:96::/112"],
                    "nodes": "10.0.0.0/24", "service_domain": "cluster.local", "api_server_port": 6443},
        "api": {"cert_sans": ["api.example.com"], "oidc": {"issuer_url": "https://id.example.com", "client_id": "k8s",
                                                           "username_claim": "email", "groups_prefix": "oidc:"}},
        "variables": {"identityRef": {"name": "cloud", "cloudName": "openstack"}, "externalNetworkName": "public"},
        "labels": {"team": "x"}, "paused": True, "protected": True,
    },
]


@pytest.mark.parametrize("raw", SPECS, ids=[s["name"] for s in SPECS])
def test_built_cluster_matches_the_v1beta2_schema(cluster_schema, raw):
    spec, errors = validation.normalize_spec(raw)
    assert errors == []
    obj = topology.build_cluster(spec)
    jsonschema.validate(obj, cluster_schema)


def test_the_strict_schema_catches_a_misspelt_field(cluster_schema):
    spec = validation.normalize_spec(SPECS[0])[0]
    obj = topology.build_cluster(spec)
    obj["spec"]["topology"]["class"] = "v1beta1-field-name"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(obj, cluster_schema)
