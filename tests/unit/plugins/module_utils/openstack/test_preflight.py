# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Preflight checks of a batch against plain cloud facts (pure)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.capi import validation
from ansible_collections.scs.kaas.plugins.module_utils.openstack import preflight
from ansible_collections.scs.kaas.plugins.modules.openstack_preflight import openstack_specs

RAW = {"name": "prod-1", "infrastructure": "openstack", "kubernetes_version": "v1.34.4",
       "control_plane": {"replicas": 3}, "node_groups": [{"name": "md-0", "replicas": 2}],
       "variables": {"identityRef": {"name": "prod-1-cloud"}, "image": {"name": "node-1.34"},
                     "controlPlaneFlavor": "SCS-2V-4", "workerFlavor": "SCS-4V-8"}}
FACTS = {
    "flavors": [{"id": "f1", "name": "SCS-2V-4", "vcpus": 2, "ram": 4096, "disk": 20},
                {"id": "f2", "name": "SCS-4V-8", "vcpus": 4, "ram": 8192, "disk": 20},
                {"id": "f3", "name": "SCS-1V-2", "vcpus": 1, "ram": 2048, "disk": 20},
                {"id": "f4", "name": "SCS-2V-4-nodisk", "vcpus": 2, "ram": 4096, "disk": 0}],
    "images": [{"id": "i1", "name": "node-1.34", "status": "active", "min_disk": 10},
               {"id": "i2", "name": "queued-image", "status": "queued", "min_disk": 0}],
    "external_networks": [{"id": "n1", "name": "public"}],
    "availability_zones": ["az1", "az2"],
    "quotas": {"instances": {"limit": 10, "used": 0}, "cores": {"limit": 100, "used": 0},
               "ram": {"limit": 100000, "used": 0}, "load_balancers": {"limit": 5, "used": 0},
               "floating_ips": {"limit": -1, "used": 3}},
    "has_load_balancer": True,
}


def _run(raw=None, facts=None, var_name="clusters"):
    specs, errors = openstack_specs([raw or RAW], var_name)
    assert errors == [] and len(specs) == 1
    return preflight.check([preflight.demands(s) for s in specs], facts or FACTS)


def _with(**variables):
    raw = copy.deepcopy(RAW)
    raw["variables"].update(variables)
    return raw


def test_a_fitting_cluster_passes_and_finds_the_only_external_network():
    errors, report = _run()
    assert errors == []
    assert report["clusters"]["clusters[0]"]["external_network_id"] == "n1"
    assert report["need"]["instances"] == 5
    assert report["need"]["cores"] == 3 * 2 + 2 * 4
    assert report["need"]["ram"] == 3 * 4096 + 2 * 8192


@pytest.mark.parametrize("variables, expected", [
    ({"controlPlaneFlavor": "nope"}, "clusters[0].variables.controlPlaneFlavor: flavor 'nope' does not exist"),
    ({"controlPlaneFlavor": "SCS-1V-2"}, "clusters[0].variables.controlPlaneFlavor: flavor 'SCS-1V-2' has 1 vCPUs"),
    ({"workerFlavor": "SCS-2V-4-nodisk"}, "clusters[0].variables.workerFlavor: flavor 'SCS-2V-4-nodisk' has no "
                                          "disk; set clusters[0].variables.workerRootVolume"),
    ({"image": {"name": "missing"}}, "clusters[0].variables.image: image 'missing' does not exist"),
    ({"image": {"name": "queued-image"}}, "clusters[0].variables.image: image 'queued-image' is queued, not active"),
    ({"externalNetworkName": "internet"}, "clusters[0].variables.externalNetworkName: 'internet' is not an external"),
    ({"controlPlaneAvailabilityZones": ["az1", "az9"]},
     "clusters[0].variables.controlPlaneAvailabilityZones[1]: availability zone 'az9' does not exist"),
])
def test_each_refusal_names_the_variable(variables, expected):
    errors, _report = _run(_with(**variables))
    assert len(errors) == 1 and errors[0].startswith(expected), errors


def test_node_group_override_is_named_at_its_level():
    raw = copy.deepcopy(RAW)
    raw["node_groups"][0]["variables"] = {"workerFlavor": "nope"}
    errors, _report = _run(raw)
    assert errors[0].startswith("clusters[0].node_groups[0].variables.workerFlavor: flavor 'nope'")


def test_diskless_flavor_with_root_volume_passes_and_counts_volumes():
    errors, report = _run(_with(workerFlavor="SCS-2V-4-nodisk", workerRootVolume={"sizeGiB": 30}))
    assert errors == [] and report["need"]["volumes"] == 2 and report["need"]["gigabytes"] == 60


def test_two_external_networks_need_one_named():
    facts = dict(FACTS, external_networks=[{"id": "n1", "name": "a"}, {"id": "n2", "name": "b"}])
    errors, _report = _run(facts=facts)
    assert errors == ["clusters[0].variables.externalNetworkID: not set and the cloud has 2 external networks "
                      "(a, b); name one"]
    assert _run(_with(externalNetworkName="b"), facts)[0] == []


def test_quota_is_checked_for_the_batch_sum():
    specs, _errors = openstack_specs([RAW, dict(RAW, name="prod-2")], "clusters")
    batch = [preflight.demands(s) for s in specs]
    assert preflight.check(batch, FACTS)[0] == []
    facts = copy.deepcopy(FACTS)
    facts["quotas"]["instances"] = {"limit": 12, "used": 3}
    errors, report = preflight.check(batch, facts)
    assert report["need"]["instances"] == 10
    assert errors == ["clusters[0], clusters[1]: the batch needs 10 instances (control_plane.replicas / "
                      "node_groups[].replicas); the project's quota leaves 9 (limit 12, used 3)"]


def test_unlimited_quota_never_refuses():
    facts = copy.deepcopy(FACTS)
    facts["quotas"]["floating_ips"] = {"limit": -1, "used": 10 ** 6}
    assert _run(facts=facts)[0] == []


def test_load_balancer_without_octavia():
    facts = dict(FACTS, has_load_balancer=False, quotas={})
    assert _run(facts=facts)[0][0].startswith("clusters[0].variables.apiServerLoadBalancer: the cloud has no")
    assert _run(_with(apiServerLoadBalancer="none"), facts)[0] == []


def test_other_classes_are_skipped():
    inmemory = {"name": "x", "infrastructure": "inmemory", "kubernetes_version": "v1.34.4"}
    assert openstack_specs([inmemory], "clusters") == ([], [])
    assert validation.normalize_spec(inmemory)[1] == []


# -- node images per Kubernetes version --------------------------------------------------------

BY_VERSION = {"nameByVersion": {"v1.34.4": "node-1.34", "v1.35.4": "node-1.35"}}


def test_image_by_version_checks_the_image_of_the_clusters_version():
    errors, _report = _run(_with(image=BY_VERSION))
    assert errors == []
    raw = _with(image=BY_VERSION)
    raw["kubernetes_version"] = "v1.35.4"
    errors, _report = _run(raw)
    # node-1.35 is not in the cloud: the error names the entry of the version the cluster runs
    assert errors == ["clusters[0].variables.image.nameByVersion[v1.35.4]: image 'node-1.35' does not exist in "
                      "the cloud; upload it (scs.kaas.openstack_image) or name an existing one"]


def test_a_planned_image_passes_while_absent_and_is_checked_once_it_exists():
    raw = _with(image={"name": "node-new"})
    assert _run(raw, dict(FACTS, planned_images={"node-new"}))[0] == []
    assert "image 'node-new' does not exist" in _run(raw, dict(FACTS, planned_images=set()))[0][0]
    # an existing image of a planned name is checked as any other (here: not active)
    queued = _with(image={"name": "queued-image"})
    assert _run(queued, dict(FACTS, planned_images={"queued-image"}))[0] == [
        "clusters[0].variables.image: image 'queued-image' is queued, not active"]
