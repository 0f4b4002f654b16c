# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Every invalid workload cluster input fails with its message and causes zero writes.

One playbook run with one inventory host per invalid spec (the role reconciles the play at
once); the module's result per host is captured and checked, and the kube-apiserver audit log
must show no mutating request from the modules' user agent during the run. Upgrade rules are
checked against a real existing Cluster (created without waiting).
"""

from __future__ import annotations

import json

import pytest

import helpers
import workload_helpers as wh

NAMESPACE = "wl-validation"
BASE = {"kubernetes_version": "v1.34.4", "control_plane": {"replicas": 1},
        "node_groups": [{"name": "md-0", "replicas": 1}]}


def _spec(**changes):
    spec = json.loads(json.dumps(BASE))
    spec.update(changes)
    return spec


# host -> (spec, expected substrings of its error message: variable, value, what is valid)
CASES = {
    "bad-name": (_spec(name="Bad_Name"), ["workload_cluster.name: 'Bad_Name'", "RFC 1123"]),
    "unknown-class": (_spec(**{"class": "scs-inmemory-1-34-v9"}),
                      ["workload_cluster.class: 'scs-inmemory-1-34-v9' does not exist", "scs-inmemory-1-34-v1"]),
    "unknown-variable": (_spec(variables={"noSuchVariable": 1}),
                         ["workload_cluster.variables.noSuchVariable: 'noSuchVariable' is not a variable", "known variables:"]),
    "malformed-version": (_spec(kubernetes_version="1.34.4-rc.1"),
                          ["workload_cluster.kubernetes_version: '1.34.4-rc.1'", "expected v1.34.2"]),
    "out-of-range": (_spec(kubernetes_version="v1.38.0"), ["workload_cluster.kubernetes_version: 'v1.38.0'", "1.31 .. 1.37"]),
    "even-cp": (_spec(control_plane={"replicas": 2}), ["workload_cluster.control_plane.replicas: 2", "odd number"]),
    "zero-cp": (_spec(control_plane={"replicas": 0}), ["workload_cluster.control_plane.replicas: 0", "odd number"]),
    "cidr-overlap": (_spec(network={"pods": ["10.96.0.0/16"], "services": ["10.96.0.0/12"]}),
                     ["workload_cluster.network.services: '10.96.0.0/12' overlaps", "disjoint"]),
    "node-cidr-overlap": (_spec(network={"pods": ["10.244.0.0/16"], "services": ["10.96.0.0/12"], "nodes": "10.244.8.0/24"}),
                          ["workload_cluster.network.nodes: '10.244.8.0/24' overlaps", "disjoint"]),
    "min-gt-max": (_spec(node_groups=[{"name": "md-0", "autoscaler": {"min": 5, "max": 2}}]),
                   ["workload_cluster.node_groups[0].autoscaler.min: 5", "min must be <= max"]),
    "dup-groups": (_spec(node_groups=[{"name": "md-0"}, {"name": "md-0"}]),
                   ["workload_cluster.node_groups[1].name: 'md-0' duplicates", "unique"]),
    "skip-minor": (_spec(name="existing-1", kubernetes_version="v1.36.5"),
                   ["workload_cluster.kubernetes_version: 'v1.34.4' -> 'v1.36.5' skips 1 minor", "1.35.x"]),
    "downgrade": (_spec(name="existing-2", kubernetes_version="v1.34.2"),
                  ["workload_cluster.kubernetes_version: 'v1.34.4' -> 'v1.34.2' is a downgrade"]),
}


@pytest.fixture(scope="module")
def lab(management_cluster, ansible_env, tmp_path_factory):
    directory = tmp_path_factory.mktemp("wl-validation")
    mc = management_cluster
    inventory = wh.write_inventory(str(directory / "hosts.yml"), mc.kubeconfig,
                                   {"existing-1": BASE, "existing-2": BASE}, {"infrastructure": "inmemory", "namespace": NAMESPACE})
    wh.install_classes(ansible_env, inventory, NAMESPACE)
    proc, recap = wh.run_playbook(ansible_env, inventory, "clusters.yml", {"workload_cluster_wait": False})
    assert proc.returncode == 0, proc.stdout[-5000:]
    yield {"mc": mc, "env": ansible_env, "dir": directory}
    proc, recap = wh.run_playbook(ansible_env, inventory, "delete.yml")
    assert proc.returncode == 0, proc.stdout[-5000:]


def test_every_invalid_input_fails_with_its_message_and_no_write(lab):
    mc, directory = lab["mc"], lab["dir"]
    hosts = {host: case[0] for host, case in CASES.items()}
    inventory = wh.write_inventory(str(directory / "invalid.yml"), mc.kubeconfig, hosts,
                                   {"infrastructure": "inmemory", "namespace": NAMESPACE})
    capture = str(directory / "result.json")
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], inventory, wh.capture_playbook(str(directory)),
                                  {"capture_file": capture})
    writes = mc.writes(wh.OUR_AGENT, marker)
    assert writes == [], writes
    with open(capture) as handle:
        result = json.load(handle)
    for host, (_spec_, needles) in CASES.items():
        entry = result["clusters"][host]
        assert entry["failed"] is True, (host, entry)
        for needle in needles:
            assert needle in entry["msg"], (host, needle, entry["msg"])
        assert recap[host]["failed"] == 0  # rescued by the capture playbook; the role task itself failed
    assert proc.stdout.count("fatal: [") >= len(CASES), proc.stdout[-5000:]
    # the existing cluster is untouched
    for name in ("existing-1", "existing-2"):
        assert helpers.get_cluster(mc, NAMESPACE, name)["spec"]["topology"]["version"] == "v1.34.4"


def test_webhook_rejection_is_caught_by_the_dry_run_without_a_write(lab):
    """A variable value the class schema refuses: only the server can tell; the dry run does."""
    mc, directory = lab["mc"], lab["dir"]
    spec = _spec(name="bad-value", control_plane={"replicas": 1, "variables": {"nodeLabels": ["not", "a", "map"]}})
    inventory = wh.write_inventory(str(directory / "webhook.yml"), mc.kubeconfig, {"bad-value": spec},
                                   {"infrastructure": "inmemory", "namespace": NAMESPACE})
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], inventory, "clusters.yml")
    assert proc.returncode != 0
    assert "server-side dry run, nothing written" in proc.stdout
    assert "nodeLabels" in proc.stdout
    assert mc.writes(wh.OUR_AGENT, marker) == []
    assert mc.kubectl("get", "cluster", "-n", NAMESPACE, "bad-value", check=False).returncode != 0
