# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Pivot with ``playbooks/pivot.yml`` from the session management cluster to a second one.

The target is an embedded management cluster running at the same time in a network namespace of
its own (``netns_cluster.NetnsManagementCluster``: the in-memory backend's fixed ports rule out a
shared one), its kube-apiserver reached through a TCP forwarder. The playbook checks both provider
inventories, backs the source up and moves with ``scs.kaas.clusterctl_move``.
"""

from __future__ import annotations

import json

import pytest

import helpers
import netns_cluster
import playbook_runs

helpers.ensure_collection_path()

from ansible_collections.scs.kaas.plugins.module_utils import pins  # noqa: E402

NAMESPACE = "e2e-pivot"
NAME = "pivot-me"
MOVE_TASK = "Move the Cluster API objects to the target"
BACKUP_TASK = "Back up the source with clusterctl move --to-directory"
# (plural, group) of the objects the pivot must carry over, compared by name and spec.
MOVED = (("clusters", "cluster.x-k8s.io"), ("clusterclasses", "cluster.x-k8s.io"),
         ("kubeadmcontrolplanes", "controlplane.cluster.x-k8s.io"),
         ("machinedeployments", "cluster.x-k8s.io"), ("machines", "cluster.x-k8s.io"))


@pytest.fixture
def target_cluster(tmp_path_factory, embedded_build):
    target = netns_cluster.NetnsManagementCluster(str(tmp_path_factory.mktemp("embedded-target")), embedded_build)
    try:
        target.start()
        yield target
    finally:
        target.stop()
        assert not target.forwarder_alive(), "the forwarder is still running"
        left = target.leftover_processes()
        assert not left, "processes left after stop: %r" % left


def objects_by_name(mc):
    """{(plural, name): object} of the MOVED kinds in NAMESPACE."""
    api = mc.custom_objects()
    out = {}
    for plural, group in MOVED:
        for item in api.list_namespaced_custom_object(group, "v1beta2", NAMESPACE, plural)["items"]:
            out[(plural, item["metadata"]["name"])] = item
    return out


def owners(mc, obj):
    """Owner references as (kind, name), each checked to carry the uid of the owner in ``mc``."""
    out = []
    for ref in obj["metadata"].get("ownerReferences") or []:
        group_version = ref["apiVersion"].split("/")
        resource = "%s.%s.%s" % (ref["kind"], group_version[1], group_version[0]) if len(group_version) == 2 else ref["kind"]
        owner = mc.kubectl_json("get", resource, ref["name"], "-n", NAMESPACE)
        assert owner["metadata"]["uid"] == ref["uid"], (obj["metadata"]["name"], ref)
        out.append((ref["kind"], ref["name"]))
    return sorted(out)


def pivot(ansible_env, source, target, backup_dir, check_mode=False):
    return playbook_runs.run_playbook(
        ansible_env, "pivot.yml", check_mode=check_mode, pivot_source_kubeconfig=source.kubeconfig,
        pivot_target_kubeconfig=target.kubeconfig, pivot_clusterctl=source.binaries["clusterctl"],
        pivot_backup_dir=str(backup_dir), pivot_namespace=NAMESPACE)


def test_the_pivot_playbook_runs_clusterctl_only_through_the_module():
    assert playbook_runs.clusterctl_commands("pivot.yml", "tasks/pivot-backup.yml") == []
    names = [t["name"] for t in playbook_runs.tasks_of("pivot.yml", "tasks/pivot-backup.yml")
             if "scs.kaas.clusterctl_move" in t]
    assert sorted(names) == sorted([MOVE_TASK, BACKUP_TASK])


def test_pivot_to_a_second_management_cluster(management_cluster, target_cluster, ansible_env, tmp_path):
    source, target = management_cluster, target_cluster
    version = pins.WORKLOAD_KUBERNETES_VERSIONS[0]
    helpers.create_available_cluster(source, NAMESPACE, NAME, version)
    helpers.wait_for("2 machines running", lambda: helpers.machines_running(source, NAMESPACE, NAME, 2, version),
                     240, 2, source.diagnostics)
    before = objects_by_name(source)
    assert {plural for plural, _name in before} == {plural for plural, _group in MOVED}, sorted(before)
    assert target.kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0

    backup_dir = tmp_path / "backups"
    # Check mode: clusterctl's dry run lists what would move; nothing is written anywhere.
    source_mark, target_mark = source.mark(), target.mark()
    checked, raw = pivot(ansible_env, source, target, backup_dir, check_mode=True)
    predicted = playbook_runs.task_results(checked, MOVE_TASK)[0]
    assert predicted["changed"] is True and predicted["dry_run"] is True, raw[-3000:]
    assert "Cluster/%s/%s" % (NAMESPACE, NAME) in predicted["objects"]
    assert playbook_runs.task_results(checked, BACKUP_TASK)[0]["objects"] == predicted["objects"]
    assert not backup_dir.exists()
    assert source.count_writes("clusterctl/", since=source_mark) == 0
    assert target.count_writes("clusterctl/", since=target_mark) == 0
    assert {k: o["metadata"]["uid"] for k, o in objects_by_name(source).items()} == {
        k: o["metadata"]["uid"] for k, o in before.items()}

    output, raw = pivot(ansible_env, source, target, backup_dir)
    assert source.kubeconfig not in raw and target.kubeconfig not in raw
    moved = playbook_runs.task_results(output, MOVE_TASK)[0]
    assert moved["changed"] is True and moved["namespace"] == NAMESPACE

    # The backup written first holds the Cluster as it was before the move.
    backups = [d for d in backup_dir.iterdir() if d.name.startswith("before-pivot-")]
    assert len(backups) == 1
    backup = playbook_runs.task_results(output, BACKUP_TASK)[0]
    assert backup["changed"] is True and backup["directory"] == str(backups[0])
    with open(backups[0] / ("Cluster_%s_%s.yaml" % (NAMESPACE, NAME))) as handle:
        assert json.load(handle)["metadata"]["uid"] == before[("clusters", NAME)]["metadata"]["uid"]

    # The target holds every object, new uids with owner references re-pointed at them; specs unchanged.
    after = objects_by_name(target)
    assert sorted(after) == sorted(before)
    source_uids = {o["metadata"]["uid"] for o in before.values()}
    for key, obj in after.items():
        assert obj["metadata"]["uid"] not in source_uids, key
        assert obj["spec"] == before[key]["spec"], key
        assert owners(target, obj) == sorted(
            (r["kind"], r["name"]) for r in before[key]["metadata"].get("ownerReferences") or []), key
    # What the module reports moved is what clusterctl created there, as the dry run predicted.
    assert moved["objects"] == predicted["objects"]
    reported = set(moved["objects"])
    for plural, name in after:
        kind = after[(plural, name)]["kind"]
        assert "%s/%s/%s" % (kind, NAMESPACE, name) in reported, (kind, name, sorted(reported))
    assert moved["counts"]["Cluster"] == 1 and moved["counts"]["Machine"] == 2

    # The source keeps none of them.
    assert objects_by_name(source) == {}

    # A second run finds nothing to move: no change, no backup, no request by clusterctl on either side.
    source_mark, target_mark = source.mark(), target.mark()
    again, raw = pivot(ansible_env, source, target, backup_dir)
    assert playbook_runs.changed_total(again) == 0, raw[-5000:]
    second = playbook_runs.task_results(again, MOVE_TASK)[0]
    assert second["changed"] is False and second["objects"] == []
    assert playbook_runs.task_results(again, BACKUP_TASK)[0]["changed"] is False
    assert len([d for d in backup_dir.iterdir() if d.name.startswith("before-pivot-")]) == 1
    assert source.count_writes("clusterctl/", since=source_mark) == 0
    assert target.count_writes("clusterctl/", since=target_mark) == 0
    assert {k: o["metadata"]["uid"] for k, o in objects_by_name(target).items()} == {
        k: o["metadata"]["uid"] for k, o in after.items()}
