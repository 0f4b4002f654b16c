# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Run one module of the collection through ``ansible-playbook`` and count what it sent to the
OpenStack services (their access logs) and to the management cluster (its audit log)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
# The properties of the SCS image metadata standard (scs-0102) a test image carries.
SCS_0102 = {"architecture": "x86_64", "hypervisor_type": "qemu", "hw_disk_bus": "scsi", "os_distro": "ubuntu",
            "os_version": "24.04", "image_build_date": "2026-11-01", "image_original_user": "ubuntu",
            "image_description": "https://images.example.com/README.html", "replace_frequency": "never",
            "provided_until": "none", "uuid_validity": "none", "image_source": "private"}


def kube_secret(mc, namespace, name):
    """A Secret of the management cluster as a dict, or None."""
    found = mc.kubectl("get", "secret", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else None


def run_module(ansible_env, module, args, check_mode=False, verbosity=0, expect_failure=False):
    """(result, raw output) of one task ``scs.kaas.<module>`` on localhost."""
    directory = tempfile.mkdtemp(prefix="e2e-module-")
    playbook = os.path.join(directory, "play.yml")
    with open(playbook, "w") as handle:
        yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                         "tasks": [{"name": "module", "scs.kaas.%s" % module: args}]}], handle)
    os.chmod(playbook, 0o600)
    results_file = os.path.join(directory, "results.jsonl")
    env = dict(ansible_env, E2E_RESULTS_FILE=results_file, ANSIBLE_CALLBACKS_ENABLED="e2e_results",
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"))
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
            "-e", "ansible_python_interpreter=%s" % sys.executable, playbook]
    if check_mode:
        argv.append("--check")
    if verbosity:
        argv.append("-" + "v" * verbosity)
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)
        raw = proc.stdout + proc.stderr
        assert os.path.exists(results_file), raw[-6000:]
        with open(results_file) as handle:
            records = [json.loads(line) for line in handle if line.strip()]
    finally:
        shutil.rmtree(directory, ignore_errors=True)  # the playbook holds the cloud's credentials
    assert len(records) == 1, raw[-6000:]
    failed = records[0]["status"] == "failed"
    assert failed == expect_failure, raw[-6000:]
    return records[0]["result"], raw


def cloud_writes(box, marker):
    """Mutating requests to the services after ``marker``, without Keystone's token issue."""
    return [r for r in box.requests(since=marker) if not is_token_issue(r)]


def is_token_issue(request):
    return (request["service"] == "keystone" and request["method"] == "POST"
            and request["path"].split("?", 1)[0].endswith("/v3/auth/tokens"))


CREDENTIALS_PATH = re.compile(r'"(?P<method>GET|POST) /v3/users/[0-9a-f]+/application_credentials(?:\?[^" ]*)?'
                              r' HTTP/[0-9.]+" (?P<status>\d{3})')


class AccessLogTail:
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


def credential_requests(tail, method, status):
    """New access log lines of Keystone answering ``method`` on a user's application credentials with ``status``."""
    return [line for line in tail.lines() if (m := CREDENTIALS_PATH.search(line))
            and m["method"] == method and m["status"] == status]
