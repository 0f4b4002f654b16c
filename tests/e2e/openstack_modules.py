# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Run one module of the collection through ``ansible-playbook`` and count what it sent to the
OpenStack services (their access logs) and to the management cluster (its audit log)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


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
