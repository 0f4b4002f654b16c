# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.providers import catalog
from ansible_collections.scs.kaas.plugins.module_utils.providers import decision as d

CORE3 = ["core", "bootstrap-kubeadm", "control-plane-kubeadm"]


def desired(keys=None):
    return [catalog.provider(k) for k in (keys or CORE3)]


def inv(name, type_, version, namespace, label=None):
    """A Provider object as clusterctl init writes it."""
    label = label or catalog.TYPE_PREFIX[type_] + name
    return {"apiVersion": "clusterctl.cluster.x-k8s.io/v1alpha3", "kind": "Provider",
            "metadata": {"name": label, "namespace": namespace,
                         "labels": {"clusterctl.cluster.x-k8s.io": "", "cluster.x-k8s.io/provider": label}},
            "providerName": name, "type": type_, "version": version}


def installed(version=pins.CLUSTER_API_VERSION):
    return d.inventory_entries([
        inv("cluster-api", "CoreProvider", version, "capi-system"),
        inv("kubeadm", "BootstrapProvider", version, "capi-kubeadm-bootstrap-system"),
        inv("kubeadm", "ControlPlaneProvider", version, "capi-kubeadm-control-plane-system"),
    ])


def actions(result):
    return {(x["type"], x["name"]): x["action"] for x in result["providers"]}


def test_nothing_installed_means_init_for_all():
    result = d.decide(desired(), [])
    assert set(actions(result).values()) == {"init"}
    assert result["init"] and not result["upgrade"] and result["changed"]
    assert d.clusterctl_init_args(result) == [
        "--core", "cluster-api:%s" % pins.CLUSTER_API_VERSION,
        "--bootstrap", "kubeadm:%s" % pins.CLUSTER_API_VERSION,
        "--control-plane", "kubeadm:%s" % pins.CLUSTER_API_VERSION]


def test_same_versions_mean_nothing():
    result = d.decide(desired(), installed())
    assert set(actions(result).values()) == {"none"}
    assert not result["changed"]
    assert d.clusterctl_init_args(result) == [] and d.clusterctl_upgrade_args(result) == []


def test_older_installed_means_upgrade_in_the_installed_namespace():
    objs = installed("v1.13.4")
    objs[0]["namespace"] = "custom-capi"
    result = d.decide(desired(), objs)
    assert set(actions(result).values()) == {"upgrade"}
    args = d.clusterctl_upgrade_args(result)
    assert args[:2] == ["--core", "custom-capi/cluster-api:%s" % pins.CLUSTER_API_VERSION]
    assert "--control-plane" in args and "--bootstrap" in args


def test_newer_installed_is_refused():
    result = d.decide(desired(), installed("v1.15.0"))
    assert set(actions(result).values()) == {"error"}
    assert "never go down" in result["errors"][0]


def test_mixed_and_unmanaged():
    objs = installed()[:1] + d.inventory_entries([inv("docker", "InfrastructureProvider", "v1.14.2", "capd-system")])
    result = d.decide(desired(CORE3 + ["addon-helm"]), objs)
    acts = actions(result)
    assert acts[("CoreProvider", "cluster-api")] == "none"
    assert acts[("BootstrapProvider", "kubeadm")] == "init"
    assert acts[("AddonProvider", "helm")] == "init"
    assert [u["name"] for u in result["unmanaged"]] == ["docker"]
    assert "--core" not in d.clusterctl_init_args(result)
    assert d.clusterctl_init_args(result)[-2:] == ["--addon", "helm:%s" % pins.CAAPH_VERSION]


def test_plain_manifests_are_not_clusterctl_decisions():
    result = d.decide(desired(CORE3 + ["orc"]), installed())
    assert len(result["providers"]) == 3


def test_init_without_core_is_an_error():
    result = d.decide(desired(["bootstrap-kubeadm"]), [])
    assert result["errors"] and "core provider" in result["errors"][0]


def test_duplicate_inventory_is_an_error():
    objs = installed() + d.inventory_entries([inv("cluster-api", "CoreProvider", "v1.14.2", "other")])
    assert "installed twice" in d.decide(desired(), objs)["errors"][0]


@pytest.mark.parametrize("a, b, expected", [
    ("v1.14.2", "v1.14.2", 0), ("v1.14.1", "v1.14.2", -1), ("v1.9.0", "v1.10.0", -1),
    ("v0.1.0-alpha.7", "v0.1.0", -1), ("v0.1.0-alpha.7", "v0.1.0-alpha.10", -1),
    ("v0.1.0-alpha.7", "v0.1.0-beta.1", -1), ("v2.0.0", "v1.99.99", 1),
])
def test_compare_versions(a, b, expected):
    assert d.compare_versions(a, b) == expected


def test_bad_installed_version_names_the_provider():
    objs = installed("latest")
    result = d.decide(desired(), objs)
    assert "installed version of CoreProvider/cluster-api" in result["errors"][0]


PLAN = """Checking cert-manager version...
Cert-Manager is already up to date

Latest release available for the v1beta2 Cluster API contract version:

NAME                    NAMESPACE                           TYPE                     CURRENT VERSION   NEXT VERSION
cluster-api             capi-system                         CoreProvider             v1.14.1           v1.14.2
bootstrap-kubeadm       capi-kubeadm-bootstrap-system       BootstrapProvider        v1.14.2           Already up to date
control-plane-kubeadm   capi-kubeadm-control-plane-system   ControlPlaneProvider     v1.14.1           v1.14.2

You can now apply the upgrade by executing the following command:

clusterctl upgrade apply --contract v1beta2
"""


def test_parse_upgrade_plan_and_agreement():
    rows = d.parse_upgrade_plan(PLAN)
    assert rows[0] == {"name": "cluster-api", "namespace": "capi-system", "type": "CoreProvider",
                       "current": "v1.14.1", "next": "v1.14.2"}
    assert rows[1]["next"] is None
    objs = installed()
    objs[0]["version"] = objs[2]["version"] = "v1.14.1"
    result = d.decide(desired(), objs)
    assert d.plan_disagreements(result, rows) == []
    # a decision that differs from clusterctl is reported
    objs[1]["version"] = "v1.14.1"
    problems = d.plan_disagreements(d.decide(desired(), objs), rows)
    assert len(problems) == 2 and "bootstrap-kubeadm" in problems[0]


def test_gate_args():
    args = ["--leader-elect", "--feature-gates=MachinePool=true,ClusterTopology=false,RuntimeSDK=false"]
    new = d.gate_args(args, {"ClusterTopology": True})
    assert new[1] == "--feature-gates=MachinePool=true,ClusterTopology=true,RuntimeSDK=false"
    assert d.gate_args(new, {"ClusterTopology": True}) is None
    assert d.gate_args(["--x"], {"ClusterTopology": True}) == ["--x", "--feature-gates=ClusterTopology=true"]


def test_not_as_new_for_pivots():
    source = installed("v1.14.2")
    assert d.not_as_new(source, installed("v1.14.2")) == []
    older = d.not_as_new(source, installed("v1.14.1"))
    assert len(older) == 3 and "older than v1.14.2" in older[0]
    missing = d.not_as_new(source, installed()[:1])
    assert len(missing) == 2 and "missing on the target" in missing[0]
