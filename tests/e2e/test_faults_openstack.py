# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The playbook killed (SIGKILL) between creating an application credential and writing its Secret.

The window is made certain, not hoped for: the management cluster's API server is frozen (SIGSTOP)
as soon as Keystone has listed the cluster's credentials, so the module creates the credential and
then hangs on its first request to the management cluster; the playbook's process group is killed
when Keystone has answered the creation (every process of it, the module's too), and the API server
thawed. The rerun must leave exactly
one credential of the cluster, the one its Secret holds; the orphan is deleted.
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


def _kill_tree(pid):
    """SIGKILL ``pid`` and every process below it, all frozen first so none acts in between."""
    tree = proc_helpers.descendants([pid])
    for signum in (signal.SIGSTOP, signal.SIGKILL):
        for member in tree:
            try:
                os.kill(member, signum)
            except ProcessLookupError:
                pass


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
        _kill_tree(proc.pid)  # the module runs in a session of its own: the process group is not enough
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
