# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Unit tests of the add-on builders: Cluster labels, proxy names, HelmChartProxies (one per cluster and add-on), stale proxies."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.addons import proxies
from ansible_collections.scs.kaas.tests.unit.plugins.module_utils.addons.proxy_cases import (
    CATALOG, NAMESPACE, REPO, CRD_SPEC_FIELDS, CRD_REQUIRED, CRD_OPTIONS, CRD_INSTALL_OPTIONS, CRD_UPGRADE_OPTIONS,
    CRD_RECONCILE_STRATEGIES, DNS1123_LABEL, GO_DURATION, valid_label, problems_of, rendered_by_caaph)


def test_cluster_label_is_the_cluster_name():
    labels = proxies.cluster_labels("prod.eu-1")
    assert labels == {"addons.kaas.scs.community/cluster": "prod.eu-1"} == {proxies.CLUSTER_LABEL: "prod.eu-1"}
    assert all(valid_label(key, value) for key, value in labels.items())
    assert proxies.LABEL_PREFIX == "addons.kaas.scs.community/"
    assert proxies.cluster_labels("a" * 63) == {proxies.CLUSTER_LABEL: "a" * 63}


@pytest.mark.parametrize("cluster", ["a" * 64, "Prod", "prod_1", "-prod", "prod.", "prod..eu", "prod eu", "", None, 7])
def test_a_cluster_name_that_is_no_label_value_raises_naming_the_cluster(cluster):
    for call in (lambda: proxies.cluster_labels(cluster), lambda: proxies.proxy_name(cluster, "cilium"),
                 lambda: proxies.helm_chart_proxy(cluster, "cilium", CATALOG["cilium"], {}, NAMESPACE, REPO)):
        with pytest.raises(proxies.AddonSpecError) as err:
            call()
        assert err.value.problems == [
            "cluster %r: the name cannot be the value of the label addons.kaas.scs.community/cluster; a Cluster "
            "with add-ons needs a name of at most 63 characters: lowercase letters, digits, '-' and '.', starting "
            "and ending alphanumeric" % (cluster,)]


def test_desired_proxies_name_every_bad_cluster():
    clusters = {"Bad_One": proxies.effective(CATALOG, None, None), "ok": proxies.effective(CATALOG, None, None),
                "x" * 64: proxies.effective(CATALOG, None, None)}
    with pytest.raises(proxies.AddonSpecError) as err:
        proxies.desired_proxies(CATALOG, clusters, NAMESPACE, REPO)
    assert [p.split(":")[0] for p in err.value.problems] == ["cluster 'Bad_One'", "cluster %r" % ("x" * 64)]


def test_owned_label_keys_are_ours_only_including_an_older_layout():
    live = {"addons.kaas.scs.community/cluster": "c1", "addons.kaas.scs.community/cilium": "1d83587d8f",
            "addons.kaas.scs.community/retired-addon": "y", "cluster.x-k8s.io/cluster-name": "c",
            "kaas.scs.community/managed-by": "scs.kaas", "addons.kaas.scs.community.evil/cilium": "z"}
    owned = proxies.owned_label_keys(live)
    assert owned == ["addons.kaas.scs.community/cilium", "addons.kaas.scs.community/cluster",
                     "addons.kaas.scs.community/retired-addon"]
    # what a caller removes from the Cluster: the older per-add-on labels, not the cluster label
    assert [key for key in owned if key not in proxies.cluster_labels("c1")] == [
        "addons.kaas.scs.community/cilium", "addons.kaas.scs.community/retired-addon"]
    assert proxies.owned_label_keys(None) == []


# --- HelmChartProxy --------------------------------------------------------------------------------


def test_helm_chart_proxy_has_the_crd_fields():
    values = {"replicas": 2, "args": ["--kubelet-insecure-tls"]}
    proxy = proxies.helm_chart_proxy("c1", "metrics_server", CATALOG["metrics_server"], values, NAMESPACE, REPO)
    assert proxy == {
        "apiVersion": "addons.cluster.x-k8s.io/v1alpha1",
        "kind": "HelmChartProxy",
        "metadata": {
            "name": "c1-metrics-server",
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "scs.kaas", "addons.kaas.scs.community/addon": "metrics-server",
                       "addons.kaas.scs.community/cluster": "c1"},
            "annotations": {"addons.kaas.scs.community/profile": proxies.profile_hash(
                "metrics_server", CATALOG["metrics_server"], values)},
        },
        "spec": {
            "clusterSelector": {"matchLabels": {"addons.kaas.scs.community/cluster": "c1"}},
            "repoURL": REPO,
            "chartName": "metrics-server",
            "version": "3.12.2",
            "releaseName": "metrics-server",
            "namespace": "kube-system",
            "valuesTemplate": '{\n  "args": [\n    "--kubelet-insecure-tls"\n  ],\n  "replicas": 2\n}',
            "reconcileStrategy": "Continuous",
            "options": {"wait": True, "waitForJobs": True, "timeout": "10m0s",
                        "install": {"createNamespace": True}, "upgrade": {"maxHistory": 10}},
        },
    }
    spec = proxy["spec"]
    assert CRD_REQUIRED <= set(spec) <= CRD_SPEC_FIELDS
    assert set(spec["options"]) <= CRD_OPTIONS
    assert set(spec["options"]["install"]) <= CRD_INSTALL_OPTIONS
    assert set(spec["options"]["upgrade"]) <= CRD_UPGRADE_OPTIONS
    assert spec["reconcileStrategy"] in CRD_RECONCILE_STRATEGIES
    assert GO_DURATION.match(spec["options"]["timeout"])
    assert all(valid_label(key, value) for key, value in proxy["metadata"]["labels"].items())
    assert json.loads(spec["valuesTemplate"]) == values


def test_proxy_options_are_not_shared_between_proxies():
    first = proxies.helm_chart_proxy("c1", "cilium", CATALOG["cilium"], {}, NAMESPACE, REPO)
    first["spec"]["options"]["install"]["createNamespace"] = False
    second = proxies.helm_chart_proxy("c1", "cilium", CATALOG["cilium"], {}, NAMESPACE, REPO)
    assert second["spec"]["options"]["install"]["createNamespace"] is True


def _one_cluster(host):
    return proxies.desired_proxies(CATALOG, {"c1": proxies.effective(CATALOG, None, host)}, NAMESPACE, REPO)


def test_a_settings_change_edits_the_same_proxies_in_place():
    before = _one_cluster(None)
    after = _one_cluster({"cilium": {"values": {"hubble": {"enabled": True}}},
                          "cinder_csi": {"values": {"storageClass": {"delete": {"isDefault": False}}}}})
    assert [p["metadata"]["name"] for p in after] == [p["metadata"]["name"] for p in before] == [
        "c1-cilium", "c1-openstack-cloud-controller-manager", "c1-cinder-csi"]
    for old, new in zip(before, after):  # same object, same selection, same labels: CAAPH upgrades in place
        assert old["metadata"]["labels"] == new["metadata"]["labels"]
        assert old["spec"]["clusterSelector"] == new["spec"]["clusterSelector"] == {
            "matchLabels": {proxies.CLUSTER_LABEL: "c1"}}
    changed = [p["metadata"]["name"] for old, p in zip(before, after) if old["spec"] != p["spec"]]
    assert changed == ["c1-cilium", "c1-cinder-csi"]


def test_the_profile_annotation_follows_the_settings():
    def profiles(host):
        return {p["metadata"]["name"]: p["metadata"]["annotations"][proxies.PROFILE_ANNOTATION]
                for p in _one_cluster(host)}
    base = profiles(None)
    assert base == profiles({"cilium": {"values": {}}})  # no change, no new profile: deterministic
    changed = profiles({"cilium": {"values": {"hubble": {"enabled": True}}}})
    assert changed["c1-cilium"] != base["c1-cilium"]
    hubble_on = proxies.combine(CATALOG["cilium"]["default_values"], {"hubble": {"enabled": True}})
    assert changed["c1-cilium"] == proxies.profile_hash("cilium", CATALOG["cilium"], hubble_on)
    assert {k: v for k, v in changed.items() if k != "c1-cilium"} == {k: v for k, v in base.items() if k != "c1-cilium"}
    catalog = copy.deepcopy(CATALOG)
    catalog["cinder_csi"]["version"] = "2.31.1"  # a new chart version is a new profile, under the same name
    bumped = proxies.desired_proxies(catalog, {"c1": proxies.effective(catalog, None, None)}, NAMESPACE, REPO)
    assert [p["metadata"]["annotations"][proxies.PROFILE_ANNOTATION] != base[p["metadata"]["name"]]
            for p in bumped] == [False, False, True]


def test_short_names_are_cluster_dash_addon_up_to_63_characters():
    assert proxies.proxy_name("c1", "openstack_cloud_controller_manager") == "c1-openstack-cloud-controller-manager"
    fits = "c" * (63 - len("-cilium"))
    assert proxies.proxy_name(fits, "cilium") == fits + "-cilium"


@pytest.mark.parametrize("cluster, name", [
    ("c" * 57, "cilium"),  # one character too long
    ("c" * 63, "openstack_cloud_controller_manager"),
    ("prod.eu", "cilium"),  # a dot: a Cluster name, but no DNS-1123 label
    ("c1", "a" * proxies.MAX_SLUG_LENGTH * 2),
])
def test_long_names_are_truncated_with_a_hash_of_the_full_name(cluster, name):
    full = "%s-%s" % (cluster, name.replace("_", "-"))
    result = proxies.proxy_name(cluster, name)
    digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:8]
    assert len(result) <= 63 and DNS1123_LABEL.match(result), result
    assert result == full.replace(".", "-")[:54].rstrip("-") + "-" + digest
    assert proxies.proxy_name(cluster, name) == result  # deterministic


def test_truncated_names_stay_unique_for_names_sharing_a_prefix():
    shared = "tenant-a-production-cluster-in-region-north-" + "x" * 15
    names = {proxies.proxy_name(shared + suffix, "openstack_cloud_controller_manager") for suffix in ("1", "2", "3")}
    assert len(names) == 3
    assert len({name[:54] for name in names}) == 1  # the readable part is the same, the hash tells them apart
    dotted = {proxies.proxy_name("prod.eu", "cilium"), proxies.proxy_name("prod-eu", "cilium")}
    assert dotted == {"prod-eu-cilium", "prod-eu-cilium-" + hashlib.sha256(b"prod.eu-cilium").hexdigest()[:8]}


def test_longest_addon_name_with_longest_cluster_name_gives_a_valid_proxy():
    name = "a" * proxies.MAX_SLUG_LENGTH
    catalog = {name: dict(CATALOG["cilium"])}
    desired = proxies.desired_proxies(catalog, {"c" * 63: proxies.effective(catalog, None, None)}, NAMESPACE, REPO)
    assert len(desired[0]["metadata"]["name"]) == 63 and DNS1123_LABEL.match(desired[0]["metadata"]["name"])
    assert all(valid_label(key, value) for key, value in desired[0]["metadata"]["labels"].items())
    assert "catalog.%s" % (name + "a") in str(problems_of(None, None, {name + "a": dict(CATALOG["cilium"])}))


def test_catalog_names_that_would_make_proxy_names_ambiguous_are_rejected():
    catalog = dict(CATALOG, csi=dict(CATALOG["cinder_csi"], release_name="csi"))
    # cluster "x" with cinder_csi and cluster "x-cinder" with csi would both be "x-cinder-csi"
    assert "%s-%s" % ("x", "cinder-csi") == "%s-%s" % ("x-cinder", "csi")
    expected = ["catalog: the Kubernetes name cinder-csi of cinder_csi ends in -csi (of csi), so proxy names "
                "<cluster>-<add-on> would be ambiguous"]
    assert problems_of(None, None, catalog).problems == expected
    with pytest.raises(proxies.AddonSpecError) as err:
        proxies.desired_proxies(catalog, {"x": {"csi": {"enabled": True, "values": {}}}}, NAMESPACE, REPO)
    assert err.value.problems == expected


@pytest.mark.parametrize("cluster, namespace, repo_url, bad", [
    ("Prod", NAMESPACE, REPO, "cluster 'Prod'"),
    ("c1", "Tenant_A", REPO, "namespace"),
    ("c1", NAMESPACE, "registry.example.com/charts", "repo_url"),
    ("c1", NAMESPACE, None, "repo_url"),
])
def test_helm_chart_proxy_rejects_bad_names(cluster, namespace, repo_url, bad):
    with pytest.raises(proxies.AddonSpecError) as err:
        proxies.helm_chart_proxy(cluster, "cilium", CATALOG["cilium"], {}, namespace, repo_url)
    assert [p.split(":")[0] for p in err.value.problems] == [bad]


def test_template_braces_are_escaped_and_render_back_to_the_values():
    values = {
        "alertmanager": {"template": 'Alert {{ .CommonLabels.alertname }} for "{{ $x }}"'},
        "weird": ["{{{", "{{{{", "}}{{}}", "{{- trim -}}", "{{/* c */}}"],
        "{{key}}": "{{ .Cluster.metadata.name }}",
    }
    template = proxies.helm_chart_proxy("c1", "cilium", CATALOG["cilium"], values, NAMESPACE, REPO)["spec"][
        "valuesTemplate"]
    assert '{{ "{{" }} .Cluster.metadata.name }}' in template
    assert json.loads(rendered_by_caaph(template)) == values


def test_characters_go_yaml_rejects_are_escaped():
    values = {"text": "a\u0085b\u2028c\u0080d\u007fe\ufefff\u00e9\U0001F600"}
    template = proxies.values_template(values)
    assert "\u00e9" in template and "\U0001F600" in template  # ordinary text stays readable
    for char in "\u0085\u2028\u0080\u007f\ufeff":
        assert char not in template
    assert "\\u0085" in template and "\\u2028" in template
    assert json.loads(template) == values


# --- desired proxies and stale ones ----------------------------------------------------------------


def _clusters():
    group = {"metrics_server": {"enabled": True}}
    return {
        "c2": proxies.effective(CATALOG, group, {}),
        "c1": proxies.effective(CATALOG, group, None),
        "c3": proxies.effective(CATALOG, group, {"cilium": {"values": {"hubble": {"enabled": True}}},
                                                 "metrics_server": {"enabled": False}}),
    }


def test_desired_proxies_are_one_per_cluster_and_addon_in_install_order():
    desired = proxies.desired_proxies(CATALOG, _clusters(), NAMESPACE, REPO)
    pairs = [(p["metadata"]["labels"][proxies.ADDON_LABEL], p["metadata"]["labels"][proxies.CLUSTER_LABEL])
             for p in desired]
    assert pairs == [("cilium", "c1"), ("cilium", "c2"), ("cilium", "c3"),
                     ("openstack-cloud-controller-manager", "c1"), ("openstack-cloud-controller-manager", "c2"),
                     ("openstack-cloud-controller-manager", "c3"),
                     ("cinder-csi", "c1"), ("cinder-csi", "c2"), ("cinder-csi", "c3"),
                     ("metrics-server", "c1"), ("metrics-server", "c2")]  # c3 switched metrics_server off
    assert [p["metadata"]["name"] for p in desired] == ["%s-%s" % (cluster, addon) for addon, cluster in pairs]
    # every proxy selects exactly its own Cluster, whose label does not depend on the settings
    labels = {cluster: proxies.cluster_labels(cluster) for cluster in _clusters()}
    for proxy, (_addon, cluster) in zip(desired, pairs):
        selector = proxy["spec"]["clusterSelector"]["matchLabels"]
        assert [c for c, own in labels.items() if all(own.get(k) == v for k, v in selector.items())] == [cluster]
        assert proxy["metadata"]["namespace"] == NAMESPACE
    # equal settings are not shared: c1 and c2 have one proxy each, with the same profile
    profiles = {p["metadata"]["name"]: p["metadata"]["annotations"][proxies.PROFILE_ANNOTATION] for p in desired}
    assert profiles["c1-cilium"] == profiles["c2-cilium"] != profiles["c3-cilium"]


def test_desired_proxies_of_no_clusters_is_empty_and_unknown_addons_fail():
    assert proxies.desired_proxies(CATALOG, {}, NAMESPACE, REPO) == []
    with pytest.raises(proxies.AddonSpecError) as err:
        proxies.desired_proxies(CATALOG, {"c1": {"flannel": {"enabled": True, "values": {}}}}, NAMESPACE, REPO)
    assert "flannel" in str(err.value)


def _live(name, cluster=None, namespace=NAMESPACE, managed_by="scs.kaas"):
    labels = {"app.kubernetes.io/managed-by": managed_by} if managed_by else {}
    if cluster:
        labels[proxies.CLUSTER_LABEL] = cluster
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}}


def test_stale_returns_only_our_undesired_proxies():
    desired = proxies.desired_proxies(CATALOG, _clusters(), NAMESPACE, REPO)
    live = [
        _live("c1-cilium", "c1"),
        _live("c1-flannel", "c1"),
        _live("c1-flannel", "c1", namespace="tenant-b"),
        _live("cilium-1d83587d8f"),  # the older shared layout: ours, without a cluster label
        _live("hand-made", "c1", managed_by=None),
        _live("helm-made", "c1", managed_by="Helm"),
        {"metadata": {"name": "no-labels", "namespace": NAMESPACE, "labels": None}},
    ]
    before = copy.deepcopy(live)
    found = proxies.stale(live, desired)
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in found] == [
        ("tenant-a", "c1-flannel"), ("tenant-a", "cilium-1d83587d8f"), ("tenant-b", "c1-flannel")]
    assert [p["metadata"]["name"] for p in proxies.stale(live, desired, namespace="tenant-b")] == ["c1-flannel"]
    assert len(proxies.stale(live, [])) == 4
    assert live == before


def test_switching_an_addon_off_makes_its_proxy_stale():
    before = _one_cluster({"metrics_server": {"enabled": True}})
    after = _one_cluster(None)
    assert [p["metadata"]["name"] for p in proxies.stale(before, after, clusters=["c1"])] == ["c1-metrics-server"]


def test_stale_for_some_clusters_never_returns_another_clusters_proxy():
    clusters = _clusters()
    everything = proxies.desired_proxies(CATALOG, clusters, NAMESPACE, REPO)
    run = proxies.desired_proxies(CATALOG, {"c1": clusters["c1"]}, NAMESPACE, REPO)  # a run for c1 only
    live = everything + [_live("c1-flannel", "c1"), _live("c9-cilium", "c9"), _live("cilium-1d83587d8f")]
    assert [p["metadata"]["name"] for p in proxies.stale(live, run, clusters=["c1"])] == ["c1-flannel"]
    assert [p["metadata"]["name"] for p in proxies.stale(live, run, clusters="c1")] == ["c1-flannel"]
    assert [p["metadata"]["name"] for p in proxies.stale(live, run, clusters=("c1", "c2"))] == [
        "c1-flannel", "c2-cilium", "c2-cinder-csi", "c2-metrics-server", "c2-openstack-cloud-controller-manager"]
    assert proxies.stale(live, [], clusters=[]) == []
    assert proxies.stale(live, [], clusters=["c"]) == []  # no prefix or substring match
    # without ``clusters``, the same call would delete every other cluster's proxies: the reason it exists
    assert {"c2-cilium", "c9-cilium"} <= {p["metadata"]["name"] for p in proxies.stale(live, run)}


def test_inputs_are_not_mutated():
    catalog = copy.deepcopy(CATALOG)
    group = {"cilium": {"values": {"hubble": {"relay": {"enabled": True}}, "tolerations": [{"key": "g"}]}}}
    host = {"cilium": {"enabled": True, "values": {"hubble": {"ui": {"enabled": True}}}}}
    snapshot = copy.deepcopy((catalog, group, host))
    state = proxies.effective(catalog, group, host)
    state["cilium"]["values"]["hubble"]["relay"]["enabled"] = "changed"  # the result owns its data
    state["cilium"]["values"]["tolerations"].append("changed")
    state["cilium"]["values"]["ipam"]["mode"] = "changed"
    assert (catalog, group, host) == snapshot
    state = proxies.effective(catalog, group, host)
    per_cluster = {"c1": state}
    state_snapshot = copy.deepcopy(per_cluster)
    desired = proxies.desired_proxies(catalog, per_cluster, NAMESPACE, REPO)
    desired[0]["spec"]["options"]["install"]["createNamespace"] = "changed"
    proxies.stale(desired, [], clusters=["c1"])
    assert per_cluster == state_snapshot and (catalog, group, host) == snapshot
