# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""`make demo` as a newcomer runs it, twice on the same machine.

The first run must end with its status table, and the table must say what the live objects say
(read here with the kubernetes client, not from the demo's output), and its audit log must show one
apply of the Cluster per step and no Machine beyond the story's. The second run must report no
change in its play recap and send no write to the management cluster (audit log). Then the
management cluster is stopped as the docs say (a reboot does the same): the in-memory backend keeps
its simulated machines in the provider's process, so the next `make demo` starts capd-manager again,
must say that it waits for the cluster, and must end with the same cluster (same uid) Available; the
run after it again changes nothing. Runs in the
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
_ANY_TABLE_ROW = re.compile(r'^\s*"(\S+\s+\S+\s+scs-\S+\s+v\S+\s+.*)",?$', re.M)


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


def _demo_again_changes_nothing(demo_env, state_dir, which):
    """`make demo` once more: it succeeds, reports no change, writes nothing and prints the table."""
    audit = AuditLog(state_dir)
    since = audit.mark()
    rc, output = run("make demo", demo_env, DEMO_TIMEOUT)
    assert rc == 0, "the %s `make demo` failed (rc=%d):\n%s" % (which, rc, output[-6000:])
    recap = play_recap(output)
    assert recap, "no PLAY RECAP in the %s demo's output:\n%s" % (which, output[-3000:])
    changed = {host: counts["changed"] for host, counts in recap.items() if counts["changed"]}
    assert not changed, "the %s `make demo` reported changes: %s\n%s" % (which, changed, output[-6000:])
    writes = audit.writes(since)
    assert not writes, "the %s `make demo` wrote to the management cluster: %s" % (which, [
        (w["verb"], w["requestURI"]) for w in writes])
    assert _TABLE_ROW.findall(output), "the %s demo printed no status table" % which


def _conditions(obj):
    return {c["type"]: (c["status"], c.get("reason")) for c in (obj.get("status") or {}).get("conditions") or []}


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
    # What it cost (the audit log from the start): one apply of the Cluster per step (create, scale,
    # upgrade), and Machines 1 + 2 created, 1 more by the scale, each of the 4 replaced once.
    audit = AuditLog(demo_state_dir)
    applies = [w["verb"] for w in audit.writes(0) if (w.get("objectRef") or {}).get("resource") == "clusters"
               and w["objectRef"].get("name") == CLUSTER_NAME]
    assert applies == ["patch"] * 3, applies
    created = [w for w in audit.writes(0, user_agent_prefix="") if w.get("verb") in ("create", "patch")
               and (w.get("objectRef") or {}).get("resource") == "machines" and not w["objectRef"].get("subresource")
               and (w.get("responseStatus") or {}).get("code") == 201]
    assert len(created) == 3 + 1 + 4, [w["objectRef"].get("name") for w in created]


def test_second_demo_reports_no_change_and_writes_nothing(first_run, demo_env, demo_state_dir):
    _demo_again_changes_nothing(demo_env, demo_state_dir, "second")


def test_demo_after_a_management_cluster_stop_ends_with_the_same_cluster_available(first_run, demo_env, demo_state_dir):
    from ansible_collections.scs.kaas.plugins.module_utils.embedded import runtime

    old_uid = _live_cluster(demo_state_dir)[0]["metadata"]["uid"]
    # As the docs say it, with the demo's inventory (and so its state directory, named once more).
    rc, output = run(". .venv/bin/activate && ansible-playbook -i inventories/demo playbooks/management.yml"
                     " -e management_cluster_action=stop -e management_cluster_embedded_state_dir=%s" % demo_state_dir,
                     demo_env, DEMO_TIMEOUT)
    assert rc == 0, "stopping the management cluster failed (rc=%d):\n%s" % (rc, output[-6000:])
    assert not runtime.EmbeddedCluster(demo_state_dir).running("capd-manager"), \
        "capd-manager still runs after management.yml -e management_cluster_action=stop:\n%s" % output[-3000:]

    rc, output = run("make demo", demo_env, DEMO_TIMEOUT)
    assert rc == 0, "`make demo` after the stop failed (rc=%d):\n%s" % (rc, output[-6000:])
    cluster, machines = _live_cluster(demo_state_dir)
    rows = _ANY_TABLE_ROW.findall(output[output.rfind("Print the status table"):])
    assert rows, "no status table in the demo output after the stop:\n%s" % output[-3000:]
    not_available = [row for row in rows if row.split()[7] != "True"]
    assert not not_available, "clusters not Available after the stop and `make demo`: %s\ncluster %s, machines %s" % (
        not_available, _conditions(cluster), {m["metadata"]["name"]: _conditions(m) for m in machines})
    assert cluster["metadata"]["uid"] == old_uid, "Cluster %s was replaced (uid %s, was %s)" % (
        CLUSTER_NAME, cluster["metadata"]["uid"], old_uid)
    assert re.search(r"started capd-manager.*\bdefault/%s\b.*waiting until they are Available" % CLUSTER_NAME,
                     output, re.S), \
        "the demo output does not say that it waits for default/%s:\n%s" % (CLUSTER_NAME, output[-6000:])

    _demo_again_changes_nothing(demo_env, demo_state_dir, "next")
