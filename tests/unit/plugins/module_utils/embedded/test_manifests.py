# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""manifests.py over a synthetic copy of the providers' config/ trees (same layout as upstream)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os

import pytest
import yaml

from ansible_collections.scs.kaas.plugins.module_utils.embedded import manifests

PORTS = {"capi-manager": 16501, "kubeadm-bootstrap-manager": 16502,
         "kubeadm-control-plane-manager": 16503, "capd-manager": 16504}
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _write(path, docs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        yaml.safe_dump_all(docs, handle)


def _crd(name, versions):
    group = name.split(".", 1)[1]
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": name, "creationTimestamp": None},
        "spec": {"group": group, "versions": [{"name": v, "served": True, "storage": v == versions[-1]} for v in versions]},
        "status": {"acceptedNames": {"kind": ""}},
    }


def _provider(root, provider, crds, contract=None, conversion=(), commonlabels=False):
    crd_dir = os.path.join(root, "config", "crd")
    resources, patches = [], []
    for crd in crds:
        rel = "bases/%s.yaml" % crd["metadata"]["name"]
        _write(os.path.join(crd_dir, rel), [crd])
        resources.append(rel)
    for name in conversion:
        rel = "patches/webhook_in_%s.yaml" % name.split(".")[0]
        _write(os.path.join(crd_dir, rel), [{
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name},
            "spec": {"conversion": {"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
                     "clientConfig": {"service": {"namespace": "system", "name": "webhook-service", "path": "/convert"}}}}},
        }])
        patches.append({"path": rel})
    kust = {"resources": resources, "patches": patches}
    if contract:
        kust["labels"] = [{"pairs": contract}]
    _write(os.path.join(crd_dir, "kustomization.yaml"), [kust])
    default = {"namespace": provider["namespace"], "namePrefix": provider["prefix"]}
    if commonlabels:
        default["commonLabels"] = {manifests.PROVIDER_LABEL: provider["label"]}
    else:
        default["labels"] = [{"includeSelectors": True, "pairs": {manifests.PROVIDER_LABEL: provider["label"]}}]
    _write(os.path.join(root, "config", "default", "kustomization.yaml"), [default])
    if provider["manager"]:
        hook = {"admissionReviewVersions": ["v1"], "name": "default.thing.%s" % provider["key"],
                "clientConfig": {"service": {"name": "webhook-service", "namespace": "system", "path": "/mutate-x"}}}
        _write(os.path.join(root, "config", "webhook", "manifests.yaml"), [
            {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
             "metadata": {"name": "mutating-webhook-configuration"}, "webhooks": [hook]},
            {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
             "metadata": {"name": "validating-webhook-configuration"}, "webhooks": [dict(hook, name="validate.x")]},
        ])


def _capo_provider(capo, provider):
    """CAPO's tree as upstream: v1beta1 CRDs (machines also serve v1alpha7), commonLabels kustomization."""
    _provider(capo, provider,
              [_crd("openstackclusters.infrastructure.cluster.x-k8s.io", ["v1beta1"]),
               _crd("openstackmachines.infrastructure.cluster.x-k8s.io", ["v1alpha7", "v1beta1"])],
              {"cluster.x-k8s.io/v1beta1": "v1beta1"},
              ["openstackclusters.infrastructure.cluster.x-k8s.io", "openstackmachines.infrastructure.cluster.x-k8s.io"],
              commonlabels=True)


@pytest.fixture
def module_dirs(tmp_path):
    by_key = dict((p["key"], p) for p in manifests.PROVIDERS)
    capi = str(tmp_path / "cluster-api@v1.14.2")
    test = str(tmp_path / "cluster-api" / "test@v1.14.2")
    capo = str(tmp_path / "cluster-api-provider-openstack@v0.14.7")
    contract = {"cluster.x-k8s.io/v1beta1": "v1beta1", "cluster.x-k8s.io/v1beta2": "v1beta2"}
    _provider(os.path.join(capi, "core"), by_key["core"],
              [_crd("clusters.cluster.x-k8s.io", ["v1beta1", "v1beta2"])],
              conversion=["clusters.cluster.x-k8s.io"])
    _provider(os.path.join(capi, "bootstrap", "kubeadm"), by_key["bootstrap-kubeadm"],
              [_crd("kubeadmconfigs.bootstrap.cluster.x-k8s.io", ["v1beta1", "v1beta2"])], contract,
              ["kubeadmconfigs.bootstrap.cluster.x-k8s.io"])
    _provider(os.path.join(capi, "controlplane", "kubeadm"), by_key["control-plane-kubeadm"],
              [_crd("kubeadmcontrolplanes.controlplane.cluster.x-k8s.io", ["v1beta1", "v1beta2"])], contract,
              ["kubeadmcontrolplanes.controlplane.cluster.x-k8s.io"])
    _provider(os.path.join(test, "infrastructure", "docker"), by_key["infrastructure-docker"],
              [_crd("devclusters.infrastructure.cluster.x-k8s.io", ["v1beta1", "v1beta2"]),
               _crd("devmachinepools.infrastructure.cluster.x-k8s.io", ["v1beta2"])], contract,
              ["devclusters.infrastructure.cluster.x-k8s.io", "devmachinepools.infrastructure.cluster.x-k8s.io"])
    _capo_provider(capo, by_key["infrastructure-openstack"])
    _write(os.path.join(capi, manifests.CLUSTERCTL_CRD), [_crd("providers.clusterctl.cluster.x-k8s.io", ["v1alpha3"])])
    return {"cluster-api": capi, "cluster-api-test": test, "cluster-api-provider-openstack": capo}


def test_crds_get_labels_and_conversion_by_url(module_dirs):
    crds, warnings = manifests.crds(module_dirs, PORTS, CA)
    by_name = dict((c["metadata"]["name"], c) for c in crds)
    cluster = by_name["clusters.cluster.x-k8s.io"]
    assert "status" not in cluster and "creationTimestamp" not in cluster["metadata"]
    assert cluster["metadata"]["labels"] == {manifests.PROVIDER_LABEL: "cluster-api", manifests.CLUSTERCTL_LABEL: ""}
    hook = cluster["spec"]["conversion"]["webhook"]
    assert hook["clientConfig"]["url"] == "https://127.0.0.1:16501/convert"
    assert base64.b64decode(hook["clientConfig"]["caBundle"]).decode() == CA
    assert hook["conversionReviewVersions"] == ["v1"]
    kcp = by_name["kubeadmcontrolplanes.controlplane.cluster.x-k8s.io"]
    assert kcp["metadata"]["labels"]["cluster.x-k8s.io/v1beta2"] == "v1beta2"
    assert kcp["spec"]["conversion"]["webhook"]["clientConfig"]["url"] == "https://127.0.0.1:16503/convert"
    dev = by_name["devclusters.infrastructure.cluster.x-k8s.io"]
    assert dev["metadata"]["labels"][manifests.PROVIDER_LABEL] == "infrastructure-docker"
    assert dev["spec"]["conversion"]["webhook"]["clientConfig"]["url"] == "https://127.0.0.1:16504/convert"
    # One served version: no conversion even if a patch exists.
    assert "conversion" not in by_name["devmachinepools.infrastructure.cluster.x-k8s.io"]["spec"]
    # CAPO: labels from commonLabels, no controller here -> no conversion, a warning for multi-version CRDs.
    osc = by_name["openstackclusters.infrastructure.cluster.x-k8s.io"]
    assert osc["metadata"]["labels"] == {manifests.PROVIDER_LABEL: "infrastructure-openstack",
                                         "cluster.x-k8s.io/v1beta1": "v1beta1"}
    assert "conversion" not in osc["spec"]
    assert "conversion" not in by_name["openstackmachines.infrastructure.cluster.x-k8s.io"]["spec"]
    assert len(warnings) == 1 and "openstackmachines" in warnings[0]


def test_webhook_configurations_by_url_with_prefix(module_dirs):
    hooks = manifests.webhook_configurations(module_dirs, PORTS, CA)
    names = sorted(h["metadata"]["name"] for h in hooks)
    assert names == sorted([
        "capi-mutating-webhook-configuration", "capi-validating-webhook-configuration",
        "capi-kubeadm-bootstrap-mutating-webhook-configuration", "capi-kubeadm-bootstrap-validating-webhook-configuration",
        "capi-kubeadm-control-plane-mutating-webhook-configuration",
        "capi-kubeadm-control-plane-validating-webhook-configuration",
        "capd-mutating-webhook-configuration", "capd-validating-webhook-configuration",
    ])
    for doc in hooks:
        for hook in doc["webhooks"]:
            assert "service" not in hook["clientConfig"]
            assert hook["clientConfig"]["url"].startswith("https://127.0.0.1:165")
            assert hook["clientConfig"]["url"].endswith("/mutate-x")
    capd = [h for h in hooks if h["metadata"]["name"].startswith("capd-")][0]
    assert capd["webhooks"][0]["clientConfig"]["url"] == "https://127.0.0.1:16504/mutate-x"


def test_inventory_shape_matches_clusterctl(module_dirs):
    inv = manifests.inventory(module_dirs)
    got = [(p["metadata"]["namespace"], p["metadata"]["name"], p["providerName"], p["type"], p["version"]) for p in inv]
    assert got == [
        ("capi-system", "cluster-api", "cluster-api", "CoreProvider", "v1.14.2"),
        ("capi-kubeadm-bootstrap-system", "bootstrap-kubeadm", "kubeadm", "BootstrapProvider", "v1.14.2"),
        ("capi-kubeadm-control-plane-system", "control-plane-kubeadm", "kubeadm", "ControlPlaneProvider", "v1.14.2"),
        ("capd-system", "infrastructure-docker", "docker", "InfrastructureProvider", "v1.14.2"),
    ]
    for p in inv:
        assert p["metadata"]["labels"] == {
            "clusterctl.cluster.x-k8s.io": "", "cluster.x-k8s.io/provider": p["metadata"]["name"],
            "clusterctl.cluster.x-k8s.io/core": "inventory"}
    assert manifests.clusterctl_crd(module_dirs)["metadata"]["labels"] == {"clusterctl.cluster.x-k8s.io/core": "inventory"}


def test_unexpected_upstream_layout_fails_loudly(module_dirs):
    with pytest.raises(manifests.ManifestError, match="lacks 'cluster-api-test'"):
        manifests.crds({"cluster-api": module_dirs["cluster-api"]}, PORTS, CA)
    path = os.path.join(module_dirs["cluster-api"], "core", "config", "default", "kustomization.yaml")
    _write(path, [{"namespace": "somewhere-else", "namePrefix": "capi-",
                   "labels": [{"pairs": {manifests.PROVIDER_LABEL: "cluster-api"}}]}])
    with pytest.raises(manifests.ManifestError, match="namespace is 'somewhere-else', expected 'capi-system'"):
        manifests.crds(module_dirs, PORTS, CA)


def test_the_catalog_is_the_only_source_of_embedded_inventory_and_repository(module_dirs, monkeypatch, tmp_path):
    from ansible_collections.scs.kaas.plugins.module_utils.providers import catalog, repository

    # Every embedded provider is a catalog entry, seen identically by both sides.
    for provider in manifests.embedded_providers():
        entry = catalog.provider(provider["key"])
        assert (provider["label"], provider["namespace"], provider["provider_name"], provider["type"]) == (
            catalog.label(entry), entry["namespace"], entry["name"], entry["type"])
        assert provider["prefix"] == entry["name_prefix"] and provider["module"] == entry["module_dir"]

    # One change in the catalog reaches the embedded inventory and the repository's clusterctl config.
    monkeypatch.setitem(catalog.CATALOG["bootstrap-kubeadm"], "name", "kubeadm-renamed")
    monkeypatch.setitem(catalog.CATALOG["bootstrap-kubeadm"], "namespace", "renamed-system")
    inventory = dict((p["metadata"]["name"], p) for p in manifests.inventory(module_dirs))
    assert "bootstrap-kubeadm" not in inventory
    renamed = inventory["bootstrap-kubeadm-renamed"]
    assert (renamed["metadata"]["namespace"], renamed["providerName"]) == ("renamed-system", "kubeadm-renamed")
    assert "renamed-system" in [n["metadata"]["name"] for n in manifests.namespaces()]
    config = repository.clusterctl_config(str(tmp_path), [catalog.provider("bootstrap-kubeadm")])
    assert config["providers"] == [{
        "name": "kubeadm-renamed", "type": catalog.BOOTSTRAP,
        "url": "file://%s/bootstrap-kubeadm-renamed/%s/bootstrap-components.yaml"
               % (tmp_path, catalog.CATALOG["bootstrap-kubeadm"]["version"])}]
    assert catalog.instance_name(catalog.provider("bootstrap-kubeadm")) == "renamed-system/kubeadm-renamed"


def test_the_development_provider_is_in_the_catalog_but_not_in_the_repository():
    from ansible_collections.scs.kaas.plugins.module_utils.providers import catalog

    assert catalog.CATALOG["infrastructure-docker"]["module_dir"] == "cluster-api-test"
    assert "infrastructure-docker" not in catalog.PROVIDERS
    assert [p["key"] for p in manifests.embedded_providers()] == [
        "core", "bootstrap-kubeadm", "control-plane-kubeadm", "infrastructure-docker", "infrastructure-openstack"]


def test_openstack_switched_on_serves_capo_webhooks_and_installs_orc(module_dirs, tmp_path):
    from ansible_collections.scs.kaas.plugins.module_utils.embedded import registry

    components = registry.components(["openstack"])
    by_key = dict((p["key"], p) for p in manifests.embedded_providers(components))
    capo = module_dirs["cluster-api-provider-openstack"]
    # CAPO's tree again, now with a manager: its webhook manifests exist upstream.
    _capo_provider(capo, by_key["infrastructure-openstack"])
    # ORC's tree as upstream: CRDs, a kustomization without labels, no config/webhook.
    orc = str(tmp_path / "openstack-resource-controller" / "v2@v2.4.0")
    _write(os.path.join(orc, "config", "crd", "bases", "flavors.yaml"), [_crd("flavors.openstack.k-orc.cloud", ["v1alpha1"])])
    _write(os.path.join(orc, "config", "crd", "kustomization.yaml"), [{"resources": ["bases/flavors.yaml"]}])
    _write(os.path.join(orc, "config", "default", "kustomization.yaml"), [{"namespace": "orc-system", "namePrefix": "orc-"}])
    dirs = dict(module_dirs, **{"openstack-resource-controller": orc})
    ports = dict(PORTS, **{"capo-manager": 16505})

    crds, warnings = manifests.crds(dirs, ports, CA, components)
    by_name = dict((c["metadata"]["name"], c) for c in crds)
    machines = by_name["openstackmachines.infrastructure.cluster.x-k8s.io"]
    assert machines["spec"]["conversion"]["webhook"]["clientConfig"]["url"] == "https://127.0.0.1:16505/convert"
    assert machines["metadata"]["labels"][manifests.CLUSTERCTL_LABEL] == ""
    assert not [w for w in warnings if "openstack" in w]
    # ORC is not installed by clusterctl upstream either: neither provider nor clusterctl label.
    assert by_name["flavors.openstack.k-orc.cloud"]["metadata"]["labels"] == {}

    hooks = manifests.webhook_configurations(dirs, ports, CA, components)
    capo_hooks = [h for h in hooks if h["metadata"]["name"].startswith("capo-")]
    assert sorted(h["metadata"]["name"] for h in capo_hooks) == [
        "capo-mutating-webhook-configuration", "capo-validating-webhook-configuration"]
    assert all(w["clientConfig"]["url"].startswith("https://127.0.0.1:16505/") for h in capo_hooks for w in h["webhooks"])
    assert not [h for h in hooks if h["metadata"]["name"].startswith("orc-")]

    inventory = dict((p["metadata"]["name"], p) for p in manifests.inventory(dirs, components))
    assert (inventory["infrastructure-openstack"]["version"], inventory["infrastructure-openstack"]["type"]) == (
        "v0.14.7", "InfrastructureProvider")
    assert sorted(inventory) == ["bootstrap-kubeadm", "cluster-api", "control-plane-kubeadm",
                                 "infrastructure-docker", "infrastructure-openstack"]
    namespaces = dict((n["metadata"]["name"], n["metadata"]["labels"]) for n in manifests.namespaces(components))
    assert namespaces["orc-system"] == {} and namespaces["capo-system"][manifests.PROVIDER_LABEL] == "infrastructure-openstack"
