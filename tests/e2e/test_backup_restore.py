# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Backup with ``clusterctl move --to-directory`` and restore into a fresh embedded cluster.

Both directions run through ``playbooks/backup.yml`` (ansible-playbook), with the clusterctl the
embedded build provides. The restore target is a brand-new embedded management cluster started
after the first one was stopped (fixture ``fresh_management_cluster``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import helpers

helpers.ensure_collection_path()

from ansible_collections.scs.kaas.plugins.module_utils import pins  # noqa: E402

NAMESPACE = "e2e-backup"
NAME = "backup-me"
PLAYBOOK = os.path.join(helpers.REPO_ROOT, "playbooks", "backup.yml")


def run_backup_playbook(ansible_env, **extra):
    args = ["ansible-playbook", "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % sys.executable]
    for key, value in extra.items():
        args += ["-e", "%s=%s" % (key, value)]
    proc = subprocess.run(args + [PLAYBOOK], env=ansible_env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    return proc.stdout


def test_backup_and_restore_into_a_fresh_cluster(management_cluster, ansible_env, tmp_path, request):
    mc = management_cluster
    version = pins.WORKLOAD_KUBERNETES_VERSIONS[0]
    helpers.apply_fixture_class(mc, NAMESPACE)
    mc.kubectl("apply", "--server-side", "--field-manager=scs-kaas-e2e", "-f", "-",
               input=helpers.fixture_cluster(NAMESPACE, NAME, version, 1))
    helpers.wait_for("Cluster %s available" % NAME, lambda: helpers.cluster_available(mc, NAMESPACE, NAME),
                     240, 2, mc.diagnostics)
    source = helpers.get_cluster(mc, NAMESPACE, NAME)
    source_machines = {m["metadata"]["name"] for m in helpers.machines(mc, NAMESPACE, NAME)}
    backup_dir = tmp_path / "backups"
    out = run_backup_playbook(ansible_env, backup_kubeconfig=mc.kubeconfig, backup_dir=str(backup_dir),
                              backup_clusterctl=mc.binaries["clusterctl"], backup_namespace=NAMESPACE)
    written = [d for d in backup_dir.iterdir() if d.name.startswith("backup-")]
    assert len(written) == 1, out
    target = written[0]
    assert oct(target.stat().st_mode & 0o777) == "0o700"
    files = sorted(p.name for p in target.iterdir())
    kinds = set()
    for name in files:
        with open(target / name) as handle:
            kinds.add(json.load(handle)["kind"])
    assert {"Cluster", "ClusterClass", "KubeadmControlPlane", "MachineDeployment", "Machine"} <= kinds, files
    # the source keeps its objects (to-directory copies, it does not move away)
    assert helpers.get_cluster(mc, NAMESPACE, NAME)["metadata"]["uid"] == source["metadata"]["uid"]

    # From here on the session cluster is stopped: only ``fresh`` is asked.
    fresh = request.getfixturevalue("fresh_management_cluster")
    assert fresh.kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0
    fresh.kubectl("create", "namespace", NAMESPACE)
    run_backup_playbook(ansible_env, backup_kubeconfig=fresh.kubeconfig, backup_restore_from=str(target),
                        backup_clusterctl=fresh.binaries["clusterctl"], backup_namespace=NAMESPACE)
    restored = helpers.get_cluster(fresh, NAMESPACE, NAME)
    assert restored["spec"]["topology"]["classRef"]["name"] == source["spec"]["topology"]["classRef"]["name"]
    assert restored["spec"]["topology"]["version"] == version
    assert restored["metadata"]["uid"] != source["metadata"]["uid"]
    names = {m["metadata"]["name"] for m in helpers.machines(fresh, NAMESPACE, NAME)}
    assert names and names == source_machines, (names, source_machines)
    assert fresh.kubectl_json("get", "clusterclass", "-n", NAMESPACE)["items"]


def test_cleanup_backup_cluster(management_cluster):
    mc = management_cluster
    mc.kubectl("delete", "cluster", NAME, "-n", NAMESPACE, "--ignore-not-found", "--wait=true", timeout=300)
