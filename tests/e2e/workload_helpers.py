# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Helpers for the workload cluster e2e tests: inventories, playbook runs, recap parsing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import yaml

import helpers

PLAYBOOKS = os.path.join(helpers.REPO_ROOT, "playbooks")
OUR_AGENT = "scs.kaas/"  # the modules' user agent prefix (the e2e client uses scs.kaas-e2e/)
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def write_inventory(path, kubeconfig, hosts, group_defaults=None, group="inmemory", extra_vars=None):
    """An inventory like inventories/demo: group workload_clusters > <cloud group> > hosts.

    Only ``management_cluster_kubeconfig`` names the management cluster (every role defaults to
    it); the classes live in ``cluster_classes_namespace``, by default the group's namespace.
    """
    inventory = {
        "all": {
            "vars": dict({
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "management_cluster_kubeconfig": kubeconfig,
                "cluster_classes_namespace": (group_defaults or {}).get("namespace", "default"),
            }, **(extra_vars or {})),
            "children": {
                "workload_clusters": {
                    "children": {
                        group: {
                            "vars": {"workload_cluster_defaults": group_defaults or {}},
                            "hosts": {name: ({"workload_cluster": spec} if spec is not None else {})
                                      for name, spec in hosts.items()},
                        },
                    },
                },
            },
        },
    }
    with open(path, "w") as handle:
        yaml.safe_dump(inventory, handle)
    return path


def _playbook_command(inventory, playbook, extra_vars, args):
    path = playbook if os.path.isabs(playbook) else os.path.join(PLAYBOOKS, playbook)
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, path]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    return cmd + list(args)


def start_playbook(env, inventory, playbook, extra_vars=None, args=()):
    """Start ansible-playbook in the background (a test that interrupts it); returns the Popen,
    output in ``stdout``."""
    return subprocess.Popen(_playbook_command(inventory, playbook, extra_vars, args), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_playbook(env, inventory, playbook, extra_vars=None, args=(), timeout=1800):
    """Run ansible-playbook; return (CompletedProcess, recap dict host -> counts)."""
    proc = subprocess.run(_playbook_command(inventory, playbook, extra_vars, args), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)
    recap = {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "failed": int(m.group(5))}
             for m in RECAP.finditer(proc.stdout)}
    return proc, recap


def chart_repository_play(state_dir, port, addons, state="started"):
    """A playbook that starts (or stops) the collection's chart repository on loopback ``port``,
    serving the charts of ``addons``, from modules already downloaded (``make binaries``)."""
    return [{"name": "chart repository", "hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "The add-on charts on loopback",
        "scs.kaas.chart_repository": {"state_dir": state_dir, "address": "127.0.0.1:%d" % port,
                                      "addons": list(addons), "download": False, "state": state},
        "register": "repository"}, {"name": "Show", "ansible.builtin.debug": {"var": "repository"}}]}]


def install_classes(env, inventory, namespace=None):
    """Install the in-memory classes of every shipped minor with the collection's role (into the
    inventory's ``cluster_classes_namespace`` unless ``namespace`` is given)."""
    playbook = os.path.join(os.path.dirname(inventory), "classes.yml")
    role_vars = {"cluster_classes_infrastructures": ["inmemory"]}
    if namespace:
        role_vars["cluster_classes_namespace"] = namespace
    with open(playbook, "w") as handle:
        yaml.safe_dump([{
            "name": "classes", "hosts": "localhost", "gather_facts": False,
            "roles": [{"role": "scs.kaas.cluster_classes", "vars": role_vars}],
        }], handle)
    proc, recap = run_playbook(env, inventory, playbook)
    assert proc.returncode == 0, proc.stdout[-5000:]


def capture_playbook(directory, also_in_check_mode=False):
    """A playbook running the role and saving the module's full result to a JSON file (with
    ``also_in_check_mode``, the file is written in check mode too)."""
    path = os.path.join(directory, "capture-any-mode.yml" if also_in_check_mode else "capture.yml")
    with open(path, "w") as handle:
        yaml.safe_dump([{
            "name": "reconcile and capture", "hosts": "workload_clusters", "gather_facts": False,
            "tasks": [
                {"name": "role", "block": [{"name": "run", "ansible.builtin.include_role": {
                    "name": "scs.kaas.workload_cluster"}}],
                 "rescue": [{"name": "note", "ansible.builtin.set_fact": {"e2e_failed": True}}]},
                {"name": "save", "ansible.builtin.copy": {
                    "content": "{{ workload_cluster_result | to_json }}", "dest": "{{ capture_file }}",
                    "mode": "0600"},
                 "run_once": True, **({"check_mode": False} if also_in_check_mode else {})},
            ],
        }], handle)
    return path


def machine_creations(mc, namespace, since):
    """Machines created in ``namespace`` after ``since`` (by the CAPI controllers).

    CAPI v1.14 creates Machines with server-side apply, so a creation is any create or patch of a
    Machine (not a subresource, not a dry run) answered with 201 Created.
    """
    count = 0
    for event in mc.audit_events(since):
        ref = event.get("objectRef") or {}
        if (event.get("verb") in ("create", "patch") and ref.get("resource") == "machines"
                and not ref.get("subresource") and ref.get("namespace") == namespace
                and "dryRun=All" not in (event.get("requestURI") or "")
                and (event.get("responseStatus") or {}).get("code") == 201):
            count += 1
    return count
