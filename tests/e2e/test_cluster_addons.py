# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Cluster add-ons through the real Cluster API add-on provider Helm (CAAPH) on the embedded cluster.

Without CAAPH a spec with ``addons`` fails before any write. With it (``optional_providers: [addons]``)
and the collection's chart repository on loopback (``scs.kaas.chart_repository``): clusters.yml gives an
in-memory cluster one HelmChartProxy per enabled add-on, selecting the cluster by its own label; CAAPH
makes a HelmReleaseProxy for it with our chart, version, repository and values. A second run writes
nothing; a values change (check mode first, a secret-like value never in the -vvv output) edits the
proxy in place; switching an add-on off deletes its proxy (once); deleting the cluster leaves no proxy.

What this cannot show: the in-memory backend's API server serves no ``/version``, so Helm stops at
its reachability check before it fetches a chart ("Kubernetes cluster unreachable: the server could not
find the requested resource" in the HelmReleaseProxy's status). Installs happen on real nodes only.
The tests in this module run in order and share one cluster.
"""

from __future__ import annotations

import os

import pytest
import yaml

import helpers
import workload_helpers as wh

from ansible_collections.scs.kaas.plugins.module_utils.addons import proxies

NAMESPACE = "wl-addons"
HOST = "wl-addons-a"
USER_AGENT = "scs.kaas/"
# A value that stands for a credential in the values: it must never appear in the output.
SECRET_LIKE = "not-for-logs-7f3a9c"
SPEC = {
    "kubernetes_version": "v1.35.4",
    "control_plane": {"replicas": 1},
    "node_groups": [{"name": "md-0", "replicas": 1}],
    "addons": {"cilium": {"values": {"operator": {"replicas": 1}}}, "metrics_server": {"enabled": False}},
}
DEFAULTS = {"infrastructure": "inmemory", "namespace": NAMESPACE}
PROXY_TIMEOUT = 120
# CAAPH's label on a HelmReleaseProxy naming its HelmChartProxy (api/v1alpha1 HelmChartProxyLabelName).
RELEASE_PROXY_OWNER_LABEL = "helmreleaseproxy.addons.cluster.x-k8s.io/helmchartproxy-name"
# Not the default 8879: the test must show the URL comes from the inventory.
REPOSITORY_PORT = 18879


@pytest.fixture(scope="module")
def lab(addons_management_cluster, ansible_env, tmp_path_factory):
    mc = addons_management_cluster
    directory = tmp_path_factory.mktemp("wl-addons")
    port = REPOSITORY_PORT
    repo_state = str(directory / "chart-repository")
    extra = {"workload_cluster_addons_repository_url": "http://127.0.0.1:%d" % port}
    inventory = wh.write_inventory(str(directory / "hosts.yml"), mc.kubeconfig, {HOST: SPEC}, DEFAULTS,
                                   extra_vars=extra)
    playbook = str(directory / "repository.yml")
    with open(playbook, "w") as handle:
        yaml.safe_dump(wh.chart_repository_play(repo_state, port, ["cilium"]), handle)
    proc, _recap = wh.run_playbook(ansible_env, inventory, playbook)
    assert proc.returncode == 0, proc.stdout[-5000:]
    wh.install_classes(ansible_env, inventory, NAMESPACE)
    yield {"mc": mc, "env": ansible_env, "inventory": inventory, "dir": directory, "port": port,
           "repo_log": os.path.join(repo_state, "chart-repository.log"), "repo_playbook": playbook}
    with open(playbook, "w") as handle:
        yaml.safe_dump(wh.chart_repository_play(repo_state, port, ["cilium"], "stopped"), handle)
    wh.run_playbook(ansible_env, inventory, playbook)


def _write_spec(lab, spec):
    wh.write_inventory(lab["inventory"], lab["mc"].kubeconfig, {HOST: spec}, DEFAULTS,
                       extra_vars={"workload_cluster_addons_repository_url": "http://127.0.0.1:%d" % lab["port"]})


def _proxies(mc, kind="helmchartproxies"):
    items = mc.kubectl_json("get", kind + ".addons.cluster.x-k8s.io", "-n", NAMESPACE)["items"]
    return dict((i["metadata"]["name"], i) for i in items)


def _release_proxies_of(mc, chart_proxy):
    return [i for i in _proxies(mc, "helmreleaseproxies").values()
            if (i["metadata"].get("labels") or {}).get(RELEASE_PROXY_OWNER_LABEL) == chart_proxy]


def test_addons_without_caaph_fail_before_any_write(management_cluster, ansible_env, namespace, tmp_path):
    """The session cluster runs no CAAPH: the spec is refused by name, nothing is written."""
    inventory = wh.write_inventory(str(tmp_path / "hosts.yml"), management_cluster.kubeconfig,
                                   {"wl-addons-none": dict(SPEC)}, dict(DEFAULTS, namespace=namespace))
    wh.install_classes(ansible_env, inventory, namespace)
    marker = management_cluster.mark()
    proc, recap = wh.run_playbook(ansible_env, inventory, "clusters.yml")
    assert proc.returncode != 0 and recap["wl-addons-none"]["failed"] == 1, proc.stdout[-4000:]
    assert "workload_cluster.addons" in proc.stdout and "CAAPH" in proc.stdout, proc.stdout[-4000:]
    assert management_cluster.count_writes(USER_AGENT, since=marker) == 0


def test_create_gives_the_cluster_one_proxy_per_enabled_addon_and_caaph_fetches_from_our_repository(lab):
    mc = lab["mc"]
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml")
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert recap[HOST]["changed"] >= 1
    cluster = helpers.get_cluster(mc, NAMESPACE, HOST)
    assert cluster["metadata"]["labels"][proxies.CLUSTER_LABEL] == HOST
    found = _proxies(mc)
    assert sorted(found) == ["%s-cilium" % HOST], sorted(found)
    proxy = found["%s-cilium" % HOST]
    assert proxy["spec"]["clusterSelector"] == {"matchLabels": {proxies.CLUSTER_LABEL: HOST}}
    assert proxy["spec"]["repoURL"] == "http://127.0.0.1:%d" % lab["port"]
    assert proxy["metadata"]["labels"][proxies.MANAGED_BY_LABEL] == proxies.MANAGED_BY
    # CAAPH selected the cluster: one HelmReleaseProxy for it, from our proxy, with its chart and values.
    releases = helpers.wait_for("CAAPH's HelmReleaseProxy", lambda: _release_proxies_of(mc, "%s-cilium" % HOST),
                                PROXY_TIMEOUT)
    assert [r["spec"]["clusterRef"]["name"] for r in releases] == [HOST]
    for key in ("repoURL", "chartName", "version", "releaseName", "namespace"):
        assert releases[0]["spec"][key] == proxy["spec"][key], key
    values = yaml.safe_load(releases[0]["spec"]["values"])
    assert values["ipam"] == {"mode": "kubernetes"} and values["operator"] == {"replicas": 1}


def test_second_run_changes_nothing_and_writes_nothing(lab):
    mc = lab["mc"]
    before = _proxies(mc)
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert recap[HOST]["changed"] == 0, proc.stdout[-4000:]
    assert mc.count_writes(USER_AGENT, since=marker) == 0
    after = _proxies(mc)
    assert dict((n, p["metadata"]["resourceVersion"]) for n, p in after.items()) == dict(
        (n, p["metadata"]["resourceVersion"]) for n, p in before.items())


def test_values_against_the_charts_schema_are_refused_before_any_write(lab):
    """The chart CAAPH would install (fetched from the repository) has a values schema: Cilium's says
    operator.replicas is an integer."""
    mc = lab["mc"]
    spec = yaml.safe_load(yaml.safe_dump(SPEC))
    spec["addons"]["cilium"]["values"]["operator"]["replicas"] = "two-replicas-please"
    _write_spec(lab, spec)
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml")
    assert proc.returncode != 0 and recap[HOST]["failed"] == 1, proc.stdout[-4000:]
    assert ("workload_cluster.addons.cilium.values.operator.replicas: does not match the chart's values schema "
            "(type" in proc.stdout), proc.stdout[-4000:]
    assert "two-replicas-please" not in proc.stdout
    assert mc.count_writes(USER_AGENT, since=marker) == 0


def test_a_values_change_is_planned_in_check_mode_then_edits_the_proxy_in_place(lab):
    mc = lab["mc"]
    before = _proxies(mc)["%s-cilium" % HOST]
    spec = yaml.safe_load(yaml.safe_dump(SPEC))
    spec["addons"]["cilium"]["values"]["hubble"] = {"tls": {"auto": {"method": "helm"}}, "note": SECRET_LIKE}
    _write_spec(lab, spec)
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml", args=("--check", "--diff", "-vvv"))
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert recap[HOST]["changed"] >= 1
    assert mc.count_writes(USER_AGENT, since=marker) == 0
    assert SECRET_LIKE not in proc.stdout, "an add-on value reached the -vvv output"
    assert "profile" in proc.stdout  # the diff shows the change by its hash

    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml", args=("-vvv",))
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert SECRET_LIKE not in proc.stdout, "an add-on value reached the -vvv output"
    after = _proxies(mc)["%s-cilium" % HOST]
    assert after["metadata"]["uid"] == before["metadata"]["uid"]  # edited in place: no reinstall
    assert (after["metadata"]["annotations"][proxies.PROFILE_ANNOTATION]
            != before["metadata"]["annotations"][proxies.PROFILE_ANNOTATION])
    assert SECRET_LIKE in after["spec"]["valuesTemplate"]
    lab["spec"] = spec


def _deleting(obj):
    return bool(obj["metadata"].get("deletionTimestamp"))


def test_switching_an_addon_off_deletes_its_proxy_and_caaph_starts_the_uninstall(lab):
    """CAAPH's finalizers hold the proxies until Helm uninstalled the release, which needs the cluster's API:
    the in-memory one never answers Helm, so here they stay in deletion until the Cluster is gone."""
    mc = lab["mc"]
    name = "%s-cilium" % HOST
    spec = lab.get("spec") or yaml.safe_load(yaml.safe_dump(SPEC))
    spec["addons"]["cilium"] = {"enabled": False}
    spec["addons"]["metrics_server"] = {"enabled": True}
    _write_spec(lab, spec)
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert recap[HOST]["changed"] >= 1
    deletes = [e for e in mc.writes(USER_AGENT, since=marker) if e.get("verb") == "delete"]
    assert [e["objectRef"]["name"] for e in deletes] == [name], deletes
    assert _deleting(_proxies(mc)[name])
    assert not _deleting(_proxies(mc)["%s-metrics-server" % HOST])
    helpers.wait_for("CAAPH deleting the HelmReleaseProxy",
                     lambda: all(_deleting(r) for r in _release_proxies_of(mc, name)), PROXY_TIMEOUT)
    # The label stays: the cluster's add-ons are managed, every one is just off.
    assert helpers.get_cluster(mc, NAMESPACE, HOST)["metadata"]["labels"][proxies.CLUSTER_LABEL] == HOST
    # A proxy in deletion is CAAPH's business: the next run neither deletes it again nor writes anything.
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml")
    assert proc.returncode == 0 and recap[HOST]["changed"] == 0, proc.stdout[-4000:]
    assert mc.count_writes(USER_AGENT, since=marker) == 0
    # Switching it on again meanwhile is refused by name, before any write.
    _write_spec(lab, yaml.safe_load(yaml.safe_dump(SPEC)))
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml")
    assert proc.returncode != 0 and recap[HOST]["failed"] == 1
    assert "still being deleted" in proc.stdout and name in proc.stdout, proc.stdout[-4000:]
    assert mc.count_writes(USER_AGENT, since=marker) == 0


def test_delete_removes_the_cluster_and_then_every_proxy(lab):
    """The proxies go after the Cluster: before, CAAPH would uninstall the cloud controller and the CSI
    driver while the cluster still has load balancers and volumes to clean up."""
    mc = lab["mc"]
    marker = mc.mark()
    proc, _recap = wh.run_playbook(lab["env"], lab["inventory"], "delete.yml")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert mc.kubectl_json("get", "clusters.cluster.x-k8s.io", "-n", NAMESPACE)["items"] == []
    deletes = [(e["objectRef"]["resource"], e["objectRef"]["name"])
               for e in mc.writes(USER_AGENT, since=marker) if e.get("verb") == "delete"]
    assert deletes == [("clusters", HOST), ("helmchartproxies", "%s-metrics-server" % HOST)], deletes
    # With the Cluster gone CAAPH drops its finalizers: nothing is left of the add-on that was on. The one
    # switched off before is still in deletion: its HelmReleaseProxy failed the uninstall on the in-memory
    # cluster and CAAPH retries it with a growing backoff (minutes), not when the Cluster goes.
    helpers.wait_for("the enabled add-on's proxies gone", lambda: sorted(_proxies(mc)) == ["%s-cilium" % HOST],
                     PROXY_TIMEOUT)
    assert _deleting(_proxies(mc)["%s-cilium" % HOST])
    helpers.wait_for("its HelmReleaseProxy gone", lambda: not _release_proxies_of(mc, "%s-metrics-server" % HOST),
                     PROXY_TIMEOUT)
