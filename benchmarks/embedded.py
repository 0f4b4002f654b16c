# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Benchmark of the embedded management cluster (a script, not a test).

Measures, on this machine:
  * ensure_binaries() with a warm cache,
  * cold start (new state dir: PKI, empty etcd, CRDs; binaries cached) and warm start (components
    stopped, state dir and binaries kept), ``--runs`` times each (median reported, with the load
    average at each figure). A start counts as done when every component is healthy AND a
    server-side dry-run create of a Cluster and of each infrastructure object passes every
    webhook; the runtime's own per-step timings are reported as medians too,
  * a workload cluster on the in-memory backend: create (1 CP + 1 worker) to Available, scale
    workers 1 -> 2, upgrade one minor (every machine replaced), delete (every owned object gone),
  * peak RSS (VmHWM from /proc/<pid>/status) of every process the runtime started,
and prints a table. The in-memory backend binds fixed ports (19000, 20000+), so run it in a
private network namespace when anything else may use them:

    unshare --net bash -c 'ip link set lo up && .venv/bin/python benchmarks/embedded.py'

``--optional-providers openstack`` runs CAPO and ORC too (built first if the cache lacks them);
"started" then also needs dry-run creates of an OpenStackCluster and an OpenStackMachine to pass
CAPO's webhooks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "e2e"))

import helpers  # noqa: E402

helpers.ensure_collection_path()

import proc_helpers  # noqa: E402
from ansible_collections.scs.kaas.plugins.module_utils import pins  # noqa: E402

NAMESPACE = "bench"
NAME = "bench"


def timed(label, results, fn):
    start = time.time()
    value = fn()
    results.append((label, time.time() - start))
    print("%-44s %8.1f s" % (label, results[-1][1]), flush=True)
    return value


# Objects a "started" cluster must admit: server-side dry-run creates through every webhook.
ADMISSION_PROBES = (
    ("cluster.x-k8s.io", "v1beta2", "clusters", {
        "kind": "Cluster", "spec": {"clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]}},
                                    "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io",
                                                          "kind": "DevCluster", "name": "bench-probe"}}}),
    ("infrastructure.cluster.x-k8s.io", "v1beta2", "devclusters", {
        "kind": "DevCluster", "spec": {"backend": {"inMemory": {}}}}),
    ("infrastructure.cluster.x-k8s.io", "v1beta2", "devmachines", {
        "kind": "DevMachine", "spec": {"backend": {"inMemory": {}}}}),
    ("infrastructure.cluster.x-k8s.io", "v1beta2", "devclustertemplates", {
        "kind": "DevClusterTemplate", "spec": {"template": {"spec": {"backend": {"inMemory": {}}}}}}),
    ("infrastructure.cluster.x-k8s.io", "v1beta2", "devmachinetemplates", {
        "kind": "DevMachineTemplate", "spec": {"template": {"spec": {"backend": {"inMemory": {}}}}}}),
)


# With the openstack providers switched on: CAPO's v1beta1 objects through its webhooks.
OPENSTACK_PROBES = (
    ("infrastructure.cluster.x-k8s.io", "v1beta1", "openstackclusters", {
        "kind": "OpenStackCluster", "spec": {"identityRef": {"type": "Secret", "name": "bench", "cloudName": "openstack"}}}),
    ("infrastructure.cluster.x-k8s.io", "v1beta1", "openstackmachines", {
        "kind": "OpenStackMachine", "spec": {"flavor": "bench", "image": {"filter": {"name": "bench"}}}}),
)
OPTIONAL = {"providers": None}


def admission_passes(mc):
    """True when a dry-run create of every probe object passes all webhooks."""
    from kubernetes import client as k8s_client

    api = k8s_client.CustomObjectsApi(mc.api_client())
    probes = ADMISSION_PROBES + (OPENSTACK_PROBES if OPTIONAL["providers"] else ())
    for group, version, plural, body in probes:
        obj = dict(body, apiVersion="%s/%s" % (group, version), metadata={"name": "bench-probe"})
        try:
            api.create_namespaced_custom_object(group, version, "default", plural, obj, dry_run="All",
                                                _request_timeout=10)
        except Exception as exc:  # noqa: BLE001 - webhook not reachable yet, CRD not served yet
            if getattr(exc, "status", None) == 422:  # invalid probe object: waiting would not help
                raise
            return False
    return True


def started(mc):
    """Start, then wait until the admission probes pass; returns the start result."""
    result = mc.start()
    helpers.wait_for("admission probes", lambda: admission_passes(mc), 300, 0.05, mc.diagnostics)
    return result


def load():
    return "%.2f %.2f %.2f" % os.getloadavg()


def measure_starts(build, runs):
    """``runs`` x (cold start, stop, warm start, stop): figures with load and runtime steps."""
    figures = {"cold": [], "warm": []}
    steps = {"cold": [], "warm": []}
    for run in range(runs):
        state_dir = tempfile.mkdtemp(prefix="scs-kaas-bench-")
        mc = helpers.ManagementCluster(state_dir, build, optional_providers=OPTIONAL["providers"])
        try:
            for kind in ("cold", "warm"):
                t0 = time.time()
                result = started(mc)
                secs = time.time() - t0
                figures[kind].append((secs, load()))
                steps[kind].append(result.get("timings") or {})
                print("run %d %s start -> started: %6.1f s  (load %s)  steps %s"
                      % (run + 1, kind, secs, figures[kind][-1][1], json.dumps(result.get("timings"))), flush=True)
                mc.stop()
        finally:
            mc.stop()
            left = mc.leftover_processes()
            shutil.rmtree(state_dir, ignore_errors=True)
        if left:
            raise RuntimeError("processes left after stop: %r" % left)
    return figures, steps


def report_starts(figures, steps):
    print()
    print("%-6s %10s %10s %10s   %s" % ("start", "median s", "min s", "max s", "load (1/5/15 min) per run"))
    for kind in ("cold", "warm"):
        secs = [s for s, _l in figures[kind]]
        loads = " | ".join(load for _secs, load in figures[kind])
        print("%-6s %10.1f %10.1f %10.1f   %s" % (kind, statistics.median(secs), min(secs), max(secs), loads))
    for kind in ("cold", "warm"):
        keys = []
        for entry in steps[kind]:
            keys.extend(k for k in entry if k not in keys)
        print()
        print("%s start, runtime steps (median s over runs)" % kind)
        for key in keys:
            values = [e[key] for e in steps[kind] if isinstance(e.get(key), (int, float))]
            if values:
                print("  %-40s %8.2f" % (key, statistics.median(values)))


def lifecycle(mc, results):
    old, new = pins.WORKLOAD_KUBERNETES_VERSIONS[0], pins.WORKLOAD_KUBERNETES_VERSIONS[1]
    helpers.apply_fixture_class(mc, NAMESPACE)

    def create():
        mc.kubectl("apply", "--server-side", "--field-manager=scs-kaas-bench", "-f", "-",
                   input=helpers.fixture_cluster(NAMESPACE, NAME, old, 1))
        helpers.wait_for("Available", lambda: helpers.cluster_available(mc, NAMESPACE, NAME)
                         and helpers.machines_running(mc, NAMESPACE, NAME, 2, old), 300, 0.5, mc.diagnostics)

    def scale():
        mc.kubectl("patch", "cluster", NAME, "-n", NAMESPACE, "--type=json", "-p", json.dumps(
            [{"op": "replace", "path": "/spec/topology/workers/machineDeployments/0/replicas", "value": 2}]))
        helpers.wait_for("scaled", lambda: helpers.cluster_available(mc, NAMESPACE, NAME)
                         and helpers.machines_running(mc, NAMESPACE, NAME, 3, old), 180, 0.5, mc.diagnostics)

    def upgrade():
        before = set(m["metadata"]["name"] for m in helpers.machines(mc, NAMESPACE, NAME))
        mc.kubectl("patch", "cluster", NAME, "-n", NAMESPACE, "--type=merge", "-p",
                   json.dumps({"spec": {"topology": {"version": new}}}))

        def done():
            items = helpers.machines_running(mc, NAMESPACE, NAME, 3, new)
            if not items or set(m["metadata"]["name"] for m in items) & before:
                return False
            rolling = helpers.condition(helpers.get_cluster(mc, NAMESPACE, NAME), "RollingOut")
            return helpers.cluster_available(mc, NAMESPACE, NAME) and (rolling is None or rolling["status"] == "False")

        helpers.wait_for("upgraded", done, 600, 0.5, mc.diagnostics)

    def delete():
        mc.kubectl("delete", "cluster", NAME, "-n", NAMESPACE, "--wait=false")
        api = mc.custom_objects()

        def gone():
            for plural in ("clusters", "machines", "machinesets", "machinedeployments"):
                if api.list_namespaced_custom_object("cluster.x-k8s.io", "v1beta2", NAMESPACE, plural)["items"]:
                    return False
            for group, plural in (("controlplane.cluster.x-k8s.io", "kubeadmcontrolplanes"),
                                  ("infrastructure.cluster.x-k8s.io", "devmachines"),
                                  ("infrastructure.cluster.x-k8s.io", "devclusters")):
                if api.list_namespaced_custom_object(group, "v1beta2", NAMESPACE, plural)["items"]:
                    return False
            return True

        helpers.wait_for("deleted", gone, 180, 0.5, mc.diagnostics)

    timed("create 1 CP + 1 worker -> Available", results, create)
    timed("scale workers 1 -> 2", results, scale)
    timed("upgrade %s -> %s (all machines replaced)" % (old, new), results, upgrade)
    timed("delete (every owned object gone)", results, delete)


def main():
    helpers.enter_private_netns()  # its own management cluster: never beside another one
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", help="state directory (default: a new temporary one, removed afterwards)")
    parser.add_argument("--skip-lifecycle", action="store_true", help="only measure starts")
    parser.add_argument("--runs", type=int, default=5,
                        help="cold and warm starts to measure (median reported; default 5; 0 skips)")
    parser.add_argument("--optional-providers", action="append", choices=["openstack"],
                        help="run these optional providers too (CAPO and ORC for openstack)")
    parser.add_argument("--only-starts", action="store_true",
                        help="stop after the --runs starts (no single run, lifecycle or memory table)")
    args = parser.parse_args()
    OPTIONAL["providers"] = args.optional_providers

    results = []
    print("load at begin: %s" % load(), flush=True)
    build = timed("ensure_binaries (warm cache)", results, lambda: helpers.ensure_binaries(
        log=lambda m: None, optional_providers=args.optional_providers))
    if build.get("built"):
        print("note: ensure_binaries built %s: the cache was not warm" % build["built"])
    if args.runs > 0:
        figures, steps = measure_starts(build, args.runs)
        report_starts(figures, steps)
        if args.only_starts:
            return 0
    state_dir = args.state_dir or tempfile.mkdtemp(prefix="scs-kaas-bench-")
    mc = helpers.ManagementCluster(state_dir, build, optional_providers=args.optional_providers)
    peaks = {}
    try:
        timed("cold start (new state dir) -> started", results, lambda: started(mc))
        timed("stop", results, mc.stop)
        timed("warm start (existing state dir) -> started", results, lambda: started(mc))
        print("warm start steps: %s" % json.dumps(mc.last_start["timings"]), flush=True)
        timed("second start (no-op)", results, mc.start)
        if not args.skip_lifecycle:
            lifecycle(mc, results)
        for name, pid in sorted(mc.started_pids().items()):
            peaks[name] = (proc_helpers.proc_status_kb(pid, "VmHWM"), proc_helpers.proc_status_kb(pid, "VmRSS"))
        print("load at end: %s" % load(), flush=True)
    finally:
        mc.stop()
        left = mc.leftover_processes()
        if not args.state_dir:
            shutil.rmtree(state_dir, ignore_errors=True)
    print()
    print("%-44s %10s" % ("step", "seconds"))
    for label, secs in results:
        print("%-44s %10.1f" % (label, secs))
    print()
    print("%-32s %14s %14s" % ("process", "peak RSS (MB)", "RSS end (MB)"))
    for name, (hwm, rss) in peaks.items():
        print("%-32s %14.0f %14.0f" % (name, (hwm or 0) / 1024.0, (rss or 0) / 1024.0))
    print("%-32s %14.0f" % ("sum of peaks", sum((h or 0) for h, _r in peaks.values()) / 1024.0))
    if left:
        print("ERROR: processes left after stop: %r" % left)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
