# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Start, stop and inspect the embedded management cluster (local processes on 127.0.0.1).

Layout of the state directory (directories 0700, secrets 0600)::

    <state_dir>/
      kubeconfig             admin kubeconfig (client certificate, 0600)
      state.json             ports, binaries and module dirs of the last start (0600)
      pki/                   see pki.py
      etcd/                  etcd data dir
      logs/<component>.log   stdout+stderr of each process (0600)
      pids/<component>.pid   JSON {pid, starttime, binary, argv} of each process start() started
      bin/kubectl            link to the kubectl built with the cluster (when ``binaries`` has one)
      audit/policy.yaml      kube-apiserver audit policy (mutating verbs at Metadata level)
      audit/audit.log        kube-apiserver audit log (JSON lines)

Components, in start order: ``etcd``, ``kube-apiserver``, ``kube-controller-manager``, then the
CAPI managers ``capi-manager``, ``kubeadm-bootstrap-manager``, ``kubeadm-control-plane-manager``
and ``capd-manager`` (started together after the CRDs, webhook configurations and the clusterctl
inventory are in place).

Processes are detached (own session, reparented to init through a short-lived spawner), so they
outlive the caller. ``stop`` only signals processes whose pid file it finds AND whose
``/proc/<pid>`` still shows the recorded start time and binary.

Objects are applied with server-side apply over plain HTTPS (admin client certificate), field
manager ``scs.kaas-embedded`` and user agent ``scs.kaas-embedded/<version>``; an object whose
desired fields already match the live object is not sent, so a second ``start`` sends no
mutating request.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import errno
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

try:
    from http.client import HTTPSConnection, HTTPConnection
    from urllib.parse import urlencode, quote
except ImportError:  # pragma: no cover - Python 2 is not supported
    HTTPSConnection = HTTPConnection = None
    urlencode = quote = None

from ansible_collections.scs.kaas.plugins.module_utils.embedded import manifests as _manifests
from ansible_collections.scs.kaas.plugins.module_utils.embedded import pki as _pki

USER_AGENT = "scs.kaas-embedded/1.0.0"
FIELD_MANAGER = "scs.kaas-embedded"

ETCD = "etcd"
APISERVER = "kube-apiserver"
KCM = "kube-controller-manager"
CAPI = "capi-manager"
BOOTSTRAP = "kubeadm-bootstrap-manager"
CONTROLPLANE = "kubeadm-control-plane-manager"
CAPD = "capd-manager"
MANAGERS = (CAPI, BOOTSTRAP, CONTROLPLANE, CAPD)
COMPONENTS = (ETCD, APISERVER, KCM) + MANAGERS
# Binaries the runtime needs (clusterctl and kubectl are optional: kubectl, built like the others,
# only serves the diagnostics of a failed start; clusterctl is for callers).
REQUIRED_BINARIES = COMPONENTS
MODULE_DIRS = ("cluster-api", "cluster-api-test", "cluster-api-provider-openstack")

# Port of the in-memory backend's debug server in CAPD (fixed in upstream code) and the first
# port it uses for workload clusters (one per cluster, counting up).
INMEMORY_DEBUG_PORT = 19000
INMEMORY_MIN_PORT = 20000
INMEMORY_RESERVED = (INMEMORY_MIN_PORT, INMEMORY_MIN_PORT + 999)

# Defaults stay clear of k3s/kubeadm (6443, 2379/2380, 10250-10259), controller-runtime (8443,
# 9440, 9443) and the in-memory backend (19000, 20000+).
DEFAULT_PORTS = {
    "etcd_client": 16379,
    "etcd_peer": 16380,
    "kube_apiserver": 16443,
    "kube_controller_manager": 16257,
    "capi_webhook": 16501,
    "capi_health": 16511,
    "capi_diagnostics": 16521,
    "bootstrap_webhook": 16502,
    "bootstrap_health": 16512,
    "bootstrap_diagnostics": 16522,
    "controlplane_webhook": 16503,
    "controlplane_health": 16513,
    "controlplane_diagnostics": 16523,
    "capd_webhook": 16504,
    "capd_health": 16514,
    "capd_diagnostics": 16524,
}

_MANAGER_PORT_PREFIX = {CAPI: "capi", BOOTSTRAP: "bootstrap", CONTROLPLANE: "controlplane", CAPD: "capd"}

# CAPI feature gates the managers get. ClusterTopology is still alpha (off by default) in
# cluster-api v1.14 (feature/feature.go), and ClusterClass-based Clusters need it.
FEATURE_GATES = "ClusterTopology=true"

# kube-controller-manager controllers: CAPI deletion relies on owner-reference garbage
# collection, namespaces must be finalized, and service accounts get their tokens.
KCM_CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
)

# Limits of every wait (seconds, before ``timeout_scale``); about 3x what was seen on 2 cores.
TIMEOUTS = {
    ETCD: 45,
    APISERVER: 150,
    KCM: 90,
    "crds": 90,
    "managers": 180,
    "stop": 30,
}

MUTATING_VERBS = ("create", "update", "patch", "delete", "deletecollection")


class EmbeddedError(Exception):
    """Failure of the embedded runtime; ``details`` holds diagnostics (log tails, kubectl)."""

    def __init__(self, message, details=None):
        super(EmbeddedError, self).__init__(message)
        self.message = message
        self.details = details or ""

    def __str__(self):
        if self.details:
            return "%s\n%s" % (self.message, self.details)
        return self.message


# --------------------------------------------------------------------------- helpers


def _write_file(path, data, mode=0o600):
    """Write ``data`` atomically if it differs; return True when the file changed."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                if (os.stat(path).st_mode & 0o777) != mode:
                    os.chmod(path, mode)
                return False
    except (IOError, OSError):
        pass
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


def _ensure_link(path, target):
    """Make ``path`` a symbolic link to ``target`` (atomically); return True when it changed."""
    if os.path.islink(path) and os.readlink(path) == target:
        return False
    tmp = "%s.tmp-%d" % (path, os.getpid())
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, path)
    return True


def _tail(path, lines=200):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 256 * 1024))
            data = handle.read().decode("utf-8", "replace")
    except (IOError, OSError) as exc:
        return "(no log: %s)" % exc
    return "\n".join(data.splitlines()[-lines:])


def proc_starttime(pid):
    """Start time (clock ticks after boot) of ``pid`` or None if it does not exist / is a zombie."""
    try:
        with open("/proc/%d/stat" % pid, "r") as handle:
            stat = handle.read()
    except (IOError, OSError):
        return None
    # The command name is in parentheses and may contain spaces.
    rest = stat[stat.rfind(")") + 2:].split()
    state = rest[0]
    if state in ("Z", "X"):
        return None
    return int(rest[19])


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            raw = handle.read()
    except (IOError, OSError):
        return None
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def proc_status_kb(pid, field):
    """A ``kB`` value (e.g. VmHWM, VmRSS) from /proc/<pid>/status, or None."""
    try:
        with open("/proc/%d/status" % pid, "r") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (IOError, OSError, ValueError):
        return None
    return None


_SS_USERS = re.compile(r'\("([^"]*)",pid=(\d+)')


def listeners():
    """Listening TCP sockets from ``ss -ltnpH``: list of dicts (address, port, processes)."""
    ss = shutil.which("ss") or "/usr/bin/ss"
    try:
        out = subprocess.run([ss, "-ltnpH"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             check=True, timeout=20).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmbeddedError("cannot list listening sockets with `ss -ltnp`: %s" % exc)
    result = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        local = parts[3]
        host, _sep, port = local.rpartition(":")
        try:
            port = int(port)
        except ValueError:
            continue
        host = host.strip("[]")
        if "%" in host:
            host = host.split("%", 1)[0]
        procs = [(name, int(pid)) for name, pid in _SS_USERS.findall(line)]
        result.append({"address": host, "port": port, "processes": procs, "line": line})
    return result


def descendants(pids):
    """``pids`` plus all their descendant pids (read from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "r") as handle:
                stat = handle.read()
        except (IOError, OSError):
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        children.setdefault(int(rest[1]), []).append(int(entry))
    out = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        out.add(pid)
        todo.extend(children.get(pid, []))
    return out


def _ssl_context(cafile, certfile=None, keyfile=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    return ctx


_SPAWNER = r"""
import json, os, subprocess, sys
spec = json.loads(sys.stdin.read())
fd = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
proc = subprocess.Popen(spec["argv"], env=spec["env"], cwd=spec["cwd"], stdin=subprocess.DEVNULL,
                        stdout=fd, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
sys.stdout.write(str(proc.pid))
"""


def spawn_detached(argv, env, log_path, cwd):
    """Start ``argv`` in its own session, reparented to init; return its pid."""
    spec = json.dumps({"argv": argv, "env": env, "log": log_path, "cwd": cwd})
    proc = subprocess.run([sys.executable, "-c", _SPAWNER], input=spec.encode("utf-8"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    if proc.returncode != 0:
        raise EmbeddedError("cannot start %s: %s" % (argv[0], proc.stderr.decode("utf-8", "replace").strip()))
    return int(proc.stdout.decode("ascii").strip())


# --------------------------------------------------------------------------- API access


class ApiClient:
    """Minimal HTTPS client for the embedded kube-apiserver (admin client certificate)."""

    def __init__(self, server_port, ca_file, cert_file, key_file, user_agent=USER_AGENT, timeout=30):
        self.port = int(server_port)
        self.ctx = _ssl_context(ca_file, cert_file, key_file)
        self.user_agent = user_agent
        self.timeout = timeout

    def request(self, method, path, body=None, content_type="application/json", query=None, retry_for=30):
        """One API request; 429/503 (e.g. a new CRD's storage still initializing) are retried."""
        deadline = time.time() + retry_for
        while True:
            status, payload = self._request(method, path, body, content_type, query)
            if status not in (429, 503) or time.time() > deadline:
                return status, payload
            time.sleep(0.5)

    def _request(self, method, path, body, content_type, query):
        if query:
            path = path + "?" + urlencode(query)
        conn = HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=self.timeout)
        try:
            headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
                headers["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            payload = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            payload = raw.decode("utf-8", "replace")
        return resp.status, payload


_RESOURCES = {
    ("apiextensions.k8s.io", "CustomResourceDefinition"): ("customresourcedefinitions", False),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): ("mutatingwebhookconfigurations", False),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): ("validatingwebhookconfigurations", False),
    ("", "Namespace"): ("namespaces", False),
    ("clusterctl.cluster.x-k8s.io", "Provider"): ("providers", True),
}


def object_path(obj):
    api_version = obj["apiVersion"]
    group = api_version.rpartition("/")[0]
    plural, namespaced = _RESOURCES[(group, obj["kind"])]
    base = "/api/%s" % api_version if not group else "/apis/%s" % api_version
    meta = obj["metadata"]
    if namespaced:
        return "%s/namespaces/%s/%s/%s" % (base, quote(meta["namespace"]), plural, quote(meta["name"]))
    return "%s/%s/%s" % (base, plural, quote(meta["name"]))


def collection_path(obj):
    """LIST path of ``obj``'s kind (all namespaces for namespaced kinds)."""
    api_version = obj["apiVersion"]
    group = api_version.rpartition("/")[0]
    plural = _RESOURCES[(group, obj["kind"])][0]
    base = "/api/%s" % api_version if not group else "/apis/%s" % api_version
    return "%s/%s" % (base, plural)


def is_subset(desired, live):
    """True when every field of ``desired`` is present with the same value in ``live``."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(k in live and is_subset(v, live[k]) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return False
        return all(is_subset(d, l) for d, l in zip(desired, live))
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live
    return desired == live


# --------------------------------------------------------------------------- the cluster


def validate_ports(ports, var_name="ports"):
    """Merge ``ports`` over the defaults and validate; raise EmbeddedError naming the bad key."""
    merged = dict(DEFAULT_PORTS)
    for key, value in (ports or {}).items():
        if key not in DEFAULT_PORTS:
            raise EmbeddedError(
                "%s: unknown key %r; valid keys: %s" % (var_name, key, ", ".join(sorted(DEFAULT_PORTS)))
            )
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise EmbeddedError("%s.%s: %r is not a port number (1-65535)" % (var_name, key, value))
        if isinstance(value, bool) or not 1 <= number <= 65535:
            raise EmbeddedError("%s.%s: %r is not a port number (1-65535)" % (var_name, key, value))
        merged[key] = number
    seen = {}
    given = set((ports or {}).keys())
    # Defaults first, so a collision is reported on the key the caller set.
    for key in sorted(merged, key=lambda k: (k in given, k)):
        port = merged[key]
        if port == INMEMORY_DEBUG_PORT or INMEMORY_RESERVED[0] <= port <= INMEMORY_RESERVED[1]:
            raise EmbeddedError(
                "%s.%s: %d is reserved for the in-memory backend of CAPD (%d and %d-%d); choose another port"
                % (var_name, key, port, INMEMORY_DEBUG_PORT, INMEMORY_RESERVED[0], INMEMORY_RESERVED[1])
            )
        if port in seen:
            raise EmbeddedError(
                "%s.%s: port %d is also used for %s.%s; every port must be distinct"
                % (var_name, key, port, var_name, seen[port])
            )
        seen[port] = key
    return merged


class EmbeddedCluster:
    """One embedded management cluster in ``state_dir``.

    ``binaries``: component -> executable path (see ``REQUIRED_BINARIES``); ``module_dirs``: the
    Go module cache directories of cluster-api, its test module and CAPO. Both may be omitted for
    ``status``/``stop``, which read ``state.json`` written by the last start.
    """

    def __init__(self, state_dir, binaries=None, module_dirs=None, ports=None, timeout_scale=1.0,
                 log=None, kubectl=None):
        if not state_dir:
            raise EmbeddedError("state_dir: must be a directory path")
        self.state_dir = os.path.abspath(os.path.expanduser(state_dir))
        self.binaries = dict(binaries or {})
        self.module_dirs = dict(module_dirs or {})
        self._ports_given = ports
        self.ports = validate_ports(ports)
        self.timeout_scale = float(timeout_scale)
        self.log = log or (lambda msg: None)
        self._kubectl = kubectl
        j = os.path.join
        self.paths = {
            "kubeconfig": j(self.state_dir, "kubeconfig"),
            "state": j(self.state_dir, "state.json"),
            "pki": j(self.state_dir, "pki"),
            "etcd": j(self.state_dir, "etcd"),
            "logs": j(self.state_dir, "logs"),
            "pids": j(self.state_dir, "pids"),
            "audit": j(self.state_dir, "audit"),
            "audit_policy": j(self.state_dir, "audit", "policy.yaml"),
            "audit_log": j(self.state_dir, "audit", "audit.log"),
            "cache": j(self.state_dir, "cache"),
            "kubectl": j(self.state_dir, "bin", "kubectl"),
        }
        self.pki = _pki.pki_paths(self.paths["pki"])
        self.timings = {}

    @property
    def kubectl_bin(self):
        """kubectl for diagnostics: the given one, else the built one (``binaries``); or None.

        Never one from PATH or a system directory: its version would be whatever is installed.
        """
        return self._kubectl or self.binaries.get("kubectl")

    # ------------------------------------------------------------------ configuration

    def _load_state(self):
        try:
            with open(self.paths["state"], "r") as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return {}

    def _fill_from_state(self):
        state = self._load_state()
        if not self.binaries:
            self.binaries = state.get("binaries", {})
        if not self.module_dirs:
            self.module_dirs = state.get("module_dirs", {})
        if self._ports_given is None and state.get("ports"):
            self.ports = validate_ports(state["ports"])

    def validate(self, binaries_var="binaries", module_dirs_var="module_dirs", files=True):
        """Check binaries and module dirs; ``files=False`` (check mode) only checks the keys."""
        for name in REQUIRED_BINARIES:
            path = self.binaries.get(name)
            if not path:
                raise EmbeddedError("%s: no path for %r; needed: %s" % (binaries_var, name, ", ".join(REQUIRED_BINARIES)))
            if files and not (os.path.isfile(path) and os.access(path, os.X_OK)):
                raise EmbeddedError("%s[%r]: %s is not an executable file" % (binaries_var, name, path))
        for name in MODULE_DIRS:
            path = self.module_dirs.get(name)
            if not path:
                raise EmbeddedError("%s: no directory for %r; needed: %s" % (module_dirs_var, name, ", ".join(MODULE_DIRS)))
            if files and not os.path.isdir(path):
                raise EmbeddedError("%s[%r]: %s is not a directory" % (module_dirs_var, name, path))

    def component_ports(self, name):
        """Ports of one component: list of (purpose, port)."""
        p = self.ports
        if name == ETCD:
            return [("client", p["etcd_client"]), ("peer", p["etcd_peer"])]
        if name == APISERVER:
            return [("secure", p["kube_apiserver"])]
        if name == KCM:
            return [("secure", p["kube_controller_manager"])]
        prefix = _MANAGER_PORT_PREFIX[name]
        out = [(kind, p["%s_%s" % (prefix, kind)]) for kind in ("webhook", "health", "diagnostics")]
        if name == CAPD:
            out.append(("inmemory-debug", INMEMORY_DEBUG_PORT))
        return out

    def _argv(self, name):
        b = self.binaries[name]
        pk = self.pki
        p = self.ports
        kubeconfig = self.paths["kubeconfig"]
        if name == ETCD:
            return [
                b,
                # The wrapper binds 127.0.0.1 only; plain HTTP on loopback (single member).
                "--name=embedded",
                "--data-dir=%s" % self.paths["etcd"],
                "--client-port=%d" % p["etcd_client"],
                "--peer-port=%d" % p["etcd_peer"],
                "--log-level=warn",
            ]
        if name == APISERVER:
            return [
                b,
                "--etcd-servers=http://127.0.0.1:%d" % p["etcd_client"],
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                "--secure-port=%d" % p["kube_apiserver"],
                "--tls-cert-file=%s" % pk["apiserver_crt"],
                "--tls-private-key-file=%s" % pk["apiserver_key"],
                "--client-ca-file=%s" % pk["ca_crt"],
                "--anonymous-auth=false",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                "--service-account-key-file=%s" % pk["sa_pub"],
                "--service-account-signing-key-file=%s" % pk["sa_key"],
                "--service-cluster-ip-range=%s" % _pki.SERVICE_CIDR,
                # The apiserver would otherwise publish 127.0.0.1 as the endpoint of the
                # `kubernetes` Service, which endpoint validation rejects (loopback).
                "--endpoint-reconciler-type=none",
                "--audit-policy-file=%s" % self.paths["audit_policy"],
                "--audit-log-path=%s" % self.paths["audit_log"],
                "--audit-log-format=json",
                "--audit-log-mode=blocking",
                "--audit-log-maxsize=1000",
                "--audit-log-maxbackup=2",
                "--profiling=false",
                "--event-ttl=1h",
            ]
        if name == KCM:
            return [
                b,
                "--kubeconfig=%s" % kubeconfig,
                "--authentication-kubeconfig=%s" % kubeconfig,
                "--authorization-kubeconfig=%s" % kubeconfig,
                "--bind-address=127.0.0.1",
                "--secure-port=%d" % p["kube_controller_manager"],
                "--tls-cert-file=%s" % pk["kcm_crt"],
                "--tls-private-key-file=%s" % pk["kcm_key"],
                "--controllers=%s" % ",".join(KCM_CONTROLLERS),
                "--service-account-private-key-file=%s" % pk["sa_key"],
                "--root-ca-file=%s" % pk["ca_crt"],
                "--use-service-account-credentials=false",
                "--leader-elect=false",
                "--profiling=false",
            ]
        prefix = _MANAGER_PORT_PREFIX[name]
        return [
            b,
            "--kubeconfig=%s" % kubeconfig,
            "--leader-elect=false",
            "--webhook-port=%d" % p["%s_webhook" % prefix],
            "--webhook-cert-dir=%s" % pk["webhook_dir"],
            "--health-addr=127.0.0.1:%d" % p["%s_health" % prefix],
            "--diagnostics-address=127.0.0.1:%d" % p["%s_diagnostics" % prefix],
            "--insecure-diagnostics",
            "--feature-gates=%s" % FEATURE_GATES,
        ]

    def _env(self, name):
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "KUBECONFIG": self.paths["kubeconfig"],
            "NO_PROXY": "127.0.0.1,localhost,::1",
            "no_proxy": "127.0.0.1,localhost,::1",
        }
        if name == CAPD:
            # Advertised endpoint of every in-memory workload cluster.
            env["POD_IP"] = "127.0.0.1"
        return env

    # ------------------------------------------------------------------ processes

    def _pid_file(self, name):
        return os.path.join(self.paths["pids"], "%s.pid" % name)

    def _log_file(self, name):
        return os.path.join(self.paths["logs"], "%s.log" % name)

    def read_pid(self, name):
        try:
            with open(self._pid_file(name), "r") as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return None

    def running(self, name):
        """The pid record of ``name`` if its process is alive and still that binary, else None."""
        record = self.read_pid(name)
        if not record:
            return None
        pid = int(record.get("pid", 0))
        if pid <= 0 or proc_starttime(pid) != record.get("starttime"):
            return None
        cmdline = proc_cmdline(pid)
        if not cmdline or cmdline[0] != record.get("binary"):
            return None
        record["argv_live"] = cmdline
        return record

    def _gone(self, name):
        """Why ``name`` is not running, confirmed after a short pause (None if it is running).

        One look at /proc right after a start has been seen to miss a live process once, so a
        component counts as gone only when a second look a moment later agrees.
        """
        time.sleep(0.3)
        if self.running(name):
            return None
        record = self.read_pid(name)
        if not record:
            return "no pid file"
        pid = int(record.get("pid", 0))
        if proc_starttime(pid) is None:
            return "pid %d does not exist or is a zombie" % pid
        if proc_starttime(pid) != record.get("starttime"):
            return "pid %d now belongs to another process" % pid
        return "pid %d runs %s, not %s" % (pid, (proc_cmdline(pid) or ["?"])[0], record.get("binary"))

    def _start_process(self, name):
        argv = self._argv(name)
        log_path = self._log_file(name)
        with open(log_path, "ab") as handle:
            handle.write(("\n==== %s starting %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), " ".join(argv))).encode("utf-8"))
        os.chmod(log_path, 0o600)
        pid = spawn_detached(argv, self._env(name), log_path, self.state_dir)
        starttime = None
        for _dummy in range(50):
            starttime = proc_starttime(pid)
            if starttime is not None:
                break
            time.sleep(0.02)
        if starttime is None:
            raise EmbeddedError("%s exited right after start" % name, self._diagnostics([name]))
        record = {"pid": pid, "starttime": starttime, "binary": argv[0], "argv": argv,
                  "ports": dict(self.component_ports(name))}
        _write_file(self._pid_file(name), json.dumps(record, indent=2, sort_keys=True) + "\n", 0o600)
        self.log("started %s (pid %d)" % (name, pid))
        return record

    def _stop_process(self, name, timeout=None):
        record = self.running(name)
        if not record:
            if os.path.exists(self._pid_file(name)):
                os.unlink(self._pid_file(name))
            return False
        pid = record["pid"]
        timeout = timeout or TIMEOUTS["stop"] * self.timeout_scale
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise
        deadline = time.time() + timeout
        while time.time() < deadline and proc_starttime(pid) == record["starttime"]:
            self._reap(pid)
            time.sleep(0.1)
        if proc_starttime(pid) == record["starttime"]:
            self.log("%s (pid %d) ignored SIGTERM for %ds: SIGKILL" % (name, pid, timeout))
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            deadline = time.time() + 10
            while time.time() < deadline and proc_starttime(pid) == record["starttime"]:
                self._reap(pid)
                time.sleep(0.1)
        self._reap(pid)
        if proc_starttime(pid) == record["starttime"]:
            raise EmbeddedError("%s (pid %d) did not exit after SIGKILL" % (name, pid))
        os.unlink(self._pid_file(name))
        self.log("stopped %s (pid %d)" % (name, pid))
        return True

    @staticmethod
    def _reap(pid):
        try:
            os.waitpid(pid, os.WNOHANG)
        except OSError:
            pass

    # ------------------------------------------------------------------ health

    def api(self, timeout=30):
        return ApiClient(self.ports["kube_apiserver"], self.pki["ca_crt"], self.pki["admin_crt"],
                         self.pki["admin_key"], timeout=timeout)

    def _https_ok(self, port, path, cafile, cert=None, key=None, timeout=3):
        try:
            conn = HTTPSConnection("127.0.0.1", port, context=_ssl_context(cafile, cert, key), timeout=timeout)
            conn.request("GET", path, headers={"User-Agent": USER_AGENT})
            status = conn.getresponse().status
            conn.close()
            return status == 200
        except (OSError, ssl.SSLError, ValueError):
            return False

    @staticmethod
    def _http_ok(port, path, timeout=3):
        try:
            conn = HTTPConnection("127.0.0.1", port, timeout=timeout)
            conn.request("GET", path, headers={"User-Agent": USER_AGENT})
            status = conn.getresponse().status
            conn.close()
            return status == 200
        except (OSError, ValueError):
            return False

    def _tls_ok(self, port, cafile, timeout=3):
        try:
            ctx = _ssl_context(cafile)
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
                with ctx.wrap_socket(sock, server_hostname="127.0.0.1"):
                    return True
        except (OSError, ssl.SSLError, ValueError):
            return False

    def healthy(self, name):
        p = self.ports
        if name == ETCD:
            return self._http_ok(p["etcd_client"], "/health")
        if name == APISERVER:
            return self._https_ok(p["kube_apiserver"], "/readyz", self.pki["ca_crt"],
                                  self.pki["admin_crt"], self.pki["admin_key"])
        if name == KCM:
            return self._https_ok(p["kube_controller_manager"], "/healthz", self.pki["ca_crt"])
        prefix = _MANAGER_PORT_PREFIX[name]
        return (self._http_ok(p["%s_health" % prefix], "/readyz")
                and self._tls_ok(p["%s_webhook" % prefix], self.pki["webhook_ca_crt"]))

    def _wait(self, what, limit, check, components=()):
        """Poll ``check`` until true; fail after ``limit`` (scaled) or when a component died."""
        start = time.time()
        deadline = start + limit * self.timeout_scale
        delay = 0.05
        while True:
            if check():
                self.timings[what] = round(time.time() - start, 2)
                return
            for name in components:
                reason = None if self.running(name) else self._gone(name)
                if reason:
                    raise EmbeddedError("%s exited while waiting for %s (%s)" % (name, what, reason),
                                        self._diagnostics())
            if time.time() > deadline:
                raise EmbeddedError("timed out after %ds waiting for %s" % (limit * self.timeout_scale, what),
                                    self._diagnostics())
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    # ------------------------------------------------------------------ diagnostics

    def _diagnostics(self, names=None):
        parts = []
        for name in names or COMPONENTS:
            path = self._log_file(name)
            if os.path.exists(path):
                parts.append("---- last 200 lines of %s ----\n%s" % (path, _tail(path, 200)))
        kubectl = self.kubectl_bin
        if os.path.exists(self.paths["kubeconfig"]) and kubectl and os.access(kubectl, os.X_OK):
            try:
                out = subprocess.run(
                    [kubectl, "--kubeconfig", self.paths["kubeconfig"], "--request-timeout=10s",
                     "get", "cluster,machine,kcp,md", "-A", "-o", "wide"],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30, check=False,
                ).stdout.decode("utf-8", "replace")
            except (OSError, subprocess.SubprocessError) as exc:
                out = "(kubectl failed: %s)" % exc
            parts.append("---- kubectl get cluster,machine,kcp,md -A -o wide ----\n%s" % out)
        return "\n".join(parts)

    def diagnostics(self):
        return self._diagnostics()

    # ------------------------------------------------------------------ objects

    def _apply(self, obj, api):
        path = object_path(obj)
        status, result = api.request(
            "PATCH", path, body=obj, content_type="application/apply-patch+yaml",
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
        )
        if status not in (200, 201):
            raise EmbeddedError("apply %s %s: HTTP %s: %s" % (obj["kind"], obj["metadata"]["name"], status, result))
        return "%s/%s" % (obj["kind"], obj["metadata"]["name"])

    def _live_objects(self, objs, api):
        """Live objects of the kinds in ``objs``: one LIST per collection, keyed like ``_key``."""
        live = {}
        for path in sorted(set(collection_path(o) for o in objs)):
            status, data = api.request("GET", path)
            if status != 200:
                raise EmbeddedError("GET %s: HTTP %s: %s" % (path, status, data), self._diagnostics())
            for item in data.get("items") or []:
                meta = item["metadata"]
                live[(path, meta.get("namespace"), meta["name"])] = item
        return live

    @staticmethod
    def _key(obj):
        return (collection_path(obj), obj["metadata"].get("namespace"), obj["metadata"]["name"])

    def _ensure_objects(self, objs, api, workers=8):
        """Server-side apply every object whose desired fields differ from the live one.

        Returns (applied kind/name list, live objects by ``_key``). Reads one LIST per kind;
        applies run in parallel: kube-apiserver takes up to ~1.5 s per large CRD when they come
        one after the other, but handles them concurrently.
        """
        live = self._live_objects(objs, api)
        todo = []
        for obj in objs:
            # Items of a LIST carry no apiVersion/kind.
            desired = dict((k, v) for k, v in obj.items() if k not in ("apiVersion", "kind"))
            if not is_subset(desired, live.get(self._key(obj))):
                todo.append(obj)
        if not todo:
            return [], live
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(self._apply, obj, api) for obj in todo]
            try:
                applied = [f.result() for f in futures]
            except EmbeddedError as exc:
                raise EmbeddedError(exc.message, self._diagnostics())
        return applied, live

    def _crds_established(self, api, names):
        names = set(names)

        def check():
            status, data = api.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
            if status != 200:
                return False
            established = set()
            for crd in data.get("items") or []:
                conds = dict((c["type"], c["status"]) for c in (crd.get("status") or {}).get("conditions") or [])
                if conds.get("Established") == "True":
                    established.add(crd["metadata"]["name"])
            return names <= established
        return check

    # ------------------------------------------------------------------ public API

    def _port_conflicts(self, names):
        """Ports of ``names`` that are in use: list of messages naming port and holder."""
        wanted = {}
        for name in names:
            for purpose, port in self.component_ports(name):
                wanted[port] = (name, purpose)
        conflicts = []
        for entry in listeners():
            if entry["port"] in wanted:
                name, purpose = wanted[entry["port"]]
                holders = ", ".join("%s (pid %d)" % (n, pid) for n, pid in entry["processes"]) or "an unknown process"
                conflicts.append("port %d (%s %s) is in use on %s by %s"
                                 % (entry["port"], name, purpose, entry["address"], holders))
        return sorted(set(conflicts))

    def start(self, check_mode=False):
        """Start whatever is not running; return a result dict (``changed``, ``started`` ...)."""
        t0 = time.time()
        self.timings = {}
        self.validate(files=not check_mode)
        result = {"changed": False, "started": [], "restarted": [], "applied": [], "pki_written": [],
                  "warnings": []}

        running = dict((n, self.running(n)) for n in COMPONENTS)
        stale = [n for n, r in running.items() if r and r.get("argv_live") != self._argv(n)]
        to_start = [n for n in COMPONENTS if not running[n] or n in stale]
        if check_mode:
            _dummy, would_write = _pki.ensure_pki(self.pki["dir"], check_mode=True)
            result.update(changed=bool(to_start or would_write), started=to_start, pki_written=would_write)
            result.update(self._describe())
            return result

        for d in ("", "logs", "pids", "audit", "etcd"):
            _pki.ensure_dir(os.path.join(self.state_dir, d))
        _dummy, written = _pki.ensure_pki(self.pki["dir"])
        result["pki_written"] = written
        if written:
            # Processes hold the old certificates: restart whatever runs.
            stale = [n for n in COMPONENTS if running[n]]
            to_start = list(COMPONENTS)

        # Stop stale processes (binary, flags or certificates changed), managers first.
        for name in reversed(COMPONENTS):
            if name in stale:
                self._stop_process(name)
                result["restarted"].append(name)

        conflicts = self._port_conflicts(to_start) if to_start else []
        if conflicts:
            raise EmbeddedError("cannot start the embedded management cluster: " + "; ".join(conflicts))

        changed = bool(written)
        changed |= _write_file(self.paths["kubeconfig"], self.kubeconfig_text(), 0o600)
        changed |= _write_file(self.paths["audit_policy"], _manifests.dump_yaml(_manifests.audit_policy()), 0o600)
        state = {"binaries": self.binaries, "module_dirs": self.module_dirs, "ports": self.ports}
        changed |= _write_file(self.paths["state"], json.dumps(state, indent=2, sort_keys=True) + "\n", 0o600)
        if self.binaries.get("kubectl"):
            # A stable path to the kubectl of this cluster's Kubernetes release, for operators.
            _pki.ensure_dir(os.path.dirname(self.paths["kubectl"]))
            changed |= _ensure_link(self.paths["kubectl"], self.binaries["kubectl"])

        for name, limit_key in ((ETCD, ETCD), (APISERVER, APISERVER), (KCM, KCM)):
            if name in to_start:
                self._start_process(name)
                result["started"].append(name)
            self._wait("%s healthy" % name, TIMEOUTS[limit_key], lambda n=name: self.healthy(n), [name])

        api = self.api()
        t_manifests = time.time()
        _manifests.set_parse_cache(self.paths["cache"])
        webhook_ports = dict((m, self.ports["%s_webhook" % _MANAGER_PORT_PREFIX[m]]) for m in MANAGERS)
        ca_pem = _pki.read_text(self.pki["webhook_ca_crt"])
        try:
            crds, warnings = _manifests.crds(self.module_dirs, webhook_ports, ca_pem)
            crds.append(_manifests.clusterctl_crd(self.module_dirs))
            webhooks = _manifests.webhook_configurations(self.module_dirs, webhook_ports, ca_pem)
            inventory = _manifests.inventory(self.module_dirs)
        except _manifests.ManifestError as exc:
            raise EmbeddedError("cannot build the embedded cluster's manifests: %s" % exc)
        result["warnings"].extend(warnings)

        self.timings["manifests"] = round(time.time() - t_manifests, 2)
        t_apply = time.time()
        result["applied"].extend(self._ensure_objects(_manifests.namespaces(), api)[0])
        applied, live = self._ensure_objects(crds, api)
        result["applied"].extend(applied)
        pending = []
        for crd in crds:
            item = live.get(self._key(crd)) or {}
            conds = dict((c["type"], c["status"]) for c in (item.get("status") or {}).get("conditions") or [])
            if "CustomResourceDefinition/%s" % crd["metadata"]["name"] in applied or conds.get("Established") != "True":
                pending.append(crd["metadata"]["name"])
        if pending:
            self._wait("CRDs established", TIMEOUTS["crds"], self._crds_established(api, pending), [APISERVER])
        result["applied"].extend(self._ensure_objects(webhooks, api)[0])
        result["applied"].extend(self._ensure_objects(inventory, api)[0])
        self.timings["objects"] = round(time.time() - t_apply, 2)

        for name in MANAGERS:
            if name in to_start:
                self._start_process(name)
                result["started"].append(name)
        self._wait("CAPI managers healthy", TIMEOUTS["managers"],
                   lambda: all(self.healthy(m) for m in MANAGERS), list(COMPONENTS))

        result["changed"] = changed or bool(result["started"] or result["applied"])
        self.timings["start_total"] = round(time.time() - t0, 2)
        result["timings"] = dict(self.timings)
        result.update(self._describe())
        return result

    def stop(self, check_mode=False):
        """Stop exactly the processes whose pid files ``start`` wrote (managers first)."""
        self._fill_from_state()
        result = {"changed": False, "stopped": []}
        for name in reversed(COMPONENTS):
            if self.running(name):
                result["stopped"].append(name)
                if not check_mode:
                    self._stop_process(name)
            elif not check_mode and os.path.exists(self._pid_file(name)):
                os.unlink(self._pid_file(name))
        result["changed"] = bool(result["stopped"])
        result.update(self._describe(health=False))
        return result

    def status(self):
        self._fill_from_state()
        result = self._describe()
        result["running"] = all(c["running"] for c in result["components"].values())
        result["healthy"] = all(c["healthy"] for c in result["components"].values())
        return result

    def _describe(self, health=True):
        components = {}
        for name in COMPONENTS:
            record = self.running(name)
            entry = {
                "running": bool(record),
                "pid": record["pid"] if record else None,
                "ports": dict(self.component_ports(name)),
                "log": self._log_file(name),
            }
            entry["healthy"] = bool(record) and health and self.healthy(name)
            components[name] = entry
        return {
            "state_dir": self.state_dir,
            "kubeconfig": self.paths["kubeconfig"],
            "audit_log": self.paths["audit_log"],
            "api_server": "https://127.0.0.1:%d" % self.ports["kube_apiserver"],
            "components": components,
        }

    def kubeconfig_text(self):
        def b64(path):
            with open(path, "rb") as handle:
                return base64.b64encode(handle.read()).decode("ascii")

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{
                "name": "scs-kaas-embedded",
                "cluster": {
                    "server": "https://127.0.0.1:%d" % self.ports["kube_apiserver"],
                    "certificate-authority-data": b64(self.pki["ca_crt"]),
                },
            }],
            "users": [{
                "name": _pki.ADMIN_COMMON_NAME,
                "user": {
                    "client-certificate-data": b64(self.pki["admin_crt"]),
                    "client-key-data": b64(self.pki["admin_key"]),
                },
            }],
            "contexts": [{
                "name": "scs-kaas-embedded",
                "context": {"cluster": "scs-kaas-embedded", "user": _pki.ADMIN_COMMON_NAME},
            }],
            "current-context": "scs-kaas-embedded",
        }
        return _manifests.dump_yaml(config)


# --------------------------------------------------------------------------- Ansible modules


class EmbeddedModuleBase(object):
    """Shared base of the ``embedded_cluster*`` modules: argument handling, errors, results."""

    argument_spec = {}
    required_if = []

    def __init__(self):
        from ansible.module_utils.basic import AnsibleModule, missing_required_lib

        self.module = AnsibleModule(argument_spec=self.argument_spec, required_if=self.required_if,
                                    supports_check_mode=True)
        self.params = self.module.params
        if not _pki.HAS_CRYPTOGRAPHY:
            self.module.fail_json(msg=missing_required_lib("cryptography"),
                                  exception=str(_pki.CRYPTOGRAPHY_IMPORT_ERROR))
        if not _manifests.HAS_YAML:
            self.module.fail_json(msg=missing_required_lib("PyYAML"),
                                  exception=str(_manifests.YAML_IMPORT_ERROR))

    def cluster(self):
        p = self.params
        return EmbeddedCluster(
            p["state_dir"],
            binaries=p.get("binaries"),
            module_dirs=p.get("module_dirs"),
            ports=p.get("ports") or None,
            timeout_scale=p.get("timeout_scale") or 1.0,
            log=self.module.debug,
        )

    def run(self):
        raise NotImplementedError

    def main(self):
        try:
            result = self.run()
        except EmbeddedError as exc:
            self.module.fail_json(msg=str(exc))
        result.setdefault("changed", False)
        self.module.exit_json(**result)
