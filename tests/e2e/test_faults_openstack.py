# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Faults of the cloud and of the job in the middle of a run, injected into the real services.

The playbook killed (SIGKILL) between creating an application credential and writing its Secret.
The window is made certain, not hoped for: the management cluster's API server is frozen (SIGSTOP)
as soon as Keystone has listed the cluster's credentials, so the module creates the credential and
then hangs on its first request to the management cluster; the playbook is killed
when Keystone has answered the creation (every process of it, the module's too), and the API server
thawed. The rerun must leave exactly one credential of the cluster, the one its Secret holds; the
orphan is deleted.

5xx answers (``OpenStackBox.inject_fault``: the service answers the error instead of, or after,
doing the request): reads are repeated until they pass; a creation whose answer was lost is not
repeated, the error says to run again, and the rerun finds what was made. A 401 (an expired or
revoked token) gets a new token and the request once more. An image upload answered 5xx leaves a
record the rerun replaces. The thorough delete, stopped by 5xx or by the cloud's address going away
in the middle of it, fails with what it deleted and what is left, and the rerun finishes it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading

import yaml

import helpers
import proc_helpers
from ansible_collections.scs.kaas.plugins.module_utils.openstack import cleanup, cloud, retry
from openstack_box import config, infra, seed, services
from openstack_modules import SCS_0102, AccessLogTail, credential_requests, kube_secret, run_module


def _credentials_of_user(project):
    conn = seed.connect(project)
    try:
        return sorted(c.id for c in conn.identity.application_credentials(user=conn.current_user_id))
    finally:
        conn.close()


def test_killed_between_credential_and_secret_leaves_no_duplicate(
        management_cluster, openstack_box, openstack_project, ansible_env, namespace):
    mc = management_cluster
    assert _credentials_of_user(openstack_project) == []
    args = {"kubeconfig": mc.kubeconfig, "cloud": openstack_project, "namespace": namespace,
            "cluster_name": "killed", "secret_name": "killed-cloud"}
    directory = tempfile.mkdtemp(prefix="e2e-faults-")
    playbook = os.path.join(directory, "play.yml")
    fd = os.open(playbook, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the project's password
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                         "tasks": [{"name": "credential", "scs.kaas.openstack_app_credential": args}]}], handle)
    tail = AccessLogTail(services.access_log(openstack_box.layout, "keystone"))
    apiserver = mc.started_pids()["kube-apiserver"]
    proc = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
         "-e", "ansible_python_interpreter=%s" % sys.executable, playbook],
        env=ansible_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    frozen = False
    try:
        helpers.wait_for("Keystone listing the cluster's credentials", lambda: credential_requests(tail, "GET", "200"),
                         300, 0.01)
        os.kill(apiserver, signal.SIGSTOP)
        frozen = True
        helpers.wait_for("Keystone creating the credential", lambda: credential_requests(tail, "POST", "201"), 120, 0.01)
    finally:
        proc_helpers.kill_tree(proc.pid)
        if frozen:
            os.kill(apiserver, signal.SIGCONT)
        proc.wait(60)
        os.unlink(playbook)
        os.rmdir(directory)
    assert proc.returncode == -signal.SIGKILL
    orphans = _credentials_of_user(openstack_project)
    assert len(orphans) == 1, orphans
    assert kube_secret(mc, namespace, "killed-cloud") is None

    rerun, _output = run_module(ansible_env, "openstack_app_credential", args)
    assert rerun["changed"] and rerun["created"] and rerun["deleted"] == orphans
    left = _credentials_of_user(openstack_project)
    assert left == [rerun["credential"]["id"]]
    secret = kube_secret(mc, namespace, "killed-cloud")
    entry = yaml.safe_load(base64.b64decode(secret["data"]["clouds.yaml"]))["clouds"]["openstack"]
    assert entry["auth"]["application_credential_id"] == left[0]
    gone, _output = run_module(ansible_env, "openstack_app_credential", dict(args, state="absent"))
    assert gone["deleted"] == left and _credentials_of_user(openstack_project) == []


def _server_groups(project):
    conn = seed.connect(project)
    try:
        return sorted((g.name, g.id) for g in conn.compute.server_groups())
    finally:
        conn.close()


def test_reads_answered_5xx_are_repeated_and_the_preflight_passes(openstack_box, openstack_project, ansible_env):
    box = openstack_box
    box.inject_fault("nova", "GET", r"/flavors/detail$", status=503, times=2)
    box.inject_fault("neutron", "GET", r"/v2.0/networks$", status=502, times=1)
    spec = {"name": "reads", "infrastructure": "openstack", "kubernetes_version": "v1.34.4",
            "control_plane": {"replicas": 1}, "node_groups": [{"name": "md-0", "replicas": 1}],
            "variables": {"identityRef": {"name": "reads-cloud"}, "controlPlaneFlavor": "SCS-2V-4-20",
                          "workerFlavor": "SCS-4V-8-50", "image": {"name": "box-image"}}}
    try:
        passed, _output = run_module(ansible_env, "openstack_preflight", {"cloud": openstack_project, "clusters": [spec]})
    finally:
        box.clear_faults()
    assert not passed["changed"]
    assert [f["status"] for f in box.injected_faults("nova")] == [503, 503]
    assert [f["status"] for f in box.injected_faults("neutron")] == [502]


def test_a_creation_whose_answer_is_lost_is_not_repeated_and_the_rerun_makes_no_duplicate(
        management_cluster, openstack_box, openstack_project, ansible_env, namespace):
    box = openstack_box
    args = {"kubeconfig": management_cluster.kubeconfig, "cloud": openstack_project, "namespace": namespace,
            "cluster_name": "lost"}
    before = _server_groups(openstack_project)
    # Nova creates the first server group, and its answer is replaced by a 503.
    box.inject_fault("nova", "POST", r"/os-server-groups$", status=503, when="after", times=1)
    try:
        failed, _output = run_module(ansible_env, "openstack_server_groups", args, expect_failure=True)
    finally:
        box.clear_faults()
    assert "compute service: POST /os-server-groups failed (HTTP 503); it is not sent again" in failed["msg"], \
        failed["msg"]
    assert "Run the playbook again" in failed["msg"]
    made = sorted(set(_server_groups(openstack_project)) - set(before))
    assert len(made) == 1, made  # done once, not repeated

    rerun, _output = run_module(ansible_env, "openstack_server_groups", args)
    after = sorted(set(_server_groups(openstack_project)) - set(before))
    assert len(after) == 2 and made[0] in after, after  # the rerun found it and made only the other one
    assert sorted(rerun["variables"].values()) == sorted(group_id for _name, group_id in after)
    run_module(ansible_env, "openstack_server_groups", dict(args, state="absent"))
    assert _server_groups(openstack_project) == before


def _cluster_in_cloud(mc, project, ansible_env, namespace, name):
    """Server groups, an application credential and its identity Secret of cluster ``name``, as
    ``clusters.yml`` makes them; returns (module args with secret_name, cluster uid)."""
    args = {"kubeconfig": mc.kubeconfig, "cloud": project, "namespace": namespace, "cluster_name": name}
    groups, _output = run_module(ansible_env, "openstack_server_groups", args)
    args["secret_name"] = name + "-cloud"
    run_module(ansible_env, "openstack_app_credential", args)
    return args, groups["cluster_uid"]


def _left_of_cluster(mc, project, uid, namespace, secret_name):
    """What of cluster ``uid`` is in the cloud and the management cluster, listed with openstacksdk
    and kubectl: sorted (kind, id) pairs."""
    conn = seed.connect(project)
    try:
        found = [("server_group", g.id) for g in conn.compute.server_groups() if uid in g.name]
        found += [("application_credential", c.id) for c in conn.identity.application_credentials(
            user=conn.current_user_id) if uid in c.name]
        found += [("security_group", g.id) for g in conn.network.security_groups() if uid in (g.description or "")]
    finally:
        conn.close()
    secret = kube_secret(mc, namespace, secret_name)
    return sorted(found + ([("secret", secret["metadata"]["uid"])] if secret else []))


def _pairs(items):
    return sorted((i["kind"], i["id"]) for i in items)


def test_a_cleanup_stopped_by_5xx_reports_what_is_left_and_the_rerun_finishes_it(
        management_cluster, openstack_box, openstack_project, ansible_env, namespace):
    mc, box = management_cluster, openstack_box
    args, uid = _cluster_in_cloud(mc, openstack_project, ansible_env, namespace, "resume")
    conn = seed.connect(openstack_project)
    try:  # what the cloud controller would have made for a Service of the cluster
        service_group = conn.network.create_security_group(name="lb-sg-" + uid,
                                                           description=cleanup.SG_DESCRIPTION % uid).id
    finally:
        conn.close()
    before = _left_of_cluster(mc, openstack_project, uid, namespace, args["secret_name"])
    # Every attempt at the first server group's delete answers 503: one more than the retries.
    rule = box.inject_fault("nova", "DELETE", r"/os-server-groups/[0-9a-f-]+$", status=503,
                            times=len(retry.BACKOFF) + 1)
    try:
        failed, _output = run_module(ansible_env, "openstack_cluster_cleanup", args, expect_failure=True)
    finally:
        box.clear_faults()
    attempts = [f["time"] for f in box.injected_faults("nova") if f["id"] == rule]
    assert len(attempts) == len(retry.BACKOFF) + 1
    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:])]
    assert all(gap >= delay * 0.9 for gap, delay in zip(gaps, retry.BACKOFF)), gaps  # backed off, not hammered
    assert "stopped at server_group" in failed["msg"] and "Run the playbook again" in failed["msg"], failed["msg"]
    assert _pairs(failed["deleted"]) == [("security_group", service_group)]
    assert failed["left"][0]["kind"] == "server_group" and failed["left"][-1]["kind"] == "secret"
    now = _left_of_cluster(mc, openstack_project, uid, namespace, args["secret_name"])
    assert now == sorted(set(before) - {("security_group", service_group)}) == _pairs(failed["left"])

    rerun, _output = run_module(ansible_env, "openstack_cluster_cleanup", args)
    assert rerun["changed"] and _pairs(rerun["deleted"]) == _pairs(failed["left"]) and rerun["left"] == []
    assert _left_of_cluster(mc, openstack_project, uid, namespace, args["secret_name"]) == []


def test_the_cloud_unreachable_during_a_delete_never_reports_success_and_a_later_run_finishes_it(
        management_cluster, openstack_box, openstack_project, ansible_env, namespace):
    mc = management_cluster
    args, uid = _cluster_in_cloud(mc, openstack_project, ansible_env, namespace, "unreachable")
    before = _left_of_cluster(mc, openstack_project, uid, namespace, args["secret_name"])
    # A request on a connection that stops answering waits for api_timeout (unset: the kernel's TCP timeout).
    args["api_timeout"] = 10
    tail = AccessLogTail(services.access_log(openstack_box.layout, "keystone"))
    apiserver = mc.started_pids()["kube-apiserver"]
    device = infra.ensure_dummy_interface()
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(zip(("result", "output"), run_module(
        ansible_env, "openstack_cluster_cleanup", args, expect_failure=True))))
    worker.start()
    frozen = removed = False
    try:
        # The cleanup has listed everything (the credentials come last); it is held at its next request
        # to the management cluster while the cloud's address goes away.
        helpers.wait_for("the cleanup listing the credentials", lambda: credential_requests(tail, "GET", "200"),
                         300, 0.01)
        os.kill(apiserver, signal.SIGSTOP)
        frozen = True
        subprocess.run(["ip", "addr", "del", config.ENDPOINT_ADDRESS + "/32", "dev", device], check=True)
        removed = True
        os.kill(apiserver, signal.SIGCONT)
        frozen = False
        worker.join(300)
        assert not worker.is_alive()
    finally:
        if frozen:
            os.kill(apiserver, signal.SIGCONT)
        if removed:
            infra.ensure_dummy_interface()
        worker.join(300)
    failed = outcome["result"]
    assert "stopped at server_group" in failed["msg"] and "Run the playbook again" in failed["msg"], failed["msg"]
    assert failed["deleted"] == [] and _pairs(failed["left"]) == before
    helpers.wait_for("the cloud answering again", lambda: _answers(openstack_project), 120, 0.5)
    assert kube_secret(mc, namespace, args["secret_name"]) is not None  # never deleted before the cloud's objects

    rerun, _output = run_module(ansible_env, "openstack_cluster_cleanup", args)
    assert rerun["left"] == []
    # The delete the unreachable cloud swallowed may have been done once the address was back.
    assert set(_pairs(rerun["deleted"])) <= set(before)
    assert _left_of_cluster(mc, openstack_project, uid, namespace, args["secret_name"]) == []


def _answers(project):
    try:
        conn = seed.connect(project)
    except Exception:  # pylint: disable=broad-except  # not yet
        return False
    try:
        return list(conn.compute.server_groups()) is not None
    finally:
        conn.close()


def test_an_expired_token_is_renewed_once_and_the_request_repeated(
        management_cluster, openstack_box, openstack_project, ansible_env, namespace):
    box = openstack_box
    args = {"kubeconfig": management_cluster.kubeconfig, "cloud": openstack_project, "namespace": namespace,
            "cluster_name": "expired", "secret_name": "expired-cloud"}
    _events, since = box.keystone_audit()
    # Keystone refuses the module's token on the credential listing and again on the creation: as when
    # a token expires or is revoked mid-run. 401 means the request was not done.
    rules = [box.inject_fault("keystone", method, r"/v3/users/[0-9a-f]+/application_credentials$", status=401)
             for method in ("GET", "POST")]
    try:
        made, _output = run_module(ansible_env, "openstack_app_credential", args)
    finally:
        box.clear_faults()
    assert [f["method"] for f in box.injected_faults("keystone") if f["id"] in rules] == ["GET", "POST"]
    events, _end = box.keystone_audit(since)
    tokens = [e for e in events if e["event"] == "token" and e["user_agent"].startswith(cloud.USER_AGENT_PRODUCT)]
    assert len(tokens) == 3, tokens  # the first token, and one new token per refusal
    assert made["created"] and _credentials_of_user(openstack_project) == [made["credential"]["id"]]
    run_module(ansible_env, "openstack_app_credential", dict(args, state="absent"))
    assert _credentials_of_user(openstack_project) == []


def test_an_upload_answered_5xx_is_not_repeated_and_the_rerun_replaces_the_broken_record(
        openstack_box, openstack_project, ansible_env, tmp_path):
    box = openstack_box
    path = tmp_path / "node.img"
    path.write_bytes(os.urandom(1024 * 1024))
    args = {"cloud": openstack_project, "name": "node-image-faults", "path": str(path),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "disk_format": "raw", "min_disk": 20,
            "min_ram": 2048, "properties": SCS_0102}
    # The file's PUT answers 503, and so does every attempt to delete the record afterwards.
    box.inject_fault("glance", "PUT", r"/v2/images/[0-9a-f-]+/file$", status=503, times=1)
    box.inject_fault("glance", "DELETE", r"/v2/images/[0-9a-f-]+$", status=503, times=len(retry.BACKOFF) + 1)
    try:
        failed, _output = run_module(ansible_env, "openstack_image", args, expect_failure=True)
    finally:
        box.clear_faults()
    assert "image service: PUT /images/" in failed["msg"] and "(HTTP 503); it is not sent again" in failed["msg"], \
        failed["msg"]
    assert "could not be deleted either" in failed["msg"] and "the next run replaces it" in failed["msg"]
    broken = _images(openstack_project, args["name"])
    assert [status for _id, status in broken] == ["queued"]

    rerun, _output = run_module(ansible_env, "openstack_image", args)
    assert rerun["changed"] and rerun["uploaded"] and rerun["deleted"] == [broken[0][0]]
    assert _images(openstack_project, args["name"]) == [(rerun["image"]["id"], "active")]
    run_module(ansible_env, "openstack_image", dict(args, state="absent"))


def _images(project, name):
    conn = seed.connect(project)
    try:
        return [(i.id, i.status) for i in conn.image.images(name=name)]
    finally:
        conn.close()
