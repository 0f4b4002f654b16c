# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The add-on catalog: valid for the proxy builder, every chart source pinned and its module hash recorded."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re

import pytest

from ansible_collections.scs.kaas.plugins.module_utils import artifacts, pins
from ansible_collections.scs.kaas.plugins.module_utils.addons import catalog, charts, proxies

H1 = re.compile(r"^h1:[A-Za-z0-9+/]{43}=$")
ENTRY_KEYS = {"chart", "version", "namespace", "release_name", "order", "default_values", "enabled_by_default",
              "source"}
EXPECTED_PINS = {
    # add-on: (module version, chart version, appVersion written into Chart.yaml)
    "cilium": (pins.CILIUM_VERSION, pins.CILIUM_CHART_VERSION, None),
    "cert_manager": (pins.CERT_MANAGER_ADDON_VERSION, pins.CERT_MANAGER_ADDON_VERSION, pins.CERT_MANAGER_ADDON_VERSION),
    "metrics_server": (pins.METRICS_SERVER_VERSION, pins.METRICS_SERVER_CHART_VERSION, None),
}


def _strings(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _strings(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def test_catalog_passes_the_proxy_builder_check_and_the_check_sees_a_broken_entry():
    assert proxies.check_catalog(catalog.CATALOG) == []
    broken = copy.deepcopy(catalog.CATALOG)
    broken["cilium"]["namespace"] = "Kube_System"
    assert proxies.check_catalog(broken) == ["catalog.cilium.namespace: must be a namespace name (DNS-1123 label)"]


@pytest.mark.parametrize("name", sorted(catalog.CATALOG))
def test_entries_have_exactly_the_documented_keys(name):
    assert set(catalog.CATALOG[name]) == ENTRY_KEYS
    assert tuple(catalog.CATALOG[name]["source"]) == catalog.SOURCE_KEYS


@pytest.mark.parametrize("name", sorted(catalog.CATALOG))
def test_every_source_module_has_a_recorded_h1_hash(name):
    key = catalog.go_module_key(name)
    assert key in artifacts.GO_MODULES, key
    recorded = artifacts.GO_MODULES[key]
    assert H1.match(recorded["h1"]), recorded
    assert recorded["source"] == "https://sum.golang.org/lookup/" + re.sub(
        "[A-Z]", lambda upper: "!" + upper.group().lower(), key)
    assert catalog.module_h1(name) == recorded["h1"]


def test_a_source_without_a_recorded_hash_is_refused(monkeypatch):
    monkeypatch.setitem(catalog.CATALOG, "cilium", dict(catalog.CATALOG["cilium"], source=dict(
        catalog.CATALOG["cilium"]["source"], version="v0.0.1")))
    with pytest.raises(catalog.CatalogError, match=r"github.com/cilium/cilium@v0.0.1 .*no h1 hash"):
        catalog.module_h1("cilium")


def test_versions_are_the_pins():
    assert set(catalog.CATALOG) == set(EXPECTED_PINS)
    for name, (module_version, chart_version, app_version) in EXPECTED_PINS.items():
        source = catalog.chart_source(name)
        assert (source["version"], source["chart_version"], source["app_version"]) == (
            module_version, chart_version, app_version), name
        # The proxy asks the repository for exactly the version that is packaged.
        assert catalog.CATALOG[name]["version"] == source["chart_version"], name
        assert catalog.go_module_key(name) == "%s@%s" % (source["module"], module_version)
    assert pins.PINS["cilium"] == {"version": pins.CILIUM_VERSION, "chart_version": pins.CILIUM_CHART_VERSION}
    assert pins.PINS["cert_manager_addon"] == {"version": pins.CERT_MANAGER_ADDON_VERSION}
    assert pins.PINS["metrics_server"]["chart_version"] == pins.METRICS_SERVER_CHART_VERSION


@pytest.mark.parametrize("name", sorted(catalog.CATALOG))
def test_chart_and_module_versions_are_semver(name):
    source = catalog.chart_source(name)
    for version in (source["chart_version"], source["version"], source["app_version"] or "0.0.0"):
        charts.semver_key(version)  # raises ChartError otherwise
    # A Go module version is a tag: v-prefixed SemVer.
    assert source["version"].startswith("v")
    # Release templates ship v0.0.0 placeholders: packaging one unchanged would publish it.
    assert charts.semver_key(source["chart_version"])[:3] != (0, 0, 0)


def test_install_order_puts_the_cni_first():
    order = catalog.install_order()
    assert order == ["cilium", "cert_manager", "metrics_server"]
    assert list(catalog.CATALOG) == order  # listed in install order, too
    orders = [entry["order"] for entry in catalog.CATALOG.values()]
    assert len(set(orders)) == len(orders)
    # The proxy builder sorts by the same key.
    names = sorted(catalog.CATALOG, key=lambda name: (catalog.CATALOG[name]["order"], name))
    assert names[0] == "cilium"


def test_release_settings_an_operator_expects():
    settings = dict((name, (entry["namespace"], entry["release_name"], entry["enabled_by_default"]))
                    for name, entry in catalog.CATALOG.items())
    assert settings == {
        "cilium": ("kube-system", "cilium", True),
        "cert_manager": ("cert-manager", "cert-manager", False),
        "metrics_server": ("kube-system", "metrics-server", True),
    }


def test_defaults_are_json_and_deliberate():
    for name, entry in catalog.CATALOG.items():
        values = entry["default_values"]
        assert json.loads(json.dumps(values, allow_nan=False)) == values, name
    assert catalog.CATALOG["cilium"]["default_values"]["ipam"] == {"mode": "kubernetes"}
    # The OpenStack class opens VXLAN's port only.
    assert catalog.CATALOG["cilium"]["default_values"]["tunnelProtocol"] == "vxlan"
    cert_manager = catalog.CATALOG["cert_manager"]["default_values"]
    assert cert_manager["crds"]["enabled"] is True and "installCRDs" not in cert_manager  # both set fails
    args = catalog.CATALOG["metrics_server"]["default_values"]["defaultArgs"]
    assert "--kubelet-insecure-tls" not in args and "--kubelet-insecure-tls" not in json.dumps(
        catalog.CATALOG["metrics_server"])
    assert [arg for arg in args if arg.startswith("--kubelet-preferred-address-types")] == [
        "--kubelet-preferred-address-types=InternalIP"]


def test_no_latest_anywhere():
    words = list(_strings(catalog.CATALOG)) + list(_strings(catalog.UNAVAILABLE))
    words += [value for key, value in vars(pins).items() if key.isupper() and isinstance(value, str)]
    assert words and not [word for word in words if "latest" in word.lower()]


def test_chart_source_is_a_copy_and_unknown_names_are_refused():
    source = catalog.chart_source("cilium")
    source["version"] = "changed"
    assert catalog.chart_source("cilium")["version"] == pins.CILIUM_VERSION
    with pytest.raises(catalog.CatalogError, match="unknown add-on 'calico'; known add-ons: cert_manager, cilium"):
        catalog.go_module_key("calico")
    with pytest.raises(catalog.CatalogError):
        catalog.chart_source(None)


def test_unavailable_add_ons_say_why_and_are_not_in_the_catalog():
    assert not set(catalog.UNAVAILABLE) & set(catalog.CATALOG)
    for name, entry in catalog.UNAVAILABLE.items():
        assert set(entry) == {"reason", "evidence"} and all(entry.values()), name
