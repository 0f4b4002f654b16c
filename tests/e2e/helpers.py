# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Helpers for end-to-end tests against the embedded management cluster.

Used by ``tests/e2e/conftest.py`` (fixtures) and ``benchmarks/embedded.py``; importable without
Ansible's collection loader because :func:`ensure_collection_path` puts a
``ansible_collections/scs/kaas`` link to this checkout on ``sys.path`` first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO_ROOT, "tests", "e2e", "fixtures")
EMBEDDED_SOURCE_DIR = os.path.join(REPO_ROOT, "roles", "management_cluster", "files", "embedded")
KUBECTL = "/usr/bin/kubectl"
MUTATING_VERBS = ("create", "update", "patch", "delete", "deletecollection")
E2E_USER_AGENT = "scs.kaas-e2e/1.0.0"

_COLLECTION_ROOT = None


def ensure_collection_path():
    """Return a directory holding ``ansible_collections/scs/kaas`` -> this checkout.

    Reuses one already importable (e.g. the Makefile's PYTHONPATH) when it points at this checkout,
    else creates a temporary link tree and prepends it to ``sys.path``.
    """
    global _COLLECTION_ROOT
    if _COLLECTION_ROOT:
        return _COLLECTION_ROOT
    for entry in list(sys.path) + os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        if not entry:
            continue
        link = os.path.join(entry, "ansible_collections", "scs", "kaas")
        if os.path.isdir(link) and os.path.realpath(link) == os.path.realpath(REPO_ROOT):
            _COLLECTION_ROOT = os.path.abspath(entry)
            break
    else:
        root = tempfile.mkdtemp(prefix="scs-kaas-collections-")
        os.makedirs(os.path.join(root, "ansible_collections", "scs"))
        os.symlink(REPO_ROOT, os.path.join(root, "ansible_collections", "scs", "kaas"))
        _COLLECTION_ROOT = root
    if _COLLECTION_ROOT not in sys.path:
        sys.path.insert(0, _COLLECTION_ROOT)
    return _COLLECTION_ROOT


def ensure_binaries(log=print):
    """Build (or find cached) binaries through the collection's build.py; return its result."""
    ensure_collection_path()
    from ansible_collections.scs.kaas.plugins.module_utils.embedded import build

    result = build.ensure_binaries(EMBEDDED_SOURCE_DIR, log=log)
    missing = [n for n in ("etcd", "kube-apiserver", "kube-controller-manager", "capi-manager",
                           "kubeadm-bootstrap-manager", "kubeadm-control-plane-manager", "capd-manager",
                           "clusterctl") if not os.access(result["binaries"].get(n) or "", os.X_OK)]
    if missing:
        raise RuntimeError("ensure_binaries() returned no executable for: %s" % ", ".join(missing))
    return result


def wait_for(what, check, timeout, interval=1.0, on_timeout=None):
    """Call ``check`` until it returns a truthy value (returned); AssertionError after ``timeout``."""
    deadline = time.time() + timeout
    last = None
    while True:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - reported on timeout
            last = exc
        if time.time() > deadline:
            extra = on_timeout() if on_timeout else ""
            raise AssertionError("timed out after %ss waiting for %s (last error: %r)\n%s"
                                 % (timeout, what, last, extra))
        time.sleep(interval)


class ManagementCluster:
    """A running (or stopped) embedded management cluster for tests.

    Attributes: ``state_dir``, ``kubeconfig``, ``audit_log``, ``binaries`` (component -> path,
    incl. ``clusterctl``), ``module_dirs``, ``ports``, ``cluster`` (the runtime's
    ``EmbeddedCluster``), ``last_start`` (result dict of the last :meth:`start`).
    """

    def __init__(self, state_dir, build_result, ports=None):
        ensure_collection_path()
        from ansible_collections.scs.kaas.plugins.module_utils.embedded import runtime

        self._runtime = runtime
        self.state_dir = os.path.abspath(state_dir)
        self.binaries = dict(build_result["binaries"])
        self.module_dirs = dict(build_result["module_dirs"])
        self.cluster = runtime.EmbeddedCluster(self.state_dir, binaries=self.binaries,
                                               module_dirs=self.module_dirs, ports=ports)
        self.ports = self.cluster.ports
        self.kubeconfig = self.cluster.paths["kubeconfig"]
        self.audit_log = self.cluster.paths["audit_log"]
        self.last_start = None
        self._api_client = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        self.last_start = self.cluster.start()
        return self.last_start

    def stop(self):
        return self.cluster.stop()

    def status(self):
        return self.cluster.status()

    def started_pids(self):
        """component -> pid of what the runtime's pid files record as running."""
        out = {}
        for name in self._runtime.COMPONENTS:
            record = self.cluster.running(name)
            if record:
                out[name] = record["pid"]
        return out

    def leftover_processes(self):
        """Processes (pid, argv) still running one of our binaries with this state dir in argv."""
        import proc_helpers  # tests/e2e/proc_helpers.py
        binaries = set(self.binaries.values())
        left = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            argv = proc_helpers.proc_cmdline(int(entry))
            if not argv or proc_helpers.proc_starttime(int(entry)) is None:
                continue
            if argv[0] in binaries and any(self.state_dir in a for a in argv):
                left.append((int(entry), argv))
        return left

    # -- access ----------------------------------------------------------------------------
    def kubectl(self, *args, check=True, input=None, timeout=120):
        """Run /usr/bin/kubectl with this cluster's kubeconfig; return CompletedProcess (text)."""
        cmd = [KUBECTL, "--kubeconfig", self.kubeconfig] + [str(a) for a in args]
        proc = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError("%s failed (rc=%d):\n%s%s" % (" ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def kubectl_json(self, *args, **kwargs):
        return json.loads(self.kubectl(*(list(args) + ["-o", "json"]), **kwargs).stdout)

    def clusterctl(self, *args, check=True, timeout=120):
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, CLUSTERCTL_DISABLE_VERSIONCHECK="true")
        cmd = [self.binaries["clusterctl"]] + [str(a) for a in args] + ["--kubeconfig", self.kubeconfig]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, env=env, check=False)
        if check and proc.returncode != 0:
            raise AssertionError("%s failed (rc=%d):\n%s%s" % (" ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def api_client(self):
        """A ``kubernetes.client.ApiClient`` for this cluster (user agent ``scs.kaas-e2e/...``)."""
        if self._api_client is None:
            from kubernetes import config as k8s_config

            client = k8s_config.new_client_from_config(config_file=self.kubeconfig)
            client.user_agent = E2E_USER_AGENT
            self._api_client = client
        return self._api_client

    def custom_objects(self):
        from kubernetes import client as k8s_client

        return k8s_client.CustomObjectsApi(self.api_client())

    # -- audit log ---------------------------------------------------------------------------
    def mark(self):
        """A marker for :meth:`count_writes`: the current end of the audit log."""
        try:
            return os.path.getsize(self.audit_log)
        except OSError:
            return 0

    def audit_events(self, since=0, settle=0.5):
        """Audit events (dicts) written after marker ``since`` (ResponseComplete/Panic stages)."""
        if settle:
            time.sleep(settle)  # the apiserver writes the event right after the response
        events = []
        with open(self.audit_log, "rb") as handle:
            handle.seek(since or 0)
            for raw in handle:
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue  # a line still being written
                if event.get("stage") in ("ResponseComplete", "Panic"):
                    events.append(event)
        return events

    def writes(self, user_agent_prefix, since=0, settle=0.5):
        """Mutating requests (not ``dryRun=All``) whose user agent starts with the prefix."""
        seen = set()
        out = []
        for event in self.audit_events(since, settle):
            if event.get("verb") not in MUTATING_VERBS:
                continue
            if not (event.get("userAgent") or "").startswith(user_agent_prefix):
                continue
            if "dryRun=All" in (event.get("requestURI") or ""):
                continue
            if event.get("auditID") in seen:
                continue
            seen.add(event.get("auditID"))
            out.append(event)
        return out

    def count_writes(self, user_agent_prefix, since=0, settle=0.5):
        """Number of mutating requests by ``user_agent_prefix`` after marker ``since``."""
        return len(self.writes(user_agent_prefix, since, settle))

    def diagnostics(self):
        return self.cluster.diagnostics()


def ansible_environment(collection_root, extra=None):
    """Environment for ``ansible-playbook`` runs that resolve ``scs.kaas`` to this checkout."""
    env = dict(os.environ)
    paths = [collection_root]
    venv_collections = os.path.join(REPO_ROOT, ".venv", "collections")
    for entry in env.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) + [venv_collections]:
        if entry and entry not in paths and os.path.isdir(entry):
            paths.append(entry)
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(paths)
    env["ANSIBLE_LOCALHOST_WARNING"] = "False"
    env["ANSIBLE_INVENTORY_UNPARSED_WARNING"] = "False"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    bindir = os.path.dirname(sys.executable)
    if bindir not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    if extra:
        env.update(extra)
    return env


def render_fixture(name, **values):
    """Text of ``tests/e2e/fixtures/<name>`` with ``${KEY}`` placeholders substituted."""
    import string

    with open(os.path.join(FIXTURES, name), "r") as handle:
        return string.Template(handle.read()).substitute(**values)


def condition(obj, ctype):
    """The v1beta2 condition ``ctype`` of ``obj`` (dict) or None."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


FIXTURE_CLASS = "e2e-inmemory"


def apply_fixture_class(mc, namespace, name=FIXTURE_CLASS):
    """Create ``namespace`` if needed, apply the fixture ClusterClass, wait until it is reconciled."""
    if mc.kubectl("get", "namespace", namespace, check=False).returncode != 0:
        mc.kubectl("create", "namespace", namespace)
    mc.kubectl("apply", "--server-side", "--field-manager=scs-kaas-e2e", "-f", "-",
               input=render_fixture("inmemory-clusterclass.yaml.tmpl", NAMESPACE=namespace, CLASS=name))
    api = mc.custom_objects()

    def reconciled():
        cc = api.get_namespaced_custom_object("cluster.x-k8s.io", "v1beta2", namespace, "clusterclasses", name)
        cond = condition(cc, "VariablesReady")
        return ((cc.get("status") or {}).get("observedGeneration") == cc["metadata"]["generation"]
                and cond and cond["status"] == "True")

    wait_for("ClusterClass %s reconciled" % name, reconciled, 60, 0.5, mc.diagnostics)


def fixture_cluster(namespace, name, version, workers, cls=FIXTURE_CLASS):
    """YAML of a topology Cluster of the fixture class (1 control plane, ``workers`` workers)."""
    return render_fixture("inmemory-cluster.yaml", NAMESPACE=namespace, NAME=name, CLASS=cls,
                          VERSION=version, WORKERS=workers)


CLUSTER_LABEL = "cluster.x-k8s.io/cluster-name"


def get_cluster(mc, namespace, name):
    return mc.custom_objects().get_namespaced_custom_object("cluster.x-k8s.io", "v1beta2", namespace, "clusters", name)


def machines(mc, namespace, name):
    return mc.custom_objects().list_namespaced_custom_object(
        "cluster.x-k8s.io", "v1beta2", namespace, "machines", label_selector="%s=%s" % (CLUSTER_LABEL, name))["items"]


def cluster_available(mc, namespace, name):
    cluster = get_cluster(mc, namespace, name)
    if (cluster.get("status") or {}).get("observedGeneration") != cluster["metadata"]["generation"]:
        return False
    cond = condition(cluster, "Available")
    return cond is not None and cond["status"] == "True"


def machines_running(mc, namespace, name, count, version):
    items = machines(mc, namespace, name)
    return (len(items) == count
            and all(m.get("status", {}).get("phase") == "Running" for m in items)
            and all(m["spec"].get("version") == version for m in items)
            and items)
