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
repeated, the error says to run again, and the rerun finds what was made.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile

import yaml

import helpers
import proc_helpers
from openstack_box import seed, services
from openstack_modules import run_module

CREDENTIALS_PATH = re.compile(r'"(?P<method>GET|POST) /v3/users/[0-9a-f]+/application_credentials(?:\?[^" ]*)?'
                              r' HTTP/[0-9.]+" (?P<status>\d{3})')


class _AccessLogTail:
    """New lines of one service's access log, read from where the last read stopped."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as handle:
            self.offset = handle.seek(0, os.SEEK_END)

    def lines(self):
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        complete = data[:data.rfind(b"\n") + 1]
        self.offset += len(complete)
        return complete.decode(errors="replace").splitlines()


def _credential_requests(tail, method, status):
    return [line for line in tail.lines() if (m := CREDENTIALS_PATH.search(line))
            and m["method"] == method and m["status"] == status]


def _credentials_of_user(project):
    conn = seed.connect(project)
    try:
        return sorted(c.id for c in conn.identity.application_credentials(user=conn.current_user_id))
    finally:
        conn.close()


def _secret(mc, namespace, name):
    found = mc.kubectl("get", "secret", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else None


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
    tail = _AccessLogTail(services.access_log(openstack_box.layout, "keystone"))
    apiserver = mc.started_pids()["kube-apiserver"]
    proc = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
         "-e", "ansible_python_interpreter=%s" % sys.executable, playbook],
        env=ansible_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    frozen = False
    try:
        helpers.wait_for("Keystone listing the cluster's credentials", lambda: _credential_requests(tail, "GET", "200"),
                         300, 0.01)
        os.kill(apiserver, signal.SIGSTOP)
        frozen = True
        helpers.wait_for("Keystone creating the credential", lambda: _credential_requests(tail, "POST", "201"), 120, 0.01)
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
    assert _secret(mc, namespace, "killed-cloud") is None

    rerun, _output = run_module(ansible_env, "openstack_app_credential", args)
    assert rerun["changed"] and rerun["created"] and rerun["deleted"] == orphans
    left = _credentials_of_user(openstack_project)
    assert left == [rerun["credential"]["id"]]
    secret = _secret(mc, namespace, "killed-cloud")
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
