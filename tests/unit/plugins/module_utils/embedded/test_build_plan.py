# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The component registry is the build's only source: a new record is planned without other edits."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.embedded import build, manifests, registry
from ansible_collections.scs.kaas.plugins.module_utils.providers import catalog

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
GO_DIR = os.path.join(REPO, "roles", "management_cluster", "files", "embedded", "go")
TOOLCHAIN = {"GOVERSION": "go1.26.8", "GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "1"}
CAAPH = "sigs.k8s.io/cluster-api-addon-provider-helm"


def _source_dir(tmp_path):
    """A copy of the committed wrapper modules."""
    source = tmp_path / "embedded"
    shutil.copytree(GO_DIR, str(source / "go"))
    return str(source)


def _module_infos(tmp_path, requested):
    """What ``go mod download -json`` reports, for a module cache under tmp_path (no Go here)."""
    def download(runner, go, wdir, modules, env):
        infos = {}
        for module in modules:
            mdir = tmp_path / "gomodcache" / ("%s@v0.0.0" % module)
            os.makedirs(str(mdir), exist_ok=True)
            info = mdir / "release.info"
            info.write_text(json.dumps({"Version": "v0.0.0", "Time": "2026-01-02T03:04:05Z"}))
            infos[module] = {"Path": module, "Version": "v0.0.0", "Dir": str(mdir), "Info": str(info)}
        requested.setdefault(os.path.basename(wdir), []).extend(modules)
        return infos
    return download


def test_a_registry_record_is_planned_without_other_edits(tmp_path, monkeypatch):
    caaph = registry.BY_NAME["caaph-manager"]
    assert caaph.switch == "addons" and caaph.pin == pins.CAAPH_VERSION
    # Components first (start order), the tools last.
    assert list(build.binaries())[-3:] == ["caaph-manager", "clusterctl", "kubectl"]
    assert build.wrappers()["caaph"]["stamp_module"] == CAAPH
    assert build.wrappers()["caaph"]["edits"] == ("sigs.k8s.io/controller-runtime",)
    # Its provider's module directory comes with it, named by the catalog, when it is switched on.
    switched_on = registry.components(["addons"])
    assert registry.module_dirs(switched_on)[catalog.CATALOG["addon-helm"]["module_dir"]] == ("caaph", CAAPH)
    assert "cluster-api-addon-provider-helm" not in registry.module_dirs()

    requested = {}
    monkeypatch.setattr(build, "download_modules", _module_infos(tmp_path, requested))
    cache = str(tmp_path / "cache")
    plan, module_dirs, _infos = build._plan(None, "go", _source_dir(tmp_path), cache, list(build.binaries()),
                                            TOOLCHAIN, {}, lambda msg: None, {})
    step = plan["caaph-manager"]
    assert step["package"] == CAAPH and step["wrapper"] == "caaph"
    assert os.path.dirname(step["dir"]) == os.path.join(cache, "embedded", "caaph-manager")
    assert os.path.basename(step["dir"]).startswith(pins.CAAPH_VERSION + "-")
    assert step["binary"] == os.path.join(step["dir"], "caaph-manager")
    assert CAAPH in requested["caaph"]
    assert module_dirs["cluster-api-addon-provider-helm"].endswith("%s@v0.0.0" % CAAPH)
    # The other binaries' plans (and cache keys) do not move with the record.
    without = tuple(c for c in registry.REGISTRY if c.name != "caaph-manager")
    monkeypatch.setattr(registry, "REGISTRY", without)
    again, _dirs, _infos = build._plan(None, "go", _source_dir(tmp_path / "again"), cache, list(build.binaries()),
                                       TOOLCHAIN, {}, lambda msg: None, {})
    assert sorted(again) == sorted(n for n in plan if n != "caaph-manager")
    assert dict((n, again[n]["ldflags"]) for n in again) == dict((n, plan[n]["ldflags"]) for n in again)


def test_the_addons_switch_makes_caaph_serve_its_catalog_provider_in_the_embedded_cluster():
    switched_on = registry.components(["addons"])
    assert "caaph-manager" in switched_on and "caaph-manager" not in registry.components()
    helm = [p for p in manifests.embedded_providers(switched_on) if p["key"] == "addon-helm"]
    assert helm == [{"key": "addon-helm", "module": "cluster-api-addon-provider-helm", "source": ".",
                     "label": "addon-helm", "prefix": "caaph-", "namespace": "caaph-system",
                     "manager": "caaph-manager", "provider_name": "helm", "type": catalog.ADDON,
                     "upstream_label": "helm"}]
    assert "caaph-system" in [n["metadata"]["name"] for n in manifests.namespaces(switched_on)]
    assert not [p for p in manifests.embedded_providers() if p["key"] == "addon-helm"]


def test_a_record_for_a_crd_only_provider_takes_over_its_entry_when_switched_on():
    capo = registry.BY_NAME["capo-manager"]
    assert capo.switch == "openstack" and capo.provider == "infrastructure-openstack"
    assert [p["manager"] for p in manifests.embedded_providers() if p["key"] == "infrastructure-openstack"] == [None]
    switched_on = registry.components(["openstack"])
    assert [p["manager"] for p in manifests.embedded_providers(switched_on)
            if p["key"] == "infrastructure-openstack"] == ["capo-manager"]
    assert registry.module_dirs(switched_on)["cluster-api-provider-openstack"] == ("capo", capo.package)
    # ORC: a catalog entry without a clusterctl type, served by its record, no provider label.
    orc = [p for p in manifests.embedded_providers(switched_on) if p["key"] == "orc"]
    assert [(p["manager"], p["label"], p["type"]) for p in orc] == [("orc-manager", None, None)]
    assert registry.module_dirs(switched_on)["openstack-resource-controller"] == (
        "orc", catalog.CATALOG["orc"]["module"])
    assert "openstack-resource-controller" not in registry.module_dirs()


def test_the_tools_are_built_from_the_registry_too():
    assert [t.name for t in registry.TOOLS] == ["clusterctl", "kubectl"]
    assert build.COMPONENT_NAMES == tuple(r.name for r in registry.REGISTRY) + ("clusterctl", "kubectl")
    for tool in registry.TOOLS:
        assert build.COMPONENTS[tool.name] == (tool.wrapper, tool.package)
        assert build.WRAPPERS[tool.wrapper]["version"] == tool.pin
