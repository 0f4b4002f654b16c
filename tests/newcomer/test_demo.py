# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""`make demo` as a newcomer runs it, twice on the same machine.

The first run must end with its status table, and the table must say what the live objects say
(read here with the kubernetes client, not from the demo's output). The second run must report no
change in its play recap and send no write to the management cluster (audit log). Runs in the
private network namespace of `make newcomer`, with its own state directory.
"""

from __future__ import annotations

import os
import re

import pytest

from newcomer import AuditLog, clean_environment, play_recap, run

DEMO_TIMEOUT = 1800
CLUSTER_NAME = "demo-1"
_TABLE_ROW = re.compile(r'^\s*"(default\s+%s\s+.*)",?$' % CLUSTER_NAME, re.M)


@pytest.fixture(scope="module")
def demo_state_dir(tmp_path_factory):
    state_dir = str(tmp_path_factory.mktemp("demo-state"))
    yield state_dir
    from ansible_collections.scs.kaas.plugins.module_utils.embedded import runtime

    runtime.EmbeddedCluster(state_dir).stop()


@pytest.fixture(scope="module")
def demo_env(demo_state_dir):
    return clean_environment(SCS_KAAS_DEMO_STATE_DIR=demo_state_dir)


@pytest.fixture(scope="module")
def first_run(demo_env):
    rc, output = run("make demo", demo_env, DEMO_TIMEOUT)
    assert rc == 0, "first `make demo` failed (rc=%d):\n%s" % (rc, output[-6000:])
    return output


def _live_cluster(state_dir):
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

    api = k8s_config.new_client_from_config(config_file=os.path.join(state_dir, "kubeconfig"))
    try:
        objects = k8s_client.CustomObjectsApi(api)
        cluster = objects.get_namespaced_custom_object("cluster.x-k8s.io", "v1beta2", "default", "clusters", CLUSTER_NAME)
        machines = objects.list_namespaced_custom_object(
            "cluster.x-k8s.io", "v1beta2", "default", "machines",
            label_selector="cluster.x-k8s.io/cluster-name=%s" % CLUSTER_NAME)["items"]
    finally:
        api.close()
    return cluster, machines


def test_first_demo_ends_with_a_status_table_that_matches_the_live_cluster(first_run, demo_state_dir):
    rows = _TABLE_ROW.findall(first_run)
    assert rows, "no status table row for %s in the demo output:\n%s" % (CLUSTER_NAME, first_run[-3000:])
    namespace, name, cls, version, cp, workers, machines, available, state = rows[-1].split()
    cluster, live_machines = _live_cluster(demo_state_dir)
    topology = cluster["spec"]["topology"]
    status = cluster.get("status") or {}
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    control_plane = status.get("controlPlane") or {}
    workers_status = status.get("workers") or {}
    assert (namespace, name) == ("default", cluster["metadata"]["name"])
    assert cls == topology["classRef"]["name"]
    assert version == topology["version"]
    assert cp == "%s/%s" % (control_plane.get("availableReplicas"), control_plane.get("desiredReplicas"))
    assert workers == "%s/%s" % (workers_status.get("availableReplicas"), workers_status.get("desiredReplicas"))
    assert int(machines) == len(live_machines)
    assert available == conditions.get("Available")
    # The demo's story: one control plane, the workers scaled up, one minor above the inventory's start.
    assert available == "True" and state == "converged"
    assert all(m["spec"]["version"] == topology["version"] for m in live_machines)


def test_second_demo_reports_no_change_and_writes_nothing(first_run, demo_env, demo_state_dir):
    audit = AuditLog(demo_state_dir)
    since = audit.mark()
    rc, output = run("make demo", demo_env, DEMO_TIMEOUT)
    assert rc == 0, "second `make demo` failed (rc=%d):\n%s" % (rc, output[-6000:])
    recap = play_recap(output)
    assert recap, "no PLAY RECAP in the second demo's output:\n%s" % output[-3000:]
    changed = {host: counts["changed"] for host, counts in recap.items() if counts["changed"]}
    assert not changed, "the second `make demo` reported changes: %s\n%s" % (changed, output[-6000:])
    writes = audit.writes(since)
    assert not writes, "the second `make demo` wrote to the management cluster: %s" % [
        (w["verb"], w["requestURI"]) for w in writes]
    assert _TABLE_ROW.findall(output), "the second demo printed no status table"
