# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Backup with ``clusterctl move --to-directory`` and restore into a fresh embedded cluster.

Both directions run through ``playbooks/backup.yml`` (ansible-playbook), which runs clusterctl
through the module ``scs.kaas.clusterctl_move``, with the clusterctl the embedded build provides.
The restore target is a brand-new embedded management cluster started after the first one was
stopped (fixture ``fresh_management_cluster``).
"""

from __future__ import annotations

import json

import helpers
import playbook_runs

helpers.ensure_collection_path()

from ansible_collections.scs.kaas.plugins.module_utils import pins  # noqa: E402

NAMESPACE = "e2e-backup"
NAME = "backup-me"
MOVE_TASK = "Write the backup (clusterctl move --to-directory) or restore it (--from-directory)"


def run_backup_playbook(ansible_env, **extra):
    """Run the playbook; return (the clusterctl_move task's result, raw output)."""
    output, raw = playbook_runs.run_playbook(ansible_env, "backup.yml", **extra)
    results = playbook_runs.task_results(output, MOVE_TASK)
    assert len(results) == 1, raw[-5000:]
    return results[0], raw


def test_the_backup_playbook_runs_clusterctl_only_through_the_module():
    assert playbook_runs.clusterctl_commands("backup.yml") == []
    modules = [t for t in playbook_runs.tasks_of("backup.yml") if "scs.kaas.clusterctl_move" in t]
    assert [t["name"] for t in modules] == [MOVE_TASK]


def test_backup_and_restore_into_a_fresh_cluster(management_cluster, ansible_env, tmp_path, request):
    mc = management_cluster
    version = pins.WORKLOAD_KUBERNETES_VERSIONS[0]
    helpers.create_available_cluster(mc, NAMESPACE, NAME, version)
    source = helpers.get_cluster(mc, NAMESPACE, NAME)
    source_machines = {m["metadata"]["name"] for m in helpers.machines(mc, NAMESPACE, NAME)}
    backup_dir = tmp_path / "backups"
    moved, out = run_backup_playbook(ansible_env, backup_kubeconfig=mc.kubeconfig, backup_dir=str(backup_dir),
                                     backup_clusterctl=mc.binaries["clusterctl"], backup_namespace=NAMESPACE)
    written = [d for d in backup_dir.iterdir() if d.name.startswith("backup-")]
    assert len(written) == 1, out
    assert mc.kubeconfig not in out  # the module keeps kubeconfig paths out of results and logs
    target = written[0]
    assert oct(target.stat().st_mode & 0o777) == "0o700"
    files = sorted(p.name for p in target.iterdir())
    kinds = set()
    refs = []
    for name in files:
        with open(target / name) as handle:
            obj = json.load(handle)
        kinds.add(obj["kind"])
        refs.append("/".join(p for p in (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]) if p))
    assert {"Cluster", "ClusterClass", "KubeadmControlPlane", "MachineDeployment", "Machine"} <= kinds, files
    # the module's result is what the files hold
    assert moved["changed"] is True and moved["directory"] == str(target)
    assert moved["objects"] == sorted(refs)
    assert sum(moved["counts"].values()) == len(files) and set(moved["counts"]) == kinds
    # the source keeps its objects (to-directory copies, it does not move away)
    assert helpers.get_cluster(mc, NAMESPACE, NAME)["metadata"]["uid"] == source["metadata"]["uid"]

    # From here on the session cluster is stopped: only ``fresh`` is asked.
    fresh = request.getfixturevalue("fresh_management_cluster")
    assert fresh.kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0
    fresh.kubectl("create", "namespace", NAMESPACE)
    mark = fresh.mark()
    restore, out = run_backup_playbook(ansible_env, backup_kubeconfig=fresh.kubeconfig, backup_restore_from=str(target),
                                       backup_clusterctl=fresh.binaries["clusterctl"], backup_namespace=NAMESPACE)
    assert fresh.kubeconfig not in out
    # every object of the backup was missing in the fresh cluster: all restored, by clusterctl
    assert restore["changed"] is True and restore["objects"] == sorted(refs)
    assert fresh.count_writes("clusterctl/", since=mark) > 0
    restored = helpers.get_cluster(fresh, NAMESPACE, NAME)
    assert restored["spec"]["topology"]["classRef"]["name"] == source["spec"]["topology"]["classRef"]["name"]
    assert restored["spec"]["topology"]["version"] == version
    assert restored["metadata"]["uid"] != source["metadata"]["uid"]
    names = {m["metadata"]["name"] for m in helpers.machines(fresh, NAMESPACE, NAME)}
    assert names and names == source_machines, (names, source_machines)
    assert fresh.kubectl_json("get", "clusterclass", "-n", NAMESPACE)["items"]

    # Restoring again finds every object in place: no change, clusterctl not run, nothing written.
    mark = fresh.mark()
    again, out = run_backup_playbook(ansible_env, backup_kubeconfig=fresh.kubeconfig, backup_restore_from=str(target),
                                     backup_clusterctl=fresh.binaries["clusterctl"], backup_namespace=NAMESPACE)
    assert again["changed"] is False and again["objects"] == [], out[-3000:]
    assert fresh.count_writes("clusterctl/", since=mark) == 0
    assert helpers.get_cluster(fresh, NAMESPACE, NAME)["metadata"]["uid"] == restored["metadata"]["uid"]


def test_cleanup_backup_cluster(management_cluster):
    mc = management_cluster
    mc.kubectl("delete", "cluster", NAME, "-n", NAMESPACE, "--ignore-not-found", "--wait=true", timeout=300)
