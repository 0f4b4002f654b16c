# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The collection's requests per lifecycle step stay within the budget of ``request_budget.py``:
three in-memory clusters created (with the wait), reconciled again, scaled, upgraded one minor and
deleted, each step's requests counted from the management cluster's audit log by user agent.

The counts are deterministic (one batch, one LIST per kind and namespace, one watch per wait), so the
budget is exact enough to catch a request per cluster more. The tests run in order and share the
clusters.
"""

from __future__ import annotations

import json

import pytest

import request_budget
import workload_helpers as wh

CLUSTERS = 3
NAMESPACE = "wl-budget"
FROM_VERSION, TO_VERSION = "v1.35.4", "v1.36.5"
DEFAULTS = {"infrastructure": "inmemory", "namespace": NAMESPACE}


def _specs(version=FROM_VERSION):
    return {"budget-%d" % i: {"kubernetes_version": version, "control_plane": {"replicas": 1},
                              "node_groups": [{"name": "md-0", "replicas": 1}]} for i in range(CLUSTERS)}


@pytest.fixture(scope="module")
def lab(management_cluster, ansible_env, tmp_path_factory):
    directory = tmp_path_factory.mktemp("wl-budget")
    inventory = wh.write_inventory(str(directory / "hosts.yml"), management_cluster.kubeconfig, _specs(), DEFAULTS)
    wh.install_classes(ansible_env, inventory, NAMESPACE)
    return {"mc": management_cluster, "env": ansible_env, "inventory": inventory, "dir": directory}


def _step(lab, step, playbook, inventory=None, extra_vars=None):
    mc = lab["mc"]
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], inventory or lab["inventory"], playbook, extra_vars)
    assert proc.returncode == 0, proc.stdout[-6000:]
    counted, detail = request_budget.count(mc.audit_events(marker))
    print("%s: %s (budget %s)\n%s" % (step, json.dumps(counted), json.dumps(request_budget.allowed(step, CLUSTERS)),
                                      "\n".join("  %s %s %s: %d" % (k + (n,)) for k, n in sorted(detail.items()))))
    assert request_budget.over_budget(step, CLUSTERS, counted) == {}, (step, counted, detail)
    return recap


def test_create_with_the_wait(lab):
    recap = _step(lab, "create", "clusters.yml")
    assert all(recap[host]["changed"] >= 1 for host in _specs())


def test_a_no_op_run(lab):
    recap = _step(lab, "no-op", "clusters.yml")
    assert all(recap[host]["changed"] == 0 for host in _specs())


def test_scale(lab):
    _step(lab, "scale", "clusters.yml", extra_vars={"workload_cluster_scale": {"md-0": 2}})


def test_upgrade_one_minor(lab):
    target = wh.write_inventory(str(lab["dir"] / "target.yml"), lab["mc"].kubeconfig, _specs(TO_VERSION), DEFAULTS)
    _step(lab, "upgrade", "upgrade.yml", inventory=target, extra_vars={"workload_cluster_scale": {"md-0": 2}})


def test_delete(lab):
    _step(lab, "delete", "delete.yml")
