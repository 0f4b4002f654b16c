# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Run a playbook of this collection with the JSON callback and read its task results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import yaml

import helpers

HERE = os.path.dirname(os.path.abspath(__file__))

COMMAND_MODULES = ("ansible.builtin.command", "command", "ansible.builtin.shell", "shell",
                   "ansible.builtin.raw", "raw")


def run_playbook(ansible_env, playbook, check=True, check_mode=False, **extra):
    """Run ``playbooks/<playbook>``; return (task results, raw output).

    Task results come from the callback ``callback_plugins/e2e_results.py`` (one JSON line per task
    and host), the raw output is ansible-playbook's usual text (stdout and stderr).
    """
    args = ["ansible-playbook", "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % sys.executable]
    if check_mode:
        args.append("--check")
    for key, value in extra.items():
        args += ["-e", "%s=%s" % (key, value)]
    fd, results_file = tempfile.mkstemp(prefix="e2e-results-", suffix=".jsonl")
    os.close(fd)
    env = dict(ansible_env, E2E_RESULTS_FILE=results_file, ANSIBLE_CALLBACKS_ENABLED="e2e_results",
               ANSIBLE_DISPLAY_TRACEBACK="error",
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"))
    try:
        proc = subprocess.run(args + [os.path.join(helpers.REPO_ROOT, "playbooks", playbook)], env=env,
                              capture_output=True, text=True, timeout=900, check=False)
        with open(results_file) as handle:
            records = [json.loads(line) for line in handle if line.strip()]
    finally:
        os.unlink(results_file)
    raw = proc.stdout + proc.stderr
    if check:
        failed = [json.dumps(r["result"])[-4000:] for r in records if r["status"] == "failed"]
        assert proc.returncode == 0, raw[-8000:] + "\n".join(failed)
    return records, raw


def task_results(records, name):
    """The localhost results of every run of the task called ``name`` (empty when it did not run)."""
    return [r["result"] for r in records if r["task"] == name and r["host"] == "localhost" and r["status"] != "skipped"]


def changed_total(records):
    """Number of task results that report a change."""
    return sum(1 for r in records if r["result"].get("changed"))


def tasks_of(*playbook_files):
    """Every task (dict) of the given files under playbooks/, blocks included."""
    def walk(items):
        for item in items or []:
            yield item
            for key in ("tasks", "block", "rescue", "always", "pre_tasks", "post_tasks", "handlers"):
                if isinstance(item.get(key), list):
                    yield from walk(item[key])

    for name in playbook_files:
        with open(os.path.join(helpers.REPO_ROOT, "playbooks", name)) as handle:
            yield from walk(yaml.safe_load(handle))


def clusterctl_commands(*playbook_files):
    """Tasks that run a command mentioning clusterctl (the module replaced them)."""
    return [t.get("name") for t in tasks_of(*playbook_files)
            if any(m in t and "clusterctl" in json.dumps(t[m]) for m in COMMAND_MODULES)]
