# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Benchmark: converged workload clusters, end to end through ansible-playbook (a script, not a test).

Creates N in-memory workload clusters with playbooks/clusters.yml, waits until they converged,
then measures the wall time of

  * ours:     ansible-playbook playbooks/clusters.yml (role workload_cluster: one run_once
              reconcile of the whole play + a per-host report task), and
  * baseline: a playbook applying the same Cluster objects per host with kubernetes.core.k8s
              (apply: true, server-side apply, no wait),

both with forks 5 and no fact gathering; one warm-up run each, then the median of 5 runs. It also
counts the mutating requests per cluster each run sent (kube-apiserver audit log, by user agent).

Uses its own embedded management cluster (temporary state directory) unless --kubeconfig and
--audit-log point at a running one. The in-memory backend binds fixed ports, so run it in a
private network namespace when anything else may use them:

    unshare --net bash -c 'ip link set lo up && .venv/bin/python benchmarks/workload_clusters.py'
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

import helpers  # noqa: E402
import request_budget  # noqa: E402
import workload_helpers as wh  # noqa: E402

helpers.ensure_collection_path()

from ansible_collections.scs.kaas.plugins.module_utils.capi import topology, validation  # noqa: E402

NAMESPACE = "bench"
# kubernetes.core.k8s has no user agent option: it sends the kubernetes client's default one.
BASELINE_AGENT = "OpenAPI-Generator/"


def specs(count, workers):
    return {"bench-%02d" % i: {"kubernetes_version": "v1.34.4", "control_plane": {"replicas": 1},
                               "node_groups": [{"name": "md-0", "replicas": workers}]}
            for i in range(count)}


def baseline_inventory(path, kubeconfig, hosts):
    """Same hosts, each with the Cluster object our builder makes (what the baseline applies)."""
    import yaml

    objects = {}
    for host, raw in hosts.items():
        spec, errors = validation.normalize_spec(dict(raw, name=host, infrastructure="inmemory", namespace=NAMESPACE))
        assert not errors, errors
        objects[host] = {"cluster_object": topology.build_cluster(spec)}
    inventory = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                                  "bench_kubeconfig": kubeconfig},
                         "children": {"workload_clusters": {"hosts": objects}}}}
    with open(path, "w") as handle:
        yaml.safe_dump(inventory, handle)


BASELINE_PLAYBOOK = """---
- name: Baseline - apply the Cluster objects with kubernetes.core.k8s
  hosts: workload_clusters
  gather_facts: false
  tasks:
    - name: Apply the Cluster (server-side apply, no wait)
      kubernetes.core.k8s:
        kubeconfig: "{{ bench_kubeconfig }}"
        state: present
        apply: true
        server_side_apply:
          field_manager: scs.kaas
          force_conflicts: true
        definition: "{{ cluster_object }}"
        wait: false
"""


def timed_run(cmd, env):
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit("command failed (rc=%d): %s\n%s" % (proc.returncode, " ".join(cmd), proc.stdout[-5000:]))
    return elapsed, proc.stdout


def measure(label, cmd, env, audit, agent, count, runs):
    print("\n%s:\n  %s" % (label, " ".join(shlex.quote(c) for c in cmd)), flush=True)
    elapsed, _out = timed_run(cmd, env)
    print("  warm-up            %6.2f s" % elapsed, flush=True)
    times, writes, requests = [], [], []
    for i in range(runs):
        marker = audit.mark()
        elapsed, out = timed_run(cmd, env)
        times.append(elapsed)
        # every request of the run by kind (read, watch, dry-run, write: request_budget.py)
        requests.append(request_budget.count(audit.audit_events(marker), agent)[0])
        events = audit.writes("", marker)
        writes.append(len([e for e in events if (e.get("userAgent") or "").startswith(agent)]))
        writers = sorted({(e.get("userAgent") or "?").split(" ")[0] for e in events
                          if (e.get("objectRef") or {}).get("resource") == "clusters"
                          and not (e.get("objectRef") or {}).get("subresource")
                          and "manager/" not in (e.get("userAgent") or "")})
        print("  run %d              %6.2f s   writes %d   requests %s   (non-controller writers of Clusters: %s)"
              % (i + 1, elapsed, writes[-1], json.dumps(requests[-1]), ", ".join(writers) or "none"), flush=True)
    return {"command": cmd, "times": times, "median": statistics.median(times), "writes": writes,
            "writes_per_cluster": statistics.median(writes) / float(count), "requests": requests}


def main():
    if not any(arg.startswith("--kubeconfig") for arg in sys.argv[1:]):
        helpers.enter_private_netns()  # its own management cluster: never beside another one
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="workers per cluster (1 control plane each)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--forks", type=int, default=5)
    parser.add_argument("--kubeconfig", help="use a running management cluster (needs --audit-log)")
    parser.add_argument("--audit-log", help="its kube-apiserver audit log")
    parser.add_argument("--output", default=os.path.join(HERE, "results", "workload_clusters.json"))
    args = parser.parse_args()

    mc = None
    workdir = tempfile.mkdtemp(prefix="scs-kaas-bench-wl-")
    if args.kubeconfig:
        if not args.audit_log:
            parser.error("--kubeconfig needs --audit-log")
        kubeconfig, audit = args.kubeconfig, helpers.AuditLog(args.audit_log, args.kubeconfig)
    else:
        print("starting an embedded management cluster in %s ..." % workdir, flush=True)
        mc = helpers.ManagementCluster(os.path.join(workdir, "embedded"), helpers.ensure_binaries())
        mc.start()
        kubeconfig, audit = mc.kubeconfig, mc
    try:
        env = helpers.ansible_environment(helpers.ensure_collection_path(),
                                          kubectl=mc.binaries["kubectl"] if mc else None)
        hosts = specs(args.clusters, args.workers)
        inventory = wh.write_inventory(os.path.join(workdir, "hosts.yml"), kubeconfig, hosts,
                                       {"infrastructure": "inmemory", "namespace": NAMESPACE})
        wh.install_classes(env, inventory, NAMESPACE)
        print("creating %d clusters (1 control plane + %d workers each) and waiting until they converged ..."
              % (args.clusters, args.workers), flush=True)
        start, marker = time.monotonic(), audit.mark()
        proc, recap = wh.run_playbook(env, inventory, "clusters.yml", {"workload_cluster_wait_timeout": 1800},
                                      args=["-f", str(args.forks)], timeout=3600)
        if proc.returncode != 0:
            raise SystemExit("creating the clusters failed:\n%s" % proc.stdout[-8000:])
        create_requests = request_budget.count(audit.audit_events(marker))[0]
        print("  converged after %.0f s; requests %s (budget %s)" % (
            time.monotonic() - start, json.dumps(create_requests),
            json.dumps(request_budget.allowed("create", args.clusters))), flush=True)

        playbook_bin = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        ours_cmd = [playbook_bin, "-i", inventory, os.path.join(REPO, "playbooks", "clusters.yml"), "-f", str(args.forks)]
        base_inv = os.path.join(workdir, "baseline-hosts.yml")
        baseline_inventory(base_inv, kubeconfig, hosts)
        base_book = os.path.join(workdir, "baseline.yml")
        with open(base_book, "w") as handle:
            handle.write(BASELINE_PLAYBOOK)
        base_cmd = [playbook_bin, "-i", base_inv, base_book, "-f", str(args.forks)]

        ours = measure("ours (scs.kaas role workload_cluster)", ours_cmd, env, audit, wh.OUR_AGENT,
                       args.clusters, args.runs)
        base = measure("baseline (kubernetes.core.k8s, server-side apply)", base_cmd, env, audit, BASELINE_AGENT,
                       args.clusters, args.runs)
        # the baseline re-applied identical objects: ours must still see a converged, unchanged state
        final, _out = timed_run(ours_cmd, env)
        speedup = base["median"] / ours["median"]
        print("\nresult (N=%d clusters, forks %d, median of %d runs after a warm-up):" % (args.clusters, args.forks, args.runs))
        print("  %-10s %8s %24s" % ("", "median", "mutating requests/cluster"))
        print("  %-10s %7.2fs %24.2f" % ("ours", ours["median"], ours["writes_per_cluster"]))
        print("  %-10s %7.2fs %24.2f" % ("baseline", base["median"], base["writes_per_cluster"]))
        print("  speed-up   %.1fx (target >= 5x with zero writes)" % speedup)
        os.makedirs(os.path.dirname(args.output), exist_ok=True)
        with open(args.output, "w") as handle:
            json.dump({"clusters": args.clusters, "forks": args.forks, "runs": args.runs, "ours": ours,
                       "baseline": base, "speedup": speedup, "create_requests": create_requests,
                       "no_op_budget": request_budget.allowed("no-op", args.clusters)}, handle, indent=2)
        print("  written to %s" % args.output)
    finally:
        if mc is not None:
            mc.stop()


if __name__ == "__main__":
    main()
