# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Benchmark of the OpenStack preflight (a script, not a test).

Starts the tests' OpenStack box (the official services, see docs/testing-openstack.md; a kept state
directory makes the start warm), makes a project, and times ``scs.kaas.openstack_preflight`` through
``ansible-playbook`` for batches of 1, 5, 10 and 20 openstack-class clusters:

  * batch: one task with every cluster (what the workload_cluster role runs),
  * per cluster: the obvious alternative, one task per cluster (a loop), each authenticating and
    reading the cloud again.

For each it reports the wall time (median of ``--runs``) and the requests the services logged
(all of them, and the mutating ones, which must be only Keystone's token issue). Run it in a
private network namespace (the box binds fixed ports):

    make bench BENCH=openstack_preflight BENCH_ARGS="--runs 3"
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(1, os.path.join(ROOT, "tests"))

import helpers  # noqa: E402
from openstack_box import OpenStackBox, seed  # noqa: E402

SIZES = (1, 5, 10, 20)


def spec(index):
    return {"name": "bench-%02d" % index, "namespace": "bench", "infrastructure": "openstack",
            "kubernetes_version": "v1.34.4", "control_plane": {"replicas": 3},
            "node_groups": [{"name": "md-0", "replicas": 2}],
            "variables": {"identityRef": {"name": "bench-cloud"}, "controlPlaneFlavor": "SCS-2V-4-20",
                          "workerFlavor": "SCS-2V-4-20", "image": {"name": seed.IMAGE_NAME},
                          "controlPlaneAvailabilityZones": ["az-1", "az-2"]}}


def playbook(directory, entry, count, batch):
    clusters = [{"spec": spec(i), "var_name": "clusters[%d]" % i} for i in range(count)]
    task = {"scs.kaas.openstack_preflight": {"cloud": entry, "clusters": clusters if batch else ["{{ item }}"]}}
    if not batch:
        task["loop"] = clusters
        task["loop_control"] = {"label": "{{ item.var_name }}"}
    path = os.path.join(directory, "preflight-%d-%s.yml" % (count, "batch" if batch else "each"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the password
    with os.fdopen(fd, "w") as handle:
        json.dump([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}], handle)
    return path


def _raise_quotas(admin, project_id):
    """Room for the largest batch (20 clusters of 5 servers): the preflight must pass to be timed."""
    admin.set_compute_quotas(project_id, instances=1000, cores=10000, ram=10000000, server_groups=1000)
    admin.set_network_quotas(project_id, floatingip=1000, security_group=1000, network=1000, router=1000,
                             subnet=1000, port=10000, security_group_rule=10000)
    admin.set_volume_quotas(project_id, volumes=1000, gigabytes=100000)
    admin.load_balancer.update_quota(project_id, load_balancer=1000)


def run(env, path):
    started = time.monotonic()
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=" + sys.executable, path]
    proc = subprocess.run(command,
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("preflight failed:\n" + proc.stdout[-3000:])
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--state-dir", default=os.environ.get("SCS_KAAS_OPENSTACK_BOX_DIR"),
                        help="the box's state (kept: the next start is warm); default a temporary one")
    args = parser.parse_args()
    env = helpers.ansible_environment(helpers.ensure_collection_path())
    with tempfile.TemporaryDirectory(prefix="bench-preflight-") as scratch:
        box = OpenStackBox(args.state_dir or os.path.join(scratch, "box"))
        box.start()
        print("box start: %.0fs (%s)" % (box.timings["start"], "warm" if args.state_dir else "cold"))
        try:
            entry, cleanup = box.new_project("bench-preflight")
            _raise_quotas(box.admin_connection(), seed.connect(entry).current_project_id)
            rows = []
            for count in SIZES:
                for batch in (True, False):
                    path = playbook(scratch, entry, count, batch)
                    seconds, calls, mutating = [], 0, []
                    for _run in range(args.runs):
                        mark = box.mark()
                        seconds.append(run(env, path))
                        requests = box.requests(since=mark, methods=None)
                        calls = len(requests)
                        mutating = [r for r in requests if r["method"] in ("POST", "PUT", "PATCH", "DELETE")
                                    and (r["service"], r["path"]) != ("keystone", "/v3/auth/tokens")]
                    rows.append((count, "batch" if batch else "per cluster", statistics.median(seconds), calls,
                                 len(mutating)))
                    print("%2d clusters %-11s %6.1fs %4d requests %d mutating" % rows[-1], flush=True)
            cleanup()
        finally:
            box.stop()
    print("\n| clusters | batch s | per cluster s | ratio | batch requests | per cluster requests |")
    print("|---|---|---|---|---|---|")
    by_size = {}
    for count, mode, seconds, calls, _mutating in rows:
        by_size.setdefault(count, {})[mode] = (seconds, calls)
    for count in SIZES:
        batch, each = by_size[count]["batch"], by_size[count]["per cluster"]
        print("| %d | %.1f | %.1f | %.1fx | %d | %d |" % (count, batch[0], each[0], each[0] / batch[0], batch[1], each[1]))


if __name__ == "__main__":
    main()
