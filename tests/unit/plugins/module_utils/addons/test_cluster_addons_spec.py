# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The ``addons`` key of a workload cluster spec: validation, the Cluster label, redaction, summaries."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.addons import catalog, proxies, reconcile
from ansible_collections.scs.kaas.plugins.module_utils.capi import topology, validation

BASE = {"name": "c1", "kubernetes_version": "v1.35.4", "infrastructure": "inmemory"}


def _spec(**extra):
    spec, errors = validation.normalize_spec(dict(BASE, **extra), "workload_cluster")
    return spec, errors


def test_addons_left_out_manage_nothing_and_leave_the_cluster_unlabelled():
    spec, errors = _spec()
    assert errors == [] and spec["addons"] is None
    labels = topology.build_cluster(spec)["metadata"]["labels"]
    assert proxies.CLUSTER_LABEL not in labels


def test_an_empty_mapping_is_the_default_set_and_labels_the_cluster():
    spec, errors = _spec(addons={})
    assert errors == []
    enabled = [name for name, state in spec["addons"].items() if state["enabled"]]
    assert enabled == [n for n in catalog.install_order() if catalog.CATALOG[n]["enabled_by_default"]]
    assert topology.build_cluster(spec)["metadata"]["labels"][proxies.CLUSTER_LABEL] == "c1"


def test_overrides_combine_recursively_onto_the_catalog_defaults():
    spec, errors = _spec(addons={"cilium": {"values": {"ipam": {"extra": 1}, "tunnelProtocol": "geneve"}}})
    assert errors == []
    values = spec["addons"]["cilium"]["values"]
    assert values["ipam"] == {"mode": "kubernetes", "extra": 1}
    assert values["tunnelProtocol"] == "geneve"
    assert catalog.CATALOG["cilium"]["default_values"]["tunnelProtocol"] == "vxlan"  # catalog untouched


def test_every_problem_is_reported_with_its_variable_and_no_value():
    secret = "hunter2-do-not-print"
    spec, errors = _spec(addons={"cilum": {}, "metrics_server": {"enabled": "yes", "colour": secret},
                                 "cilium": {"values": [secret]}})
    assert spec["addons"] is None
    joined = "\n".join(errors)
    assert "workload_cluster.addons.cilum: unknown add-on; did you mean cilium?" in joined
    assert "workload_cluster.addons.metrics_server.enabled" in joined
    assert "workload_cluster.addons.metrics_server.colour: unknown key" in joined
    assert "workload_cluster.addons.cilium.values" in joined
    assert "(host var)" not in joined and "(group var)" not in joined
    assert secret not in joined


def test_a_non_mapping_is_refused_naming_the_variable():
    _spec_value, errors = _spec(addons=["cilium"])
    assert any(e.startswith("workload_cluster.addons") for e in errors), errors


def test_redacted_params_hide_every_addons_values_and_nothing_else():
    params = {"cluster": None, "clusters": [
        {"host": "a", "var_name": "workload_cluster", "spec": {"name": "a", "addons": {
            "cilium": {"values": {"token": "s3cret"}}, "metrics_server": {"enabled": False}}}},
        {"name": "b", "addons": {"cert_manager": {"enabled": True, "values": {"key": "s3cret"}}}},
        {"name": "c"},
    ], "wait": True}
    shown = reconcile.redacted_params(params)
    assert "s3cret" not in repr(shown)
    assert shown["clusters"][0]["spec"]["addons"]["cilium"]["values"] == reconcile.VALUES_NOT_SHOWN
    assert shown["clusters"][0]["spec"]["addons"]["metrics_server"] == {"enabled": False}
    assert shown["clusters"][1]["addons"]["cert_manager"]["enabled"] is True
    assert shown["clusters"][2] == {"name": "c"} and shown["wait"] is True
    assert params["clusters"][0]["spec"]["addons"]["cilium"]["values"] == {"token": "s3cret"}  # a copy


def test_redacted_params_of_a_single_cluster():
    shown = reconcile.redacted_params({"cluster": {"name": "a", "addons": {"cilium": {"values": {"x": "s3cret"}}}},
                                       "clusters": None})
    assert shown["cluster"]["addons"]["cilium"]["values"] == reconcile.VALUES_NOT_SHOWN


def test_a_proxy_summary_carries_the_profile_but_no_values():
    spec, _errors = _spec(addons={"cilium": {"values": {"token": "s3cret"}}})
    desired = proxies.desired_proxies(catalog.CATALOG, {"c1": spec["addons"]}, "default", "http://127.0.0.1:8879")
    shown = [reconcile.summary(proxy) for proxy in desired]
    assert "s3cret" not in repr(shown)
    assert [s["chart"] for s in shown] == ["cilium", "metrics-server"]
    assert all(len(s["profile"]) == proxies.PROFILE_LENGTH for s in shown)
