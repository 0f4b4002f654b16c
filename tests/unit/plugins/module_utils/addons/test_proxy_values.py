# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Unit tests of the add-on settings: effective(), the recursive combine, validation, profile hashes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import hashlib
import re

import pytest

from ansible.utils.vars import merge_hash

from ansible_collections.scs.kaas.plugins.module_utils.addons import proxies
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.tests.unit.plugins.module_utils.addons.proxy_cases import (
    CATALOG, INSTALL_ORDER, problems_of)


def test_defaults_apply_when_inventory_says_nothing_in_install_order():
    result = proxies.effective(CATALOG, None, {})
    assert list(result) == INSTALL_ORDER
    assert {name: state["enabled"] for name, state in result.items()} == {
        "cilium": True, "openstack_cloud_controller_manager": True, "cinder_csi": True, "metrics_server": False}
    assert result["cilium"]["values"] == CATALOG["cilium"]["default_values"]
    assert result["cilium"]["values"] is not CATALOG["cilium"]["default_values"]


def test_values_merge_recursively_host_over_group_over_defaults():
    group = {"cilium": {"values": {"hubble": {"enabled": True, "relay": {"enabled": True}},
                                   "tolerations": [{"key": "a"}, {"key": "b"}], "k8sServicePort": 6443}}}
    host = {"cilium": {"values": {"hubble": {"relay": {"replicas": 3}}, "tolerations": [], "k8sServicePort": 443}}}
    values = proxies.effective(CATALOG, group, host)["cilium"]["values"]
    assert values == {
        "ipam": {"mode": "kubernetes"},  # default kept: nobody overrode it
        "hubble": {"enabled": True, "relay": {"enabled": True, "replicas": 3}},  # three levels merged
        "tolerations": [],  # lists replace, they are not appended or merged by index
        "k8sServicePort": 443,  # host wins over group
    }


def test_scalars_null_and_mappings_replace_each_other():
    group = {"cilium": {"values": {"ipam": "cluster-pool", "hubble": None}}}
    host = {"cilium": {"values": {"ipam": {"mode": "multi-pool"}}}}
    values = proxies.effective(CATALOG, group, host)["cilium"]["values"]
    assert values["ipam"] == {"mode": "multi-pool"}  # mapping over scalar
    assert values["hubble"] is None  # null over mapping: an explicit null clears, as in Ansible


@pytest.mark.parametrize("base, override", [
    ({"a": {"b": 1, "l": [1, 2]}}, {"a": {"c": 2, "l": [3]}}),
    ({"a": {"b": {"c": {"d": 1}}}}, {"a": {"b": {"c": {"e": 2}}, "x": None}}),
    ({"a": 1, "b": {"c": 1}}, {"a": {"z": 1}, "b": 2}),
    ({"a": [{"x": 1}]}, {"a": [{"y": 2}]}),
    ({}, {"a": {"b": []}}),
])
def test_combine_is_ansible_combine_recursive(base, override):
    assert proxies.combine(base, override) == merge_hash(base, override, recursive=True, list_merge="replace")


def test_combine_leaves_its_inputs_alone():
    base = {"a": {"b": {"c": 1}}, "l": [{"x": 1}]}
    override = {"a": {"b": {"d": 2}}, "m": [{"y": 1}]}
    snapshot = copy.deepcopy((base, override))
    merged = proxies.combine(base, override)
    merged["a"]["b"]["c"] = merged["l"][0]["x"] = merged["m"][0]["y"] = "changed"
    assert (base, override) == snapshot


def test_enable_and_disable_follow_host_over_group_over_catalog():
    group = {"cilium": {"enabled": False}, "metrics_server": {"enabled": True}}
    host = {"cilium": {"enabled": True}, "cinder_csi": {"enabled": False}}
    result = proxies.effective(CATALOG, group, host)
    assert result["cilium"]["enabled"] is True  # host re-enables what the group disabled
    assert result["metrics_server"]["enabled"] is True  # group enables a default-off add-on
    assert result["cinder_csi"]["enabled"] is False
    assert result["openstack_cloud_controller_manager"]["enabled"] is True
    # a values-only override leaves ``enabled`` alone
    assert proxies.effective(CATALOG, {"metrics_server": {"values": {"replicas": 2}}}, None)[
        "metrics_server"]["enabled"] is False


# --- validation ------------------------------------------------------------------------------------


def test_validation_lists_every_problem_with_paths_and_hides_values():
    group = {
        "metrics-server": {"enabled": True},
        "cilium": {"enabled": "yes", "valeus": {"hubble": {}}},
    }
    host = {
        "cinder_csi": {"values": ["hunter2-list"]},
        "openstack_cloud_controller_manager": {"values": {"cloudConfig": {
            "global": {"password": b"hunter2-bytes", "expires": datetime.date(2024, 1, 1), 7: "hunter2-key"},
            "lb": [1, float("nan")],
            "secret": "hunter2-ok",
        }}},
        "nope": {"values": {"token": "hunter2-unknown"}},
    }
    err = problems_of(group, host)
    assert isinstance(err, KaasError)
    problems = err.problems
    expected = [
        ("addons.metrics-server (group var): unknown add-on", "did you mean metrics_server"),
        ("addons.cilium.enabled (group var): is 'yes' (str)", "use true or false"),
        ("addons.cilium.valeus (group var): unknown key", "valid keys: enabled, values"),
        ("addons.cinder_csi.values (host var): is of type list", "use a mapping"),
        ("addons.openstack_cloud_controller_manager.values.cloudConfig.global.password (host var): is of type bytes",
         "use a string, number, boolean, null, list or mapping"),
        ("addons.openstack_cloud_controller_manager.values.cloudConfig.global.expires (host var): is of type date",
         "use a string, number, boolean, null, list or mapping"),
        ("addons.openstack_cloud_controller_manager.values.cloudConfig.global (host var): has a key of type int",
         "keys must be strings"),
        ("addons.openstack_cloud_controller_manager.values.cloudConfig.lb[1] (host var): is a non-finite float",
         "finite number"),
        ("addons.nope (host var): unknown add-on", "known add-ons: cilium, cinder_csi, metrics_server, "
                                                   "openstack_cloud_controller_manager"),
    ]
    for head, tail in expected:
        assert any(p.startswith(head) and tail in p for p in problems), (head, problems)
    assert len(problems) == len(expected)
    assert "hunter2" not in str(err)
    assert str(err).startswith("invalid add-on settings (9 problems):")


def test_variable_names_are_the_ones_the_caller_passes():
    with pytest.raises(proxies.AddonSpecError) as raised:
        proxies.effective(CATALOG, {"x": {}}, {"y": {}}, group_var="cloud_addons", host_var="cluster_addons")
    assert raised.value.problems[0].startswith("cloud_addons.x (group var)")
    assert raised.value.problems[1].startswith("cluster_addons.y (host var)")


@pytest.mark.parametrize("group, message", [
    (["cilium"], "addons (group var): is a list; use a mapping of add-on name to settings"),
    ({"cilium": False}, "addons.cilium (group var): is False (bool); use a mapping with the keys enabled"),
    ({"cilium": None}, "addons.cilium (group var): is None (null)"),
    ({"cilium": {"values": None}}, "addons.cilium.values (group var): is of type null"),
    ({"cilium": "x" * 100}, "addons.cilium (group var): is 'xxxxxxxxxxx... (102 characters) (str)"),
])
def test_wrong_shapes_are_named(group, message):
    err = problems_of(group, None)
    assert len(err.problems) == 1 and err.problems[0].startswith(message), err.problems


def test_catalog_problems_are_reported_as_programming_errors():
    catalog = copy.deepcopy(CATALOG)
    catalog["metrics-server"] = copy.deepcopy(catalog["metrics_server"])  # same Kubernetes name
    catalog["Bad_Name"] = {}
    catalog["cilium"]["order"] = "10"
    catalog["cilium"]["release_name"] = "x" * 54
    del catalog["cinder_csi"]["version"]
    catalog["cinder_csi"]["default_values"] = {"a": {1: "b"}}
    problems = problems_of(None, None, catalog).problems
    assert sorted(problems) == sorted([
        "catalog.Bad_Name: is not a usable add-on name; use [a-z0-9_-], at most 52 characters, "
        "starting and ending alphanumeric, not 'addon'",
        "catalog.cilium.release_name: must be a Helm release name (DNS-1123 label, at most 53 characters)",
        "catalog.cilium.order: must be an integer",
        "catalog.cinder_csi.version: must be a non-empty string",
        "catalog.cinder_csi.default_values.a: has a key of type int; keys must be strings (quote the key in YAML)",
        "catalog: metrics-server, metrics_server share the Kubernetes name metrics-server",
    ])


# --- profile hash ----------------------------------------------------------------------------------


def test_profile_hash_is_short_hex_and_pinned():
    profile = proxies.profile_hash("cilium", CATALOG["cilium"], CATALOG["cilium"]["default_values"])
    assert re.match(r"^[0-9a-f]{10}$", profile)
    # Pinned: a changed recipe re-annotates every proxy, and callers comparing profiles see a change.
    canonical = ('{"addon":"cilium","chart":"cilium","namespace":"kube-system","release_name":"cilium",'
                 '"values":{"hubble":{"enabled":false,"relay":{"enabled":false,"replicas":1}},'
                 '"ipam":{"mode":"kubernetes"},"tolerations":[{"operator":"Exists"}]},"version":"1.16.5"}')
    assert profile == hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:10] == "1d83587d8f"


def test_profile_hash_ignores_key_order_and_equal_inputs_match():
    values = {"a": 1, "b": {"c": 2, "d": [1, 2]}}
    reordered = {"b": {"d": [1, 2], "c": 2}, "a": 1}
    entry = dict(reversed(list(CATALOG["cilium"].items())))
    assert proxies.profile_hash("cilium", CATALOG["cilium"], values) == proxies.profile_hash("cilium", entry, reordered)


@pytest.mark.parametrize("change", [
    lambda name, entry, values: ("cilium2", entry, values),
    lambda name, entry, values: (name, dict(entry, chart="cilium-enterprise"), values),
    lambda name, entry, values: (name, dict(entry, version="1.16.6"), values),
    lambda name, entry, values: (name, dict(entry, namespace="cilium"), values),
    lambda name, entry, values: (name, dict(entry, release_name="cni"), values),
    lambda name, entry, values: (name, entry, dict(values, a=2)),
    lambda name, entry, values: (name, entry, dict(values, a="1")),
    lambda name, entry, values: (name, entry, dict(values, b={"c": 2, "d": [2, 1]})),
    lambda name, entry, values: (name, entry, dict(values, b={"c": 2, "d": [1, 2], "e": None})),
])
def test_profile_hash_changes_with_every_input(change):
    args = ("cilium", CATALOG["cilium"], {"a": 1, "b": {"c": 2, "d": [1, 2]}})
    assert proxies.profile_hash(*change(*args)) != proxies.profile_hash(*args)


def test_profile_hash_ignores_catalog_keys_that_do_not_reach_the_release():
    entry = dict(CATALOG["cilium"], order=99, enabled_by_default=False, default_values={"x": 1})
    assert proxies.profile_hash("cilium", entry, {}) == proxies.profile_hash("cilium", CATALOG["cilium"], {})


# --- Cluster labels --------------------------------------------------------------------------------
