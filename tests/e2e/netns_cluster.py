# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""A second embedded management cluster in a network namespace of its own, reachable from here.

The in-memory backend binds fixed ports (19000, 20000+), so two embedded clusters cannot share a
network namespace. :class:`NetnsManagementCluster` starts one under ``unshare --net`` (the
components are spawned detached, so they keep running in that namespace after the starter
exits) and runs :mod:`tcp_forward` here, relaying 127.0.0.1:<free port> to its kube-apiserver;
its ``kubeconfig`` points at the forwarded port (the serving certificate covers 127.0.0.1).

Run as a script (``python netns_cluster.py start STATE_DIR BUILD_JSON``) it is the starter inside
the new namespace: brings up ``lo`` and starts the cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import helpers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class NetnsManagementCluster(helpers.ManagementCluster):
    """A :class:`helpers.ManagementCluster` started in a nested network namespace."""

    def __init__(self, state_dir, build_result):
        super().__init__(state_dir, build_result)
        self._build = {"binaries": self.binaries, "module_dirs": self.module_dirs}
        self.local_kubeconfig = self.kubeconfig  # valid inside the cluster's namespace only
        self.kubeconfig = os.path.join(self.state_dir, "forwarded-kubeconfig")
        self.forwarder = None
        self.forwarded_port = None
        self._audit = helpers.AuditLog(self.audit_log, self.kubeconfig)

    def start(self):
        os.makedirs(self.state_dir, exist_ok=True)
        proc = subprocess.run(
            ["unshare", "--net", sys.executable, os.path.abspath(__file__), "start", self.state_dir,
             json.dumps(self._build)],
            capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            raise AssertionError("starting the cluster in a new network namespace failed (rc=%d):\n%s\n%s"
                                 % (proc.returncode, proc.stdout[-3000:], proc.stderr[-5000:]))
        self.last_start = json.loads(proc.stdout.strip().splitlines()[-1])
        self._start_forwarder()
        return self.last_start

    def apiserver_pid(self):
        record = self.cluster.running("kube-apiserver")
        assert record, "kube-apiserver of %s is not running" % self.state_dir
        return record["pid"]

    def _start_forwarder(self):
        pid = self.apiserver_pid()
        self.forwarder = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "tcp_forward.py"), "0", "/proc/%d/ns/net" % pid,
             str(self.ports["kube_apiserver"])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        line = self.forwarder.stdout.readline()
        assert line.startswith("ready "), "forwarder did not start: %r %s" % (line, self.forwarder.stderr.read())
        self.forwarded_port = int(line.split()[1])
        with open(self.local_kubeconfig) as handle:
            config = yaml.safe_load(handle)
        for entry in config["clusters"]:
            entry["cluster"]["server"] = "https://127.0.0.1:%d" % self.forwarded_port
        fd = os.open(self.kubeconfig, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            yaml.safe_dump(config, handle)

    def stop(self):
        try:
            return self.cluster.stop()
        finally:
            if self.forwarder is not None:
                self.forwarder.kill()
                self.forwarder.wait(timeout=30)
                self.forwarder.stdout.close()
                self.forwarder.stderr.close()

    def forwarder_alive(self):
        return self.forwarder is not None and self.forwarder.poll() is None


def _start_here(state_dir, build):
    """Inside the new namespace: loopback up, then start the cluster; print the start result."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    helpers.ensure_collection_path()
    from ansible_collections.scs.kaas.plugins.module_utils.embedded import runtime

    result = runtime.EmbeddedCluster(state_dir, binaries=build["binaries"], module_dirs=build["module_dirs"],
                                     runner=helpers.runner()).start()
    print(json.dumps({"changed": result.get("changed"), "started": result.get("started")}))


if __name__ == "__main__":
    if sys.argv[1:2] != ["start"]:
        sys.exit("usage: netns_cluster.py start STATE_DIR BUILD_JSON")
    _start_here(sys.argv[2], json.loads(sys.argv[3]))
