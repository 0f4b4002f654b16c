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
import uuid

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO_ROOT, "tests", "e2e", "fixtures")
EMBEDDED_SOURCE_DIR = os.path.join(REPO_ROOT, "roles", "management_cluster", "files", "embedded")
MUTATING_VERBS = ("create", "update", "patch", "delete", "deletecollection")


def _collection_version():
    """galaxy.yml's ``version`` (the one source of the collection version)."""
    with open(os.path.join(REPO_ROOT, "galaxy.yml")) as handle:
        for line in handle:
            if line.startswith("version:"):
                return line.split(":", 1)[1].strip().strip("\"'")
    raise RuntimeError("galaxy.yml has no version")


COLLECTION_VERSION = _collection_version()
E2E_USER_AGENT = "scs.kaas-e2e/%s" % COLLECTION_VERSION
# User agent of the marker requests AuditLog sends (never counted as a write).
AUDIT_MARKER_AGENT = "scs.kaas-e2e-audit-marker/%s" % COLLECTION_VERSION
# Every binary the e2e tests use; kubectl is built from the pinned k8s.io/kubernetes like the rest.
REQUIRED_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "capi-manager",
                     "kubeadm-bootstrap-manager", "kubeadm-control-plane-manager", "capd-manager",
                     "clusterctl", "kubectl")

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


def runner():
    """The command runner of code outside modules (subprocess; build-binaries.py uses it too)."""
    ensure_collection_path()
    from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command

    return local_command.runner()


def ensure_binaries(log=print, optional_providers=None):
    """Build (or find cached) binaries through the collection's build.py; return its result."""
    ensure_collection_path()
    from ansible_collections.scs.kaas.plugins.module_utils.embedded import build

    result = build.ensure_binaries(EMBEDDED_SOURCE_DIR, runner(), log=log, switches=optional_providers)
    missing = [n for n in REQUIRED_BINARIES if not os.access(result["binaries"].get(n) or "", os.X_OK)]
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


class AuditLog:
    """Mutating requests in a kube-apiserver audit log, read without relying on timing.

    The server writes a request's event right after the response, so a read right after an action
    could miss the action's last events. Every read therefore sends a marker request first (a
    dry-run create of a namespace with a unique name: the audit policy logs it like any mutating
    request, and it changes nothing), then reads the log until the marker's event is there (bounded
    wait) and keeps only the events before it. :meth:`mark` does the same and returns the position
    just after its marker, so neither end of a range depends on a sleep.

    Every complete line must be a JSON event: a line that does not parse fails the read. Only the
    last line may be incomplete, and only while the marker has not appeared yet (the server is
    still writing it).
    """

    MARKER_TIMEOUT = 30

    def __init__(self, path, kubeconfig):
        self.path = path
        self.kubeconfig = kubeconfig
        self._core = None

    def _send_marker(self):
        """Send a marker request; return the token its event's requestURI carries."""
        if self._core is None:
            from kubernetes import client as k8s_client, config as k8s_config

            api_client = k8s_config.new_client_from_config(config_file=self.kubeconfig)
            api_client.user_agent = AUDIT_MARKER_AGENT
            self._core = k8s_client.CoreV1Api(api_client)
        token = "audit-marker-%s" % uuid.uuid4().hex[:20]
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": token}}
        self._core.create_namespace(body, dry_run="All", field_manager=token)
        return token

    def _aligned_end(self):
        """Current end of the log, moved back to the start of a line the server is still writing."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - 65536))
                tail = handle.read()
        except FileNotFoundError:
            return 0
        if not tail or tail.endswith(b"\n"):
            return size
        last_newline = tail.rfind(b"\n")
        if last_newline < 0:
            raise AssertionError("%s: the last 64 KiB hold no complete line" % self.path)
        return size - len(tail) + last_newline + 1

    def _scan(self, start, token):
        """(events from ``start`` up to the marker, offset after the marker's line or None)."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(start)
                data = handle.read()
        except FileNotFoundError:
            return [], None
        events = []
        pos = 0
        while True:
            newline = data.find(b"\n", pos)
            if newline < 0:
                return events, None  # the marker is not there yet; the rest may be a partial line
            raw = data[pos:newline]
            try:
                event = json.loads(raw)
                if not isinstance(event, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                raise AssertionError("%s: the line at byte %d is not a JSON audit event (%s): %r"
                                     % (self.path, start + pos, exc, raw[:300]))
            if token in (event.get("requestURI") or ""):
                return events, start + newline + 1
            if (event.get("stage") in ("ResponseComplete", "Panic")
                    and not (event.get("userAgent") or "").startswith(AUDIT_MARKER_AGENT)):
                events.append(event)
            pos = newline + 1

    def _read_until_marker(self, start):
        token = self._send_marker()
        deadline = time.monotonic() + self.MARKER_TIMEOUT
        delay = 0.01
        while True:
            events, end = self._scan(start, token)
            if end is not None:
                return events, end
            if time.monotonic() > deadline:
                raise AssertionError("the marker request %s did not appear in %s within %ds"
                                     % (token, self.path, self.MARKER_TIMEOUT))
            time.sleep(delay)  # bounded wait for the marker, not a guess how long writing takes
            delay = min(delay * 2, 0.2)

    def mark(self):
        """A position for ``since``: just after a marker sent now (every earlier event is before it)."""
        return self._read_until_marker(self._aligned_end())[1]

    def audit_events(self, since=0):
        """Audit events (dicts, ResponseComplete/Panic stages) after position ``since`` (from :meth:`mark`)."""
        return self._read_until_marker(since)[0]

    def writes(self, user_agent_prefix, since=0):
        """Mutating requests (not ``dryRun=All``) whose user agent starts with the prefix."""
        seen = set()
        out = []
        for event in self.audit_events(since):
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

    def count_writes(self, user_agent_prefix, since=0):
        """Number of mutating requests by ``user_agent_prefix`` after position ``since``."""
        return len(self.writes(user_agent_prefix, since))


class ManagementCluster:
    """A running (or stopped) embedded management cluster for tests.

    Attributes: ``state_dir``, ``kubeconfig``, ``audit_log``, ``binaries`` (component -> path,
    incl. ``clusterctl`` and ``kubectl``), ``module_dirs``, ``ports``, ``cluster`` (the runtime's
    ``EmbeddedCluster``), ``last_start`` (result dict of the last :meth:`start`).
    """

    def __init__(self, state_dir, build_result, ports=None, optional_providers=None, docker_host=None):
        ensure_collection_path()
        from ansible_collections.scs.kaas.plugins.module_utils.embedded import runtime

        self._runtime = runtime
        self.state_dir = os.path.abspath(state_dir)
        self.binaries = dict(build_result["binaries"])
        self.module_dirs = dict(build_result["module_dirs"])
        self.cluster = runtime.EmbeddedCluster(self.state_dir, binaries=self.binaries,
                                               module_dirs=self.module_dirs, ports=ports, runner=runner(),
                                               optional_providers=optional_providers, docker_host=docker_host)
        self.ports = self.cluster.ports
        self.kubeconfig = self.cluster.paths["kubeconfig"]
        self.audit_log = self.cluster.paths["audit_log"]
        self.last_start = None
        self._api_client = None
        self._audit = AuditLog(self.audit_log, self.kubeconfig)

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
        for name in self._runtime.ALL_COMPONENTS:
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
        """Run the built kubectl with this cluster's kubeconfig; return CompletedProcess (text)."""
        cmd = [self.binaries["kubectl"], "--kubeconfig", self.kubeconfig] + [str(a) for a in args]
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

    # -- audit log (see AuditLog) -------------------------------------------------------------
    def mark(self):
        """A position for ``since``: every request answered before this call is before it."""
        return self._audit.mark()

    def audit_events(self, since=0):
        """Audit events (ResponseComplete/Panic) after marker ``since``, up to a marker sent now."""
        return self._audit.audit_events(since)

    def writes(self, user_agent_prefix, since=0):
        """Mutating requests (not ``dryRun=All``) whose user agent starts with the prefix."""
        return self._audit.writes(user_agent_prefix, since)

    def count_writes(self, user_agent_prefix, since=0):
        """Number of mutating requests by ``user_agent_prefix`` after marker ``since``."""
        return self._audit.count_writes(user_agent_prefix, since)

    def diagnostics(self):
        return self.cluster.diagnostics()


def ansible_environment(collection_root, extra=None, kubectl=None):
    """Environment for ``ansible-playbook`` runs that resolve ``scs.kaas`` to this checkout.

    ``kubectl``: the built kubectl, whose directory goes first on ``PATH`` (so nothing a playbook
    runs picks up whatever kubectl the machine has installed).
    """
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
    for bindir in [os.path.dirname(sys.executable)] + ([os.path.dirname(kubectl)] if kubectl else []):
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


def create_available_cluster(mc, namespace, name, version, workers=1):
    """The fixture class and a Cluster of it (server-side apply), waited for until Available."""
    apply_fixture_class(mc, namespace)
    mc.kubectl("apply", "--server-side", "--field-manager=scs-kaas-e2e", "-f", "-",
               input=fixture_cluster(namespace, name, version, workers))
    wait_for("Cluster %s available" % name, lambda: cluster_available(mc, namespace, name), 240, 2, mc.diagnostics)


def machines_running(mc, namespace, name, count, version):
    items = machines(mc, namespace, name)
    return (len(items) == count
            and all(m.get("status", {}).get("phase") == "Running" for m in items)
            and all(m["spec"].get("version") == version for m in items)
            and items)


PROVIDER_LABEL = "cluster.x-k8s.io/provider"


def capi_kinds(mc):
    """Every namespaced, listable kind of the Cluster API and provider groups, by API discovery.

    Groups: every served group named ``*.x-k8s.io`` plus the group of every CRD labelled
    ``cluster.x-k8s.io/provider`` (a provider outside ``x-k8s.io``). Returns sorted
    ``(group, version, plural, kind)``, one per (group, kind), at the group's preferred version
    when it serves the kind.
    """
    from kubernetes import client as k8s_client

    api_client = mc.api_client()
    crds = k8s_client.ApiextensionsV1Api(api_client).list_custom_resource_definition(
        label_selector=PROVIDER_LABEL).items
    provider_groups = {crd.spec.group for crd in crds}
    custom = k8s_client.CustomObjectsApi(api_client)
    found = {}
    for group in k8s_client.ApisApi(api_client).get_api_versions().groups:
        if not (group.name.endswith(".x-k8s.io") or group.name in provider_groups):
            continue
        preferred = group.preferred_version.version
        versions = sorted((v.version for v in group.versions), key=lambda v: v != preferred)
        for version in versions:
            for res in custom.get_api_resources(group.name, version).resources:
                if "/" in res.name or not res.namespaced or "list" not in res.verbs:
                    continue
                found.setdefault((group.name, res.kind), (group.name, version, res.name, res.kind))
    return sorted(found.values())


def _belongs_to(obj, cluster_name):
    meta = obj.get("metadata") or {}
    if (meta.get("labels") or {}).get(CLUSTER_LABEL) == cluster_name:
        return True
    if (obj.get("spec") or {}).get("clusterName") == cluster_name:
        return True
    return any(ref.get("kind") == "Cluster" and ref.get("name") == cluster_name
               for ref in meta.get("ownerReferences") or [])


def cluster_objects(mc, namespace, cluster_name, kinds=None):
    """``Kind/name`` of every object of a CAPI/provider kind (see :func:`capi_kinds`) that is the
    Cluster ``cluster_name`` or belongs to it (cluster-name label, ``spec.clusterName`` or an owner
    reference to the Cluster), plus Secrets with its cluster-name label, in ``namespace``."""
    return sorted(cluster_object_uids(mc, namespace, cluster_name, kinds).values())


def cluster_object_uids(mc, namespace, cluster_name, kinds=None):
    """uid -> ``Kind/name`` of the objects :func:`cluster_objects` lists (from the same listings)."""
    api = mc.custom_objects()
    out = {}
    for group, version, plural, kind in kinds or capi_kinds(mc):
        for item in api.list_namespaced_custom_object(group, version, namespace, plural)["items"]:
            is_cluster = group == "cluster.x-k8s.io" and kind == "Cluster" and item["metadata"]["name"] == cluster_name
            if is_cluster or _belongs_to(item, cluster_name):
                out[item["metadata"]["uid"]] = "%s.%s/%s" % (kind, group, item["metadata"]["name"])
    secrets = mc.kubectl_json("get", "secrets", "-n", namespace, "-l", "%s=%s" % (CLUSTER_LABEL, cluster_name))
    out.update((s["metadata"]["uid"], "Secret/%s" % s["metadata"]["name"]) for s in secrets["items"])
    return out


def enter_private_netns(argv=None):
    """Re-run this program in a private network namespace, unless it runs in one already.

    Benchmarks start embedded management clusters on the fixed loopback ports; like `make e2e` they
    must never meet one that runs on this machine. ``.ci/lib/private-netns.py`` makes the namespace
    (or refuses while another cluster holds the ports, where none can be made); its marker variable
    ``SCS_KAAS_PRIVATE_NETNS=1`` says it is done.
    """
    if os.environ.get("SCS_KAAS_PRIVATE_NETNS") == "1":
        return
    launcher = os.path.join(REPO_ROOT, ".ci", "lib", "private-netns.py")
    argv = list(sys.argv if argv is None else argv)
    os.execv(sys.executable, [sys.executable, launcher, "--", sys.executable] + argv)
