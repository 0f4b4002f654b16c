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


def _manager_record(name, wrapper, package, provider, port):
    """A controller record as the next issues add them: one manager serving a catalog key."""
    return registry.Component(
        name, wrapper, package, pins.CLUSTER_API_VERSION, ports=[("webhook", "%s_webhook" % wrapper, port)],
        argv=lambda binary, lay: [binary], probes=[registry.Probe("tls", "%s_webhook" % wrapper, ca="webhook_ca_crt")],
        requires=("kube-apiserver", registry.OBJECTS), timeout=60, webhook_port="%s_webhook" % wrapper,
        provider=provider)


def _caaph_record():
    return _manager_record("caaph-manager", "caaph", CAAPH, "addon-helm", 16505)


def _source_dir(tmp_path):
    """The committed wrapper modules plus the new record's wrapper module (go.mod only)."""
    source = tmp_path / "embedded"
    shutil.copytree(GO_DIR, str(source / "go"))
    os.makedirs(str(source / "go" / "caaph"))
    with open(str(source / "go" / "caaph" / "go.mod"), "w") as handle:
        handle.write("module example.invalid/caaph\n\ngo 1.26\n\ntool %s\n\nrequire %s %s\n"
                     % (CAAPH, CAAPH, pins.CLUSTER_API_VERSION))
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


def test_a_new_registry_record_is_planned_without_other_edits(tmp_path, monkeypatch):
    before = build.binaries()
    monkeypatch.setattr(registry, "REGISTRY", registry.REGISTRY + (_caaph_record(),))
    # Components first (start order), the tools last.
    assert list(build.binaries()) == list(before)[:-2] + ["caaph-manager", "clusterctl", "kubectl"]
    assert build.wrappers()["caaph"] == {"version": pins.CLUSTER_API_VERSION, "stamp_module": None,
                                         "stamp_packages": (), "edits": (), "stamp_vars": (), "env": {},
                                         "tags": (), "extldflags": None, "static_libraries": ()}
    # Its provider's module directory comes with it, named by the catalog.
    assert registry.module_dirs()[catalog.CATALOG["addon-helm"]["module_dir"]] == ("caaph", CAAPH)

    requested = {}
    monkeypatch.setattr(build, "download_modules", _module_infos(tmp_path, requested))
    cache = str(tmp_path / "cache")
    plan, module_dirs, _infos = build._plan(None, "go", _source_dir(tmp_path), cache, list(build.binaries()),
                                            TOOLCHAIN, {}, lambda msg: None, {})
    step = plan["caaph-manager"]
    assert step["package"] == CAAPH and step["wrapper"] == "caaph"
    assert os.path.dirname(step["dir"]) == os.path.join(cache, "embedded", "caaph-manager")
    assert os.path.basename(step["dir"]).startswith(pins.CLUSTER_API_VERSION + "-")
    assert step["binary"] == os.path.join(step["dir"], "caaph-manager")
    assert requested["caaph"] == [CAAPH]
    assert module_dirs["cluster-api-addon-provider-helm"].endswith("%s@v0.0.0" % CAAPH)
    # The other binaries' plans (and cache keys) do not move with the new record.
    monkeypatch.setattr(registry, "REGISTRY", registry.REGISTRY[:-1])
    again, _dirs, _infos = build._plan(None, "go", _source_dir(tmp_path / "again"), cache, list(build.binaries()),
                                       TOOLCHAIN, {}, lambda msg: None, {})
    assert sorted(again) == sorted(before)
    assert dict((n, again[n]["ldflags"]) for n in again) == dict((n, plan[n]["ldflags"]) for n in again)


def test_a_new_manager_serves_its_catalog_provider_in_the_embedded_cluster(monkeypatch):
    monkeypatch.setattr(registry, "REGISTRY", registry.REGISTRY + (_caaph_record(),))
    helm = [p for p in manifests.embedded_providers() if p["key"] == "addon-helm"]
    assert helm == [{"key": "addon-helm", "module": "cluster-api-addon-provider-helm", "source": ".",
                     "label": "addon-helm", "prefix": "caaph-", "namespace": "caaph-system",
                     "manager": "caaph-manager", "provider_name": "helm", "type": catalog.ADDON}]
    assert "caaph-system" in [n["metadata"]["name"] for n in manifests.namespaces()]


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
