# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""What the newcomer tests share: a clean environment (as a new shell has it, without anything
`make` exported), commands run from the repository root, the play recap, and the writes in an
embedded management cluster's audit log."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO_ROOT, ".venv", "bin")
MUTATING_VERBS = ("create", "update", "patch", "delete", "deletecollection")
# What `make` exports or a venv activation sets; a newcomer's fresh shell has none of it.
_INHERITED = ("ANSIBLE_", "PYTHONPATH", "VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES",
              "PYTEST_", "PIP_")
_RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def clean_environment(**extra):
    """os.environ without what make or a venv put there, and without the venv on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED)}
    venv = os.path.realpath(os.path.join(REPO_ROOT, ".venv"))
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and not os.path.realpath(p).startswith(venv))
    env.update(extra)
    return env


def run(command, env, timeout, cwd=REPO_ROOT):
    """Run a shell command line; return (returncode, combined output)."""
    proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
                          check=False)
    return proc.returncode, proc.stdout


def play_recap(output):
    """host -> {ok, changed, unreachable, failed} of every PLAY RECAP line in ``output`` (added up)."""
    recap = {}
    for host, ok, changed, unreachable, failed in _RECAP.findall(output):
        counts = recap.setdefault(host, {"ok": 0, "changed": 0, "unreachable": 0, "failed": 0})
        for key, value in (("ok", ok), ("changed", changed), ("unreachable", unreachable), ("failed", failed)):
            counts[key] += int(value)
    return recap


class AuditLog:
    """Mutating requests in an embedded management cluster's audit log, read deterministically:
    after the action, one dry-run create with a unique user agent is sent, and the log is read until
    that request's event is there; every line before it must parse."""

    def __init__(self, state_dir):
        self.path = os.path.join(state_dir, "audit", "audit.log")
        self.kubeconfig = os.path.join(state_dir, "kubeconfig")

    def mark(self):
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def _send_marker(self):
        """A server-side dry-run create: audited like every mutating request, changes nothing."""
        from kubernetes import client as k8s_client
        from kubernetes import config as k8s_config

        api = k8s_config.new_client_from_config(config_file=self.kubeconfig)
        marker = "scs-kaas-audit-marker/%s" % uuid.uuid4()
        api.user_agent = marker
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "audit-marker"}}
        try:
            k8s_client.CoreV1Api(api).create_namespaced_config_map("default", body, dry_run="All")
        finally:
            api.close()
        return marker

    def writes(self, since, user_agent_prefix="scs.kaas/", timeout=30):
        """Mutating requests by ``user_agent_prefix`` after marker ``since``."""
        marker = self._send_marker()
        deadline = time.monotonic() + timeout
        while True:
            events, complete = self._events(since, marker)
            if complete:
                break
            if time.monotonic() > deadline:
                raise AssertionError("the marker request %s did not reach %s within %ss" % (marker, self.path, timeout))
            time.sleep(0.2)
        return [e for e in events if e.get("verb") in MUTATING_VERBS
                and (e.get("userAgent") or "").startswith(user_agent_prefix)
                and "dryRun=All" not in (e.get("requestURI") or "")]

    def _events(self, since, marker):
        events = []
        with open(self.path, "rb") as handle:
            handle.seek(since)
            for raw in handle:
                if not raw.endswith(b"\n"):
                    return events, False  # a line still being written: read again
                event = json.loads(raw)  # a line that does not parse fails the test
                if event.get("userAgent") == marker and event.get("stage") == "ResponseComplete":
                    return events, True
                if event.get("stage") in ("ResponseComplete", "Panic"):
                    events.append(event)
        return events, False


def real_node_demo_running(state_dir):
    """The processes a `make demo-real-nodes` run under ``state_dir`` started that still run (by
    their pid records): none once its teardown ran."""
    from ansible_collections.scs.kaas.plugins.module_utils.embedded import runtime
    from ansible_collections.scs.kaas.plugins.module_utils.nodes import docker_engine, oci_registry

    management = runtime.EmbeddedCluster(os.path.join(state_dir, "management"))
    running = ["management/%s" % name for name in runtime.ALL_COMPONENTS if management.running(name)]
    if oci_registry.OciRegistry(os.path.join(state_dir, "registry"), "0.0.0.0:5000", None).running():
        running.append("registry")
    if docker_engine.DockerEngine(os.path.join(state_dir, "engine"), None, drop=[]).running():
        running.append("engine")
    return running


def stop_real_node_demo(state_dir):
    """Stop what a failed `make demo-real-nodes` run left under ``state_dir`` and remove it (the
    engine's images with it), unmounting what the engine may have left mounted below it."""
    from ansible_collections.scs.kaas.plugins.module_utils.embedded import runtime
    from ansible_collections.scs.kaas.plugins.module_utils.nodes import docker_engine, image_build, oci_registry

    runtime.EmbeddedCluster(os.path.join(state_dir, "management")).stop()
    oci_registry.OciRegistry(os.path.join(state_dir, "registry"), "0.0.0.0:5000", None).stop()
    docker_engine.DockerEngine(os.path.join(state_dir, "engine"), None, drop=[]).stop(timeout=60)
    if os.path.isdir(state_dir):
        for point in image_build.mounts_below(state_dir):
            subprocess.run(["umount", "--lazy", point], check=False)
        shutil.rmtree(state_dir, ignore_errors=True)
