# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""A whole workload cluster lifecycle on the embedded management cluster (in-memory backend).

Create (1 control plane, 1 worker) -> Available; every listening socket of the started processes
is on loopback; clusterctl describes it; scale workers to 2; upgrade one minor (every Machine is
replaced); delete (no object of any CAPI or provider kind, found by API discovery, is left).
"""

from __future__ import annotations

import json
import time

import helpers
import proc_helpers

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.embedded import registry

NAMESPACE = "e2e-lifecycle"
NAME = "lifecycle"

# Limits: about 3x what was seen on 2 cores (create 56 s, scale 26 s, upgrade 119 s, delete 15 s).
CREATE_TIMEOUT = 240
SCALE_TIMEOUT = 120
UPGRADE_TIMEOUT = 420
DELETE_TIMEOUT = 120

# Kinds the in-memory cluster has objects of: the discovery below must see each of them before
# the delete (otherwise "none left" would prove nothing).
EXPECTED_BEFORE_DELETE = ("Cluster.cluster.x-k8s.io", "Machine.cluster.x-k8s.io", "MachineSet.cluster.x-k8s.io",
                          "MachineDeployment.cluster.x-k8s.io", "KubeadmControlPlane.controlplane.cluster.x-k8s.io",
                          "KubeadmConfig.bootstrap.cluster.x-k8s.io", "DevCluster.infrastructure.cluster.x-k8s.io",
                          "DevMachine.infrastructure.cluster.x-k8s.io", "Secret")


def test_cluster_lifecycle(management_cluster):
    mc = management_cluster
    old_version, new_version = pins.WORKLOAD_KUBERNETES_VERSIONS[0], pins.WORKLOAD_KUBERNETES_VERSIONS[1]
    helpers.apply_fixture_class(mc, NAMESPACE)
    timings = {}

    # Create: 1 control plane + 1 worker.
    start = time.time()
    mc.kubectl("apply", "--server-side", "--field-manager=scs-kaas-e2e", "-f", "-",
               input=helpers.fixture_cluster(NAMESPACE, NAME, old_version, 1))
    helpers.wait_for("Cluster Available", lambda: helpers.cluster_available(mc, NAMESPACE, NAME)
                     and helpers.machines_running(mc, NAMESPACE, NAME, 2, old_version), CREATE_TIMEOUT, 1, mc.diagnostics)
    timings["create"] = time.time() - start

    # Every listening socket of every process start() started is on loopback (incl. CAPD's
    # in-memory listeners: debug port 19000 and the workload cluster's port from 20000 up).
    pids = proc_helpers.descendants(mc.started_pids().values())
    ours = [e for e in proc_helpers.listeners() if any(pid in pids for _n, pid in e["processes"])]
    ports = sorted(e["port"] for e in ours)
    assert registry.INMEMORY_DEBUG_PORT in ports, ports
    assert any(p >= registry.INMEMORY_MIN_PORT for p in ports), ports
    assert mc.ports["kube_apiserver"] in ports and mc.ports["capi_webhook"] in ports, ports
    exposed = [e["line"] for e in ours if e["address"] not in ("127.0.0.1", "::1")]
    assert not exposed, "listening beyond loopback:\n" + "\n".join(exposed)

    # The workload cluster's kubeconfig points at the in-memory endpoint on 127.0.0.1.
    cluster = helpers.get_cluster(mc, NAMESPACE, NAME)
    assert cluster["spec"]["controlPlaneEndpoint"]["host"] == "127.0.0.1"

    # clusterctl reads the management cluster.
    described = mc.clusterctl("describe", "cluster", NAME, "-n", NAMESPACE).stdout
    line = [x for x in described.splitlines() if x.startswith("Cluster ")]
    assert line and "%s/%s" % (NAMESPACE, NAME) in line[0] and " True " in line[0], described
    assert "KubeadmControlPlane %s/" % NAMESPACE in described and "MachineDeployment %s/" % NAMESPACE in described

    # Scale workers to 2.
    start = time.time()
    mc.kubectl("patch", "cluster", NAME, "-n", NAMESPACE, "--type=json", "-p",
               json.dumps([{"op": "replace", "path": "/spec/topology/workers/machineDeployments/0/replicas", "value": 2}]))
    helpers.wait_for("3 machines Running", lambda: helpers.cluster_available(mc, NAMESPACE, NAME)
                     and helpers.machines_running(mc, NAMESPACE, NAME, 3, old_version), SCALE_TIMEOUT, 1, mc.diagnostics)
    timings["scale"] = time.time() - start

    # Upgrade one minor: every Machine is replaced.
    before = set(m["metadata"]["name"] for m in helpers.machines(mc, NAMESPACE, NAME))
    start = time.time()
    mc.kubectl("patch", "cluster", NAME, "-n", NAMESPACE, "--type=merge", "-p",
               json.dumps({"spec": {"topology": {"version": new_version}}}))

    def upgraded():
        items = helpers.machines_running(mc, NAMESPACE, NAME, 3, new_version)
        if not items or set(m["metadata"]["name"] for m in items) & before:
            return False
        cluster = helpers.get_cluster(mc, NAMESPACE, NAME)
        rolling = helpers.condition(cluster, "RollingOut")
        return helpers.cluster_available(mc, NAMESPACE, NAME) and (rolling is None or rolling["status"] == "False")

    helpers.wait_for("every machine replaced by %s" % new_version, upgraded, UPGRADE_TIMEOUT, 2, mc.diagnostics)
    timings["upgrade"] = time.time() - start

    # Delete: the Cluster and everything that belongs to it go away, for every kind of the CAPI and
    # provider groups the API server serves (found by discovery, not listed here).
    kinds = helpers.capi_kinds(mc)
    before = helpers.cluster_objects(mc, NAMESPACE, NAME, kinds)
    seen = {entry.split("/", 1)[0] for entry in before}
    assert set(EXPECTED_BEFORE_DELETE) <= seen, (sorted(seen), kinds)
    start = time.time()
    mc.kubectl("delete", "cluster", NAME, "-n", NAMESPACE, "--wait=false")
    left = []

    def gone():
        left[:] = helpers.cluster_objects(mc, NAMESPACE, NAME, kinds)
        return not left

    helpers.wait_for("every object of the cluster deleted", gone, DELETE_TIMEOUT, 1,
                     lambda: "left: %s\n%s" % (left, mc.diagnostics()))
    timings["delete"] = time.time() - start
    mc.kubectl("delete", "namespace", NAMESPACE, "--wait=true", timeout=120)
    print("lifecycle timings (s): " + ", ".join("%s=%.1f" % kv for kv in timings.items()))
