# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Faults of the management cluster injected in the middle of a run, against the real components.

The session's embedded management cluster runs every component as a process; a fault is a
SIGKILL of one of them (a crash, not a clean stop), and the recovery is what an operator's
systemd or a rerun of ``make demo`` does: the runtime's ``start``, which starts whatever is not
running. The tests run in order and share three in-memory clusters:

1. The Cluster API manager (which serves the Cluster webhooks) is down during a batch: the run
   fails naming the webhook and its configuration, and writes nothing.
2. kube-apiserver is killed while the batch is being planned and applied, with the kubeadm
   bootstrap manager down so that no wait can end before the restart: the run rides the restart
   out, every Cluster is written once, and a rerun writes nothing.
3. etcd is killed during a batch: no object is lost, and a rerun converges.
4. The playbook is interrupted (Ctrl-C) while it waits for a scale, killed (SIGKILL, the module
   too) between the two steps of an upgrade and again during the last, and interrupted while it
   waits for a delete: each rerun converges with no write and no Machine more than the run would
   have made anyway.
"""

from __future__ import annotations

import calendar
import os
import signal
import time

import pytest

import helpers
import proc_helpers
import workload_helpers as wh

from ansible_collections.scs.kaas.plugins.module_utils.embedded import process

NAMESPACE = "faults"
FIELD_MANAGER = "scs.kaas"  # the modules' server-side apply field manager
HOSTS = ("fault-a", "fault-b", "fault-c")
SPEC = {"kubernetes_version": "v1.34.4", "control_plane": {"replicas": 1},
        "node_groups": [{"name": "md-0", "replicas": 1}]}
DEFAULTS = {"infrastructure": "inmemory", "namespace": NAMESPACE}
# One cluster at a time, so a fault that hits the first request of the batch finds the rest pending.
SEQUENTIAL = {"workload_cluster_parallel": 1, "workload_cluster_wait_timeout": 600}


@pytest.fixture(scope="module")
def lab(management_cluster, ansible_env, tmp_path_factory):
    directory = tmp_path_factory.mktemp("faults")
    inventory = wh.write_inventory(str(directory / "hosts.yml"), management_cluster.kubeconfig,
                                   {host: SPEC for host in HOSTS}, DEFAULTS)
    wh.install_classes(ansible_env, inventory, NAMESPACE)
    lab = {"mc": management_cluster, "env": ansible_env, "inventory": inventory, "dir": directory}
    yield lab
    management_cluster.start()  # whatever a failed test left killed
    proc, _recap = wh.run_playbook(ansible_env, inventory, "delete.yml")
    assert proc.returncode == 0, proc.stdout[-6000:]


def _kill(mc, component):
    record = mc.cluster.running(component)
    pid, starttime = record["pid"], record["starttime"]
    os.kill(pid, signal.SIGKILL)
    # Gone means every thread exited: a killed process that already released its memory no longer
    # counts as running, but holds its ports until its files are closed (seen in CI under load).
    helpers.wait_for("%s gone" % component, lambda: process.threads_exited(pid, starttime), 60, 0.05)
    assert component not in mc.started_pids()


def _start_playbook(lab, playbook, extra_vars):
    return wh.start_playbook(lab["env"], lab["inventory"], playbook, extra_vars)


def _finish(proc, timeout=900):
    out, _err = proc.communicate(timeout=timeout)
    return out, {m.group(1): {"changed": int(m.group(3)), "failed": int(m.group(5))} for m in wh.RECAP.finditer(out)}


def _our_cluster_requests(mc, since, dry_run):
    return [e for e in mc.audit_events(since)
            if (e.get("userAgent") or "").startswith(wh.OUR_AGENT) and e.get("verb") == "patch"
            and (e.get("objectRef") or {}).get("resource") == "clusters"
            and ("dryRun=All" in (e.get("requestURI") or "")) == dry_run]


def test_a_webhook_manager_down_fails_the_batch_naming_it_and_writes_nothing(lab):
    mc = lab["mc"]
    mc.kubectl("create", "namespace", NAMESPACE, check=False)  # dry runs need the namespace
    _kill(mc, "capi-manager")
    try:
        marker = mc.mark()
        proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml", SEQUENTIAL)
        written = mc.writes(wh.OUR_AGENT, marker)
    finally:
        mc.start()
    assert proc.returncode != 0, proc.stdout[-6000:]
    assert all(recap[host]["failed"] == 1 for host in HOSTS), recap
    assert "admission webhook default.cluster.cluster.x-k8s.io did not answer" in proc.stdout, proc.stdout[-6000:]
    assert "MutatingWebhookConfiguration capi-mutating-webhook-configuration, which calls" in proc.stdout
    assert written == []
    assert mc.kubectl_json("get", "clusters", "-n", NAMESPACE)["items"] == []


def test_kube_apiserver_killed_mid_batch_is_ridden_out_with_one_write_per_cluster(lab):
    mc = lab["mc"]
    # Without the bootstrap manager no Machine gets its bootstrap data: no wait can end before it
    # is back, and it comes back only with the API server's restart below.
    _kill(mc, "kubeadm-bootstrap-manager")
    marker = mc.mark()
    proc = _start_playbook(lab, "clusters.yml", SEQUENTIAL)
    try:
        helpers.wait_for("the batch's first server-side dry run",
                         lambda: _our_cluster_requests(mc, marker, dry_run=True), 300, 0.05)
        _kill(mc, "kube-apiserver")
        killed_at = time.time()
        assert proc.poll() is None, "the run ended before the fault"
    finally:
        restart = mc.start()
    assert {"kube-apiserver", "kubeadm-bootstrap-manager"} <= set(restart["started"]), restart["started"]
    out, recap = _finish(proc)
    assert proc.returncode == 0, out[-8000:]
    assert all(recap[host]["changed"] >= 1 and recap[host]["failed"] == 0 for host in HOSTS), recap
    for host in HOSTS:
        assert helpers.cluster_available(mc, NAMESPACE, host)
        assert helpers.machines_running(mc, NAMESPACE, host, 2, SPEC["kubernetes_version"])
    # The restart cost no duplicate write: one apply per Cluster, and one Machine per replica.
    _assert_one_effective_apply_per_cluster(mc, _our_cluster_requests(mc, marker, dry_run=False), killed_at)
    assert wh.machine_creations(mc, NAMESPACE, marker) == 2 * len(HOSTS)
    marker = mc.mark()
    proc, recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml")
    assert proc.returncode == 0 and all(recap[host]["changed"] == 0 for host in HOSTS), proc.stdout[-6000:]
    assert mc.writes(wh.OUR_AGENT, marker) == []
    assert wh.machine_creations(mc, NAMESPACE, marker) == 0


def _assert_one_effective_apply_per_cluster(mc, writes, killed_at):
    """Each Cluster created by one apply; an apply repeated across the restart changed nothing.

    The apply in flight when the API server died may have been stored before its answer was
    lost: the client repeats it (server-side apply is idempotent), and the audit log then shows
    a 200 for it, with or without the 201 that the dying server may not have logged. Answers of
    the restarting server (429, 503) wrote nothing. Whether a repeat changed anything is read
    from the object: our field manager's last change would then postdate the kill.
    """
    answers = sorted((e["objectRef"]["name"], e["responseStatus"]["code"]) for e in writes)
    succeeded = [(name, code) for name, code in answers if 200 <= code < 300]
    assert {code for _name, code in answers if not 200 <= code < 300} <= {429, 503}, answers
    assert sorted({name for name, _code in succeeded}) == sorted(HOSTS), answers
    assert all(code in (200, 201) for _name, code in succeeded), answers
    repeated = sorted({name for name, code in succeeded if code == 200})
    assert len(repeated) <= 1 and len(succeeded) <= len(HOSTS) + 1, answers
    for name in repeated:
        entry, = [m for m in helpers.get_cluster(mc, NAMESPACE, name)["metadata"]["managedFields"]
                  if m["manager"] == FIELD_MANAGER and m["operation"] == "Apply"]
        changed_at = calendar.timegm(time.strptime(entry["time"], "%Y-%m-%dT%H:%M:%SZ"))
        assert changed_at <= int(killed_at), (name, entry["time"], killed_at, answers)


def _objects(mc):
    """uid -> Kind/name of every object that belongs to the clusters."""
    kinds = helpers.capi_kinds(mc)
    found = {}
    for host in HOSTS:
        found.update(helpers.cluster_object_uids(mc, NAMESPACE, host, kinds))
    return found


def test_etcd_killed_during_a_batch_loses_no_object(lab):
    mc = lab["mc"]
    before = _objects(mc)
    assert len(before) > 10 * len(HOSTS), before
    marker = mc.mark()
    proc = _start_playbook(lab, "clusters.yml", dict(SEQUENTIAL, workload_cluster_scale={"md-0": 2}))
    try:
        helpers.wait_for("the batch's first server-side dry run",
                         lambda: _our_cluster_requests(mc, marker, dry_run=True), 300, 0.05)
        _kill(mc, "etcd")
    finally:
        restart = mc.start()
    assert "etcd" in restart["started"], restart["started"]
    out, _recap = _finish(proc)
    # The run rides the outage out (the API server waits for etcd) or fails naming the API error;
    # never with a traceback. Either way the rerun must converge.
    print(out[-4000:])
    assert proc.returncode == 0 or "Kubernetes API error" in out, out[-8000:]
    assert "Traceback" not in out, out[-8000:]
    proc, _recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml",
                                   {"workload_cluster_scale": {"md-0": 2}})
    assert proc.returncode == 0, proc.stdout[-6000:]
    for host in HOSTS:
        assert helpers.cluster_available(mc, NAMESPACE, host)
        assert helpers.machines_running(mc, NAMESPACE, host, 3, SPEC["kubernetes_version"])
    after = _objects(mc)
    lost = sorted(ref for uid, ref in before.items() if uid not in after)
    assert lost == [], lost


def _interrupt(proc, signum):
    """Ctrl-C (SIGINT to ansible-playbook, as a terminal sends it) or a SIGKILL of everything the run
    started, the module included; returns the run's output."""
    if signum == signal.SIGINT:
        os.kill(proc.pid, signal.SIGINT)
    else:
        proc_helpers.kill_tree(proc.pid)
    out, _recap = _finish(proc, timeout=300)
    return out


def test_interrupted_while_waiting_for_a_scale_a_rerun_converges_without_extra_machines(lab):
    mc = lab["mc"]
    marker = mc.mark()
    proc = _start_playbook(lab, "clusters.yml", dict(SEQUENTIAL, workload_cluster_scale={"md-0": 3}))
    helpers.wait_for("the scale's three writes", lambda: len(_our_cluster_requests(mc, marker, dry_run=False)) == 3,
                     300, 0.05)
    out = _interrupt(proc, signal.SIGINT)
    assert proc.returncode != 0, out[-4000:]
    proc, _recap = wh.run_playbook(lab["env"], lab["inventory"], "clusters.yml", {"workload_cluster_scale": {"md-0": 3}})
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert len(_our_cluster_requests(mc, marker, dry_run=False)) == 3  # the rerun wrote nothing more
    for host in HOSTS:
        assert helpers.machines_running(mc, NAMESPACE, host, 4, SPEC["kubernetes_version"])
    assert wh.machine_creations(mc, NAMESPACE, marker) == len(HOSTS)


def test_killed_between_two_upgrade_steps_a_rerun_takes_the_second_step_only(lab):
    mc = lab["mc"]
    target = dict(SPEC, kubernetes_version="v1.36.5", node_groups=[dict(SPEC["node_groups"][0], replicas=3)])
    inventory = wh.write_inventory(str(lab["dir"] / "upgrade.yml"), mc.kubeconfig,
                                   dict({host: SPEC for host in HOSTS}, **{HOSTS[0]: target}), DEFAULTS)
    marker = mc.mark()
    proc = wh.start_playbook(lab["env"], inventory, "upgrade.yml", args=("--limit", HOSTS[0]))
    helpers.wait_for("the first step's write", lambda: _our_cluster_requests(mc, marker, dry_run=False), 300, 0.05)
    out = _interrupt(proc, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL, out[-4000:]
    assert helpers.get_cluster(mc, NAMESPACE, HOSTS[0])["spec"]["topology"]["version"].startswith("v1.35.")
    # The rerun waits for the first step's rollout, takes the second: killed again right after that
    # last write, it leaves nothing to plan but a rollout going, which the last rerun waits for.
    second = mc.mark()
    proc = wh.start_playbook(lab["env"], inventory, "upgrade.yml", args=("--limit", HOSTS[0]))
    helpers.wait_for("the last step's write", lambda: _our_cluster_requests(mc, second, dry_run=False), 600, 0.05)
    out = _interrupt(proc, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL, out[-4000:]
    assert helpers.get_cluster(mc, NAMESPACE, HOSTS[0])["spec"]["topology"]["version"] == "v1.36.5"
    assert not helpers.machines_running(mc, NAMESPACE, HOSTS[0], 4, "v1.36.5"), "the rollout ended before the kill"
    last = mc.mark()
    proc, _recap = wh.run_playbook(lab["env"], inventory, "upgrade.yml", args=("--limit", HOSTS[0]))
    assert proc.returncode == 0, proc.stdout[-8000:]
    assert helpers.machines_running(mc, NAMESPACE, HOSTS[0], 4, "v1.36.5")
    assert mc.writes(wh.OUR_AGENT, last) == []
    # Two writes in all (one per step), and every Machine replaced once per step: none twice.
    assert len(_our_cluster_requests(mc, marker, dry_run=False)) == 2
    assert wh.machine_creations(mc, NAMESPACE, marker) == 2 * 4


def test_interrupted_while_deleting_a_rerun_finishes_the_delete(lab):
    mc = lab["mc"]
    proc = _start_playbook(lab, "delete.yml", {})
    helpers.wait_for("every Cluster being deleted", lambda: all(
        helpers.get_cluster(mc, NAMESPACE, host)["metadata"].get("deletionTimestamp") for host in HOSTS), 300, 0.05)
    out = _interrupt(proc, signal.SIGINT)
    assert proc.returncode != 0, out[-4000:]
    proc, _recap = wh.run_playbook(lab["env"], lab["inventory"], "delete.yml")
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert mc.kubectl_json("get", "clusters", "-n", NAMESPACE)["items"] == []
    kinds = helpers.capi_kinds(mc)
    assert [ref for host in HOSTS for ref in helpers.cluster_objects(mc, NAMESPACE, host, kinds)] == []
