# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Benchmark: a no-op reconcile of a growing fleet of converged clusters (a script, not a test).

One embedded management cluster; the fleet grows through the sizes (default 20, 50, 100, 200
in-memory clusters, each created with playbooks/clusters.yml and its wait). At each size, interleaved
in every round:

  * ours:     ansible-playbook playbooks/clusters.yml as shipped (one module run for the play, a
              report task per host);
  * baseline: kubernetes.core.k8s applying the same Cluster objects, server-side apply, one task
              per host;
  * floor:    the same inventory with a play of no tasks (what ansible-playbook costs by itself);

all with forks 5 and no fact gathering, one warm-up each, then the median of --runs rounds. Then one
Cluster is changed out of band (kubectl strips a label ours sets) and ours runs once more: it must
write that Cluster and nothing else. Reported per size: the medians, the requests by
kind (audit log), the machine's load, and the memory (PSS) of each management cluster component.

Writes JSON (--output) and, with matplotlib installed (requirements/bench.txt; `make bench` installs
it), a PNG of time against fleet size (--plot).

    make bench BENCH=fleet_scale BENCH_ARGS="--sizes 20,50"
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import workload_clusters as wc  # noqa: E402  (helpers, the baseline playbook, request counting)

helpers, wh, request_budget, topology = wc.helpers, wc.wh, wc.request_budget, wc.topology

FLOOR_PLAYBOOK = """---
- name: Floor - the same hosts, no task
  hosts: workload_clusters
  gather_facts: false
  tasks: []
"""


def cpu_times():
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]  # total, idle + iowait


def busy_percent(before, after):
    total, idle = after[0] - before[0], after[1] - before[1]
    return round(100.0 * (total - idle) / total, 1) if total else 0.0


def pss_mib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as handle:
            return round(sum(int(line.split()[1]) for line in handle if line.startswith("Pss:")) / 1024.0)
    except OSError:
        return None


def component_memory(mc):
    pids = mc.started_pids()
    return {name: pss_mib(pid) for name, pid in sorted(pids.items())}


def one_run(cmd, env, audit, agent):
    marker = audit.mark()
    elapsed, _out = wc.timed_run(cmd, env)
    events = audit.audit_events(marker)
    requests = request_budget.count(events, agent)[0] if agent else {}
    return elapsed, requests, events


def out_of_band_change(mc, env, ours_cmd, audit, name):
    """Someone strips a label ours sets from one Cluster (kubectl, another field manager): ours must
    put it back with one write, and write nothing else."""
    mc.kubectl("label", "cluster.cluster.x-k8s.io", name, "-n", wc.NAMESPACE, topology.MANAGED_BY_LABEL + "-")
    elapsed, requests, events = one_run(ours_cmd, env, audit, wh.OUR_AGENT)
    written = sorted({(e["objectRef"].get("resource"), e["objectRef"].get("name"))
                      for e in events if (e.get("userAgent") or "").startswith(wh.OUR_AGENT)
                      and e.get("verb") in ("create", "update", "patch", "delete")
                      and "dryRun=All" not in (e.get("requestURI") or "")})
    return {"seconds": round(elapsed, 2), "requests": requests, "written": written}


def measure_size(mc, env, workdir, size, args, playbook_bin):
    hosts = wc.specs(size, args.workers)
    inventory = wh.write_inventory(os.path.join(workdir, "hosts-%d.yml" % size), mc.kubeconfig, hosts,
                                   {"infrastructure": "inmemory", "namespace": wc.NAMESPACE})
    print("\nN=%d: creating the clusters not there yet and waiting until all converged ..." % size, flush=True)
    started, marker = time.monotonic(), mc.mark()
    proc, _recap = wh.run_playbook(env, inventory, "clusters.yml", {"workload_cluster_wait_timeout": 3600},
                                   args=["-f", str(args.forks)], timeout=5400)
    if proc.returncode != 0:
        raise SystemExit("creating the clusters failed:\n%s" % proc.stdout[-8000:])
    grow = {"seconds": round(time.monotonic() - started, 1),
            "requests": request_budget.count(mc.audit_events(marker))[0]}
    print("  converged after %.0f s" % grow["seconds"], flush=True)

    base_inventory = os.path.join(workdir, "baseline-%d.yml" % size)
    wc.baseline_inventory(base_inventory, mc.kubeconfig, hosts)
    commands = {
        "ours": [playbook_bin, "-i", inventory, os.path.join(wc.REPO, "playbooks", "clusters.yml"), "-f", str(args.forks)],
        "baseline": [playbook_bin, "-i", base_inventory, os.path.join(workdir, "baseline.yml"), "-f", str(args.forks)],
        "floor": [playbook_bin, "-i", inventory, os.path.join(workdir, "floor.yml"), "-f", str(args.forks)],
    }
    agents = {"ours": wh.OUR_AGENT, "baseline": wc.BASELINE_AGENT, "floor": None}
    for label, cmd in commands.items():  # warm-up: caches, bytecode, the API server's watch cache
        wc.timed_run(cmd, env)
    results = {label: {"times": [], "requests": []} for label in commands}
    cpu_before, load_before = cpu_times(), os.getloadavg()[0]
    for round_number in range(args.runs):
        for label, cmd in commands.items():
            elapsed, requests, _events = one_run(cmd, env, mc, agents[label])
            results[label]["times"].append(round(elapsed, 3))
            results[label]["requests"].append(requests)
        print("  round %d: %s" % (round_number + 1, "  ".join(
            "%s %.2f s" % (label, results[label]["times"][-1]) for label in commands)), flush=True)
    busy = busy_percent(cpu_before, cpu_times())
    for label in commands:
        results[label]["median"] = statistics.median(results[label]["times"])
        results[label]["writes"] = [r.get("write", 0) for r in results[label]["requests"]]
    changed = out_of_band_change(mc, env, commands["ours"], mc, "bench-00")
    print("  out-of-band change of bench-00: ours wrote %s in %.2f s" % (changed["written"], changed["seconds"]),
          flush=True)
    entry = {"clusters": size, "grow": grow, "results": results, "out_of_band": changed,
             "speedup": round(results["baseline"]["median"] / results["ours"]["median"], 1),
             "ours_above_floor": round(results["ours"]["median"] - results["floor"]["median"], 2),
             "cpu_busy_percent_during_runs": busy, "load1_before": round(load_before, 2),
             "load1_after": round(os.getloadavg()[0], 2), "memory_pss_mib": component_memory(mc)}
    medians = (results["ours"]["median"], results["baseline"]["median"], entry["speedup"],
               results["floor"]["median"], entry["ours_above_floor"], busy)
    print("  medians: ours %.2f s, baseline %.2f s (%.1fx), floor %.2f s; ours above the floor %.2f s; "
          "CPU busy %.0f%%" % medians, flush=True)
    return entry


def markdown_table(entries):
    """The table docs/benchmarks.md shows, from the measured entries."""
    lines = ["| clusters | ours | kubernetes.core.k8s | empty play | speed-up | ours above the empty play | "
             "ours: writes, requests | out-of-band change: ours wrote | CPU busy |",
             "|---|---|---|---|---|---|---|---|---|"]
    for e in entries:
        r = e["results"]
        requests = r["ours"]["requests"][-1]
        lines.append("| %d | %.2f s | %.2f s | %.2f s | %.1f× | %.2f s | %d, %s | %s | %.0f%% |" % (
            e["clusters"], r["ours"]["median"], r["baseline"]["median"], r["floor"]["median"], e["speedup"],
            e["ours_above_floor"], max(r["ours"]["writes"]), ", ".join("%s %d" % kv for kv in sorted(requests.items())),
            ", ".join("%s %s" % tuple(pair) for pair in e["out_of_band"]["written"]) or "nothing",
            e["cpu_busy_percent_during_runs"]))
    return "\n".join(lines)


def plot(entries, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -r requirements/bench.txt): no plot written")
        return None
    sizes = [e["clusters"] for e in entries]
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for label, style in (("baseline", "s-"), ("ours", "o-"), ("floor", "^--")):
        axis.plot(sizes, [e["results"][label]["median"] for e in entries], style,
                  label={"ours": "scs.kaas clusters.yml", "baseline": "kubernetes.core.k8s (server-side apply)",
                         "floor": "ansible-playbook, no task"}[label])
    axis.set_xlabel("converged clusters in the play")
    axis.set_ylabel("no-op run, wall time (s, median)")
    axis.set_title("No-op reconcile of a fleet (forks 5, 2 cores)")
    axis.set_xticks(sizes)
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def main():
    helpers.enter_private_netns()  # its own management cluster: never beside another one
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20,50,100,200", help="fleet sizes, ascending, comma-separated")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--forks", type=int, default=5)
    parser.add_argument("--output", default=os.path.join(HERE, "results", "fleet_scale.json"))
    parser.add_argument("--plot", default=os.path.join(HERE, "results", "fleet_scale.png"))
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    workdir = tempfile.mkdtemp(prefix="scs-kaas-bench-fleet-")
    print("starting an embedded management cluster in %s ..." % workdir, flush=True)
    mc = helpers.ManagementCluster(os.path.join(workdir, "embedded"), helpers.ensure_binaries())
    mc.start()
    try:
        env = helpers.ansible_environment(helpers.ensure_collection_path(), kubectl=mc.binaries["kubectl"])
        for name, text in (("baseline.yml", wc.BASELINE_PLAYBOOK), ("floor.yml", FLOOR_PLAYBOOK)):
            with open(os.path.join(workdir, name), "w") as handle:
                handle.write(text)
        first = wh.write_inventory(os.path.join(workdir, "hosts-classes.yml"), mc.kubeconfig,
                                   wc.specs(1, args.workers), {"infrastructure": "inmemory", "namespace": wc.NAMESPACE})
        wh.install_classes(env, first, wc.NAMESPACE)
        playbook_bin = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        entries = []
        for size in sizes:
            entries.append(measure_size(mc, env, workdir, size, args, playbook_bin))
            os.makedirs(os.path.dirname(args.output), exist_ok=True)
            with open(args.output, "w") as handle:  # after every size: a long run keeps what it measured
                json.dump({"forks": args.forks, "runs": args.runs, "workers": args.workers, "cpus": os.cpu_count(),
                           "sizes": entries}, handle, indent=2)
        print("\n%8s %9s %9s %9s %8s %12s" % ("clusters", "ours", "baseline", "floor", "speedup", "ours-floor"))
        for e in entries:
            r = e["results"]
            row = (e["clusters"], r["ours"]["median"], r["baseline"]["median"], r["floor"]["median"], e["speedup"],
                   e["ours_above_floor"])
            print("%8d %8.2fs %8.2fs %8.2fs %7.1fx %11.2fs" % row)
        print("written to %s\n\n%s\n" % (args.output, markdown_table(entries)))
        written = plot(entries, args.plot)
        if written:
            print("plot written to %s" % written)
    finally:
        mc.stop()


if __name__ == "__main__":
    main()
