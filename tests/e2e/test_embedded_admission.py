# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Real admission on the embedded management cluster: CAPI webhooks and CRD conversion."""

from __future__ import annotations

import json
import re

import helpers
import yaml

from ansible_collections.scs.kaas.plugins.module_utils import pins

NAMESPACE = "e2e-admission"
DENIED = re.compile(r'admission webhook "([a-z0-9.-]+\.cluster\.x-k8s\.io)" denied the request')


def _denial(mc, obj):
    """Create ``obj`` (a v1beta2 Cluster) through the API; return the server's denial message."""
    from kubernetes.client.exceptions import ApiException

    try:
        mc.custom_objects().create_namespaced_custom_object(
            "cluster.x-k8s.io", "v1beta2", obj["metadata"]["namespace"], "clusters", obj)
    except ApiException as exc:
        assert exc.status in (400, 403, 422), exc
        return json.loads(exc.body)["message"]
    raise AssertionError("%s was admitted" % obj["metadata"]["name"])


def test_webhook_denies_an_invalid_cluster(management_cluster):
    mc = management_cluster
    helpers.apply_fixture_class(mc, NAMESPACE)
    cluster = yaml.safe_load(helpers.fixture_cluster(NAMESPACE, "bad-version", "not-a-version", 1))
    message = _denial(mc, cluster)
    match = DENIED.search(message)
    assert match, message
    assert "version must be a valid semantic version" in message, message
    assert mc.kubectl("get", "cluster", "bad-version", "-n", NAMESPACE, check=False).returncode != 0


def test_webhook_denies_a_variable_against_the_class_schema(management_cluster):
    mc = management_cluster
    helpers.apply_fixture_class(mc, NAMESPACE)
    cluster = yaml.safe_load(helpers.fixture_cluster(NAMESPACE, "bad-variable", pins.WORKLOAD_KUBERNETES_VERSIONS[0], 1))
    cluster["spec"]["topology"]["variables"] = [{"name": "environment", "value": "staging"}]
    message = _denial(mc, cluster)
    assert DENIED.search(message), message
    assert "spec.topology.variables[environment].value" in message and "staging" in message, message
    assert 'supported values: "dev", "prod"' in message, message
    # The same Cluster with an allowed value is admitted (dry run only).
    cluster["spec"]["topology"]["variables"] = [{"name": "environment", "value": "prod"}]
    run = mc.kubectl("create", "--dry-run=server", "-f", "-", input=yaml.safe_dump(cluster), check=False)
    assert run.returncode == 0, run.stderr


# A v1beta1 Cluster as a v1beta1 client (Go types) writes it: v1beta1 serialises
# controlPlaneEndpoint and the refs' namespace. (A minimal manifest without them, re-applied with
# server-side apply, bumps metadata.generation on every apply: the v1beta1 round trip of those
# fields is not stable upstream; the stored v1beta2 object does not change.)
V1BETA1_CLUSTER = """
apiVersion: cluster.x-k8s.io/v1beta1
kind: Cluster
metadata:
  name: conversion
  namespace: %(ns)s
spec:
  clusterNetwork:
    pods:
      cidrBlocks: [192.168.0.0/16]
  controlPlaneEndpoint:
    host: ""
    port: 0
  infrastructureRef:
    apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
    kind: DevCluster
    name: conversion
    namespace: %(ns)s
  controlPlaneRef:
    apiVersion: controlplane.cluster.x-k8s.io/v1beta2
    kind: KubeadmControlPlane
    name: conversion
    namespace: %(ns)s
""" % {"ns": NAMESPACE}


def test_conversion_round_trip(management_cluster):
    mc = management_cluster
    helpers.apply_fixture_class(mc, NAMESPACE)
    api = mc.custom_objects()
    mc.kubectl("create", "-f", "-", input=V1BETA1_CLUSTER)
    try:
        v2 = api.get_namespaced_custom_object("cluster.x-k8s.io", "v1beta2", NAMESPACE, "clusters", "conversion")
        assert v2["apiVersion"] == "cluster.x-k8s.io/v1beta2"
        assert v2["spec"]["infrastructureRef"] == {
            "apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DevCluster", "name": "conversion"}
        assert v2["spec"]["controlPlaneRef"] == {
            "apiGroup": "controlplane.cluster.x-k8s.io", "kind": "KubeadmControlPlane", "name": "conversion"}
        v1 = api.get_namespaced_custom_object("cluster.x-k8s.io", "v1beta1", NAMESPACE, "clusters", "conversion")
        assert v1["spec"]["infrastructureRef"]["apiVersion"] == "infrastructure.cluster.x-k8s.io/v1beta2"
        assert v1["spec"]["infrastructureRef"]["name"] == "conversion"
        generation = v2["metadata"]["generation"]
        # Re-apply the same v1beta1 object: client-side and server-side apply.
        for apply in (("apply",), ("apply", "--server-side", "--force-conflicts", "--field-manager=scs-kaas-e2e")):
            mc.kubectl(*(apply + ("-f", "-")), input=V1BETA1_CLUSTER)
            again = api.get_namespaced_custom_object("cluster.x-k8s.io", "v1beta2", NAMESPACE, "clusters", "conversion")
            assert again["metadata"]["generation"] == generation, apply
            assert again["spec"]["infrastructureRef"] == v2["spec"]["infrastructureRef"]
    finally:
        mc.kubectl("delete", "cluster", "conversion", "-n", NAMESPACE, "--wait=true", timeout=120)
