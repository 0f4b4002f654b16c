# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import pytest
import yaml

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.providers import catalog
from ansible_collections.scs.kaas.plugins.module_utils.providers import repository as r
from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command

RUNNER = local_command.runner()


def test_images_in_finds_containers_and_init_containers():
    docs = [
        {"kind": "Deployment", "spec": {"template": {"spec": {
            "initContainers": [{"image": "init:1"}], "containers": [{"image": "a:1"}, {"image": "b:2"}]}}}},
        {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "c:3"}]}}}}}},
        {"kind": "ConfigMap", "data": {"image": "not-an-image"}},
    ]
    assert r.images_in(docs) == ["a:1", "b:2", "c:3", "init:1"]


def test_mirror_image_keeps_name_and_tag():
    assert r.mirror_image("registry.k8s.io/cluster-api/cluster-api-controller:v1.14.2", "mirror.example/capi/") == \
        "mirror.example/capi/cluster-api-controller:v1.14.2"
    assert r.mirror_image("quay.io/x/y:1", None) == "quay.io/x/y:1"


def test_clusterctl_config_uses_file_urls_only(tmp_path):
    entries = catalog.clusterctl_providers()
    cfg = r.clusterctl_config(str(tmp_path), entries + [catalog.provider("orc")], mirror="m.example/c",
                              cert_manager={"path": str(tmp_path / "cm.yaml"), "version": "v1.21.1"})
    urls = [p["url"] for p in cfg["providers"]]
    assert len(urls) == 5 and all(u.startswith("file://" + str(tmp_path)) for u in urls)
    assert "file://%s/cluster-api/%s/core-components.yaml" % (tmp_path, pins.CLUSTER_API_VERSION) in urls
    assert cfg["cert-manager"]["url"].startswith("file://")
    assert cfg["images"] == {"all": {"repository": "m.example/c"}}
    assert cfg["CLUSTER_TOPOLOGY"] == "true"


def _wrapper_requires(wrapper):
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..", "roles", "management_cluster",
                        "files", "embedded", "go", wrapper, "go.mod")
    with open(path) as handle:
        return dict(re.findall(r"^\s*(?:require\s+)?([a-z0-9.\-/]+)\s+(v[0-9][^\s]*)", handle.read(), re.M))


def test_catalog_versions_are_the_modules_the_embedded_cluster_is_built_from():
    # The providers installed into a management cluster are the ones the embedded management
    # cluster runs: the catalog must name the versions the committed go.mod files build.
    cluster_api = _wrapper_requires("cluster-api")["sigs.k8s.io/cluster-api"]
    for key in ("core", "bootstrap-kubeadm", "control-plane-kubeadm"):
        assert catalog.PROVIDERS[key]["version"] == cluster_api, key
        assert catalog.PROVIDERS[key]["module"] == "sigs.k8s.io/cluster-api", key
    capo = catalog.PROVIDERS["infrastructure-openstack"]
    assert (capo["module"], capo["version"]) in _wrapper_requires("capo").items()
    assert [catalog.label(p) for p in catalog.clusterctl_providers()] == [
        "cluster-api", "bootstrap-kubeadm", "control-plane-kubeadm", "infrastructure-openstack", "addon-helm"]


def _fake_module(root):
    """A tiny provider module with a kustomize config/default, like upstream's layout."""
    cfg = root / "config" / "default"
    cfg.mkdir(parents=True)
    (root / "metadata.yaml").write_text("apiVersion: clusterctl.cluster.x-k8s.io/v1alpha3\nkind: Metadata\n"
                                        "releaseSeries:\n- major: 1\n  minor: 14\n  contract: v1beta2\n")
    (cfg / "kustomization.yaml").write_text("namespace: capi-system\nresources:\n- manager.yaml\n")
    (cfg / "manager.yaml").write_text(yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "controller-manager"},
        "spec": {"template": {"spec": {"containers": [{"name": "manager", "imagePullPolicy": "Always",
                                                       "image": "gcr.io/k8s-staging-cluster-api/cluster-api-controller:main"}]}}}}))


def test_build_renders_pinned_images_and_is_idempotent(tmp_path, monkeypatch):
    mod = tmp_path / "mod"
    _fake_module(mod)
    entry = dict(catalog.PROVIDERS["core"], kustomize_dir="config/default")
    monkeypatch.setitem(catalog.PROVIDERS, "core", entry)
    monkeypatch.setattr(r, "module_dir", lambda runner, module, version, cache=None, download=True: str(mod))
    dest = tmp_path / "repo"
    first = r.build(RUNNER, str(dest), keys=["core"], verify_modules=False, mirror="mirror.example/capi")
    assert first["changed"]
    comp = dest / "cluster-api" / pins.CLUSTER_API_VERSION / "core-components.yaml"
    doc = yaml.safe_load(comp.read_text())
    container = doc["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.k8s.io/cluster-api/cluster-api-controller:%s" % pins.CLUSTER_API_VERSION
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert (dest / "cluster-api" / pins.CLUSTER_API_VERSION / "metadata.yaml").is_file()
    lines = (dest / "images.txt").read_text().splitlines()
    assert "registry.k8s.io/cluster-api/cluster-api-controller:%s mirror.example/capi/cluster-api-controller:%s" % (
        pins.CLUSTER_API_VERSION, pins.CLUSTER_API_VERSION) in lines
    assert not r.build(RUNNER, str(dest), keys=["core"], verify_modules=False, mirror="mirror.example/capi")["changed"]
    assert r.build(RUNNER, str(dest), keys=["core"], verify_modules=False, dry_run=True)["changed"]  # mirror removed
    assert "mirror.example" in (dest / "clusterctl.yaml").read_text()  # dry run wrote nothing


def test_build_fails_when_the_pinned_image_is_not_rendered(tmp_path, monkeypatch):
    mod = tmp_path / "mod"
    _fake_module(mod)
    entry = dict(catalog.PROVIDERS["core"], kustomize_dir="config/default", images={"some/other-placeholder": "x/y"})
    monkeypatch.setitem(catalog.PROVIDERS, "core", entry)
    monkeypatch.setattr(r, "module_dir", lambda runner, module, version, cache=None, download=True: str(mod))
    with pytest.raises(r.RepositoryError) as err:
        r.build(RUNNER, str(tmp_path / "repo"), keys=["core"], verify_modules=False)
    assert "lack the pinned image" in str(err.value)


def test_build_rejects_bad_input(tmp_path):
    with pytest.raises(r.RepositoryError):
        r.build(RUNNER, str(tmp_path), keys=["nope"])
    with pytest.raises(r.RepositoryError):
        r.build(RUNNER, str(tmp_path), keys=["core"], mirror="https://x")
    assert not os.listdir(str(tmp_path))
