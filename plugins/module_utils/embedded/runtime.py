# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Start, stop and inspect the embedded management cluster (local processes on 127.0.0.1).

Layout of the state directory (directories 0700, secrets 0600)::

    <state_dir>/
      kubeconfig             admin kubeconfig (client certificate, 0600)
      state.json             ports, binaries and module dirs of the last start (0600)
      applied.json           uid, generation and digest of every object applied (see objects.py)
      pki/                   see pki.py
      etcd/                  etcd data dir
      logs/<component>.log   stdout+stderr of each process (0600)
      pids/<component>.pid   pid record of each process start() started (see process.py)
      bin/kubectl            link to the kubectl built with the cluster (when ``binaries`` has one)
      audit/policy.yaml      kube-apiserver audit policy (requests at Metadata level)
      audit/audit.log        kube-apiserver audit log (JSON lines)

What runs, with which flags, ports and probes, is in ``registry.py``. ``start`` goes through the
registry's dependency levels: etcd, then kube-apiserver, then kube-controller-manager together
with the cluster objects (``objects.py``), then every CAPI manager at once; it waits only for
what the next level needs and for everything at the end. ``stop`` only signals processes whose
pid record still matches ``/proc`` (``process.py``).

Objects are applied with server-side apply through ``kube/client`` under the field manager
``scs.kaas-embedded`` and the user agent ``scs.kaas-embedded/<version>``; unchanged objects are
not sent, so a second ``start`` sends no mutating request.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.scs.kaas.plugins.module_utils.errors import EmbeddedError, KaasError
from ansible_collections.scs.kaas.plugins.module_utils.files import ensure_link, write_if_changed
from ansible_collections.scs.kaas.plugins.module_utils.poll import PollTimeout, poll_until
from ansible_collections.scs.kaas.plugins.module_utils.kube import client as _kube
from ansible_collections.scs.kaas.plugins.module_utils.embedded import manifests as _manifests
from ansible_collections.scs.kaas.plugins.module_utils.embedded import objects as _objects
from ansible_collections.scs.kaas.plugins.module_utils.embedded import pki as _pki
from ansible_collections.scs.kaas.plugins.module_utils.embedded import probes as _probes
from ansible_collections.scs.kaas.plugins.module_utils.embedded import registry as _registry
from ansible_collections.scs.kaas.plugins.module_utils.embedded.process import Supervisor, exiting, listeners, tail
from ansible_collections.scs.kaas.plugins.module_utils.embedded.registry import validate_ports, validate_switches

USER_AGENT = "scs.kaas-embedded/%s" % _kube.COLLECTION_VERSION
FIELD_MANAGER = "scs.kaas-embedded"
# Components, binaries, module dirs without ``optional_providers``; ALL_COMPONENTS: with all of them.
REQUIRED_BINARIES = COMPONENTS = _registry.components()
ALL_COMPONENTS = _registry.COMPONENTS
PORT_RELEASE_TIMEOUT = 10
MODULE_DIRS = tuple(sorted(_registry.module_dirs(REQUIRED_BINARIES)))
# Python libraries the embedded_cluster* modules need: (available, name, import error).
REQUIRED_LIBRARIES = (
    (_pki.HAS_CRYPTOGRAPHY, "cryptography", _pki.CRYPTOGRAPHY_IMPORT_ERROR),
    (_manifests.HAS_YAML, "PyYAML", _manifests.YAML_IMPORT_ERROR),
    (_kube.HAS_KUBERNETES, "kubernetes", _kube.KUBERNETES_IMP_ERR),
)
# Limits (seconds, before ``timeout_scale``) of the waits that are not a component's own.
TIMEOUTS = {"crds": 90, "stop": 30}


def from_params(params, log=None, runner=None):
    """The cluster an ``embedded_cluster*`` module's parameters describe."""
    return EmbeddedCluster(params["state_dir"], binaries=params.get("binaries"),
                           module_dirs=params.get("module_dirs"), ports=params.get("ports") or None,
                           timeout_scale=params.get("timeout_scale") or 1.0, log=log, runner=runner,
                           optional_providers=params.get("optional_providers"),
                           docker_host=params.get("docker_host"))


class EmbeddedCluster(object):
    """One embedded management cluster in ``state_dir``.

    ``binaries``: component -> executable path (see ``REQUIRED_BINARIES``); ``module_dirs``: the
    Go module cache directories of cluster-api, its test module and CAPO. Both may be omitted for
    ``status``/``stop``, which read ``state.json`` written by the last start. ``runner``
    (``module_utils/command.py``) starts the processes; ``status``/``stop`` need none.
    ``optional_providers``: ``registry.SWITCHES`` keys whose components run too (None: as
    recorded by the last start for ``status``, none for ``start``).
    """

    def __init__(self, state_dir, binaries=None, module_dirs=None, ports=None, timeout_scale=1.0,
                 log=None, kubectl=None, runner=None, optional_providers=None, docker_host=None):
        if not state_dir:
            raise EmbeddedError("state_dir: must be a directory path")
        self.state_dir = os.path.abspath(os.path.expanduser(state_dir))
        self.binaries = dict(binaries or {})
        self.module_dirs = dict(module_dirs or {})
        self._ports_given = ports
        self.ports = validate_ports(ports)
        self._switches_given = optional_providers
        self.switches = validate_switches(optional_providers, "optional_providers")
        self.components = _registry.components(self.switches)
        self._docker_host_given = docker_host
        self.docker_host = _registry.validate_docker_host(docker_host) or None
        self.timeout_scale = float(timeout_scale)
        self.log = log or (lambda msg: None)
        self._kubectl = kubectl
        j = os.path.join
        self.paths = dict((name, j(self.state_dir, *rel)) for name, rel in (
            ("kubeconfig", ("kubeconfig",)), ("state", ("state.json",)), ("applied", ("applied.json",)),
            ("pki", ("pki",)), ("etcd", ("etcd",)), ("logs", ("logs",)), ("pids", ("pids",)),
            ("audit", ("audit",)), ("audit_policy", ("audit", "policy.yaml")),
            ("audit_log", ("audit", "audit.log")), ("cache", ("cache",)), ("kubectl", ("bin", "kubectl"))))
        self.pki = _pki.pki_paths(self.paths["pki"])
        self.runner = runner
        self.processes = Supervisor(self.paths["pids"], self.paths["logs"], self.state_dir, self.log, runner)
        self.timings = {}

    @property
    def kubectl_bin(self):
        """kubectl for diagnostics: the given one, else the built one (``binaries``); or None.

        Never one from PATH or a system directory: its version would be whatever is installed.
        """
        return self._kubectl or self.binaries.get("kubectl")

    # ------------------------------------------------------------------ configuration

    def _fill_from_state(self):
        try:
            with open(self.paths["state"], "r") as handle:
                state = json.load(handle)
        except (IOError, OSError, ValueError):
            state = {}
        self.binaries = self.binaries or state.get("binaries", {})
        self.module_dirs = self.module_dirs or state.get("module_dirs", {})
        if self._ports_given is None and state.get("ports"):
            self.ports = validate_ports(state["ports"])
        if self._switches_given is None and state.get("optional_providers"):
            self.switches = validate_switches(state["optional_providers"], "optional_providers")
            self.components = _registry.components(self.switches)
        if self._docker_host_given is None:
            self.docker_host = state.get("docker_host") or None

    def validate(self, binaries_var="binaries", module_dirs_var="module_dirs", files=True):
        """Check binaries and module dirs; ``files=False`` (check mode) only checks the keys."""
        hint = " (optional_providers %s: build with the same list)" % ", ".join(self.switches) if self.switches else ""
        for name in self.components:
            path = self.binaries.get(name)
            if not path:
                raise EmbeddedError("%s: no path for %r; needed: %s%s" % (binaries_var, name, ", ".join(self.components), hint))
            if files and not (os.path.isfile(path) and os.access(path, os.X_OK)):
                raise EmbeddedError("%s[%r]: %s is not an executable file" % (binaries_var, name, path))
        needed = sorted(_registry.module_dirs(self.components))
        for name in needed:
            path = self.module_dirs.get(name)
            if not path:
                raise EmbeddedError("%s: no directory for %r; needed: %s%s" % (module_dirs_var, name, ", ".join(needed), hint))
            if files and not os.path.isdir(path):
                raise EmbeddedError("%s[%r]: %s is not a directory" % (module_dirs_var, name, path))

    def layout(self):
        return _registry.Layout(self.ports, self.pki, self.paths)

    def component_ports(self, name):
        """Ports of one component: list of (purpose, port)."""
        return _registry.component_ports(name, self.ports)

    def _argv(self, name):
        return _registry.BY_NAME[name].argv(self.binaries[name], self.layout())

    # ------------------------------------------------------------------ processes and health

    def running(self, name):
        """The pid record of ``name`` if its process is alive and still that binary, else None."""
        return self.processes.running(name)

    def healthy(self, name):
        layout = self.layout()
        return all(_probes.check(p, layout, USER_AGENT) for p in _registry.BY_NAME[name].probes)

    def _docker_host_of(self, name):
        """The engine a component drives (only the development provider), or None."""
        return self.docker_host if name in _registry.DOCKER_HOST_COMPONENTS else None

    def _stale(self, name, record):
        return record.get("argv_live") != self._argv(name) or record.get("docker_host") != self._docker_host_of(name)

    def _start_process(self, name):
        docker_host = self._docker_host_of(name)
        env = _registry.environment(name, self.paths["kubeconfig"], self.state_dir)
        if docker_host:
            env["DOCKER_HOST"] = docker_host
        try:
            return self.processes.start(name, self._argv(name), env,
                                        {"ports": dict(self.component_ports(name)), "docker_host": docker_host})
        except EmbeddedError as exc:
            raise EmbeddedError(exc.message, self._diagnostics([name]))

    def _stop_process(self, name):
        return self.processes.stop(name, TIMEOUTS["stop"] * self.timeout_scale)

    def _wait(self, what, limit, check, components=()):
        """Poll ``check`` until true; fail after ``limit`` (scaled) or when a component died."""
        def abort():
            for name in components:
                reason = self.processes.gone(name)
                if reason:
                    raise EmbeddedError("%s exited while waiting for %s (%s)" % (name, what, reason),
                                        self._diagnostics())
        try:
            poll_until(check, limit * self.timeout_scale, what, 0.05, 0.25, abort)
        except PollTimeout as exc:
            raise EmbeddedError(str(exc), self._diagnostics())

    def _wait_healthy(self, names, confirmed, t0, alive=()):
        """Wait until every component of ``names`` is healthy (``confirmed`` caches who is).

        Fails at once when one of them or of ``alive`` (e.g. etcd while kube-apiserver is
        waited for) is gone."""
        todo = [n for n in self.components if n in names and n not in confirmed]

        def check():
            for name in todo:
                if name not in confirmed and self.healthy(name):
                    confirmed.add(name)
                    self.timings["%s healthy (since start)" % name] = round(time.time() - t0, 2)
            return all(n in confirmed for n in todo)
        if todo:
            limit = max(_registry.BY_NAME[n].timeout for n in todo)
            watched = [n for n in self.components if n in todo or n in alive]
            self._wait("%s healthy" % ", ".join(todo), limit, check, watched)

    # ------------------------------------------------------------------ diagnostics

    def _diagnostics(self, names=None):
        parts = []
        for name in names or self.components:
            path = self.processes.log_file(name)
            if os.path.exists(path):
                parts.append("---- last 200 lines of %s ----\n%s" % (path, tail(path, 200)))
        kubectl = self.kubectl_bin
        usable = self.runner and os.path.exists(self.paths["kubeconfig"]) and kubectl and os.access(kubectl, os.X_OK)
        if usable:
            try:
                got = self.runner.run(
                    [kubectl, "--kubeconfig", self.paths["kubeconfig"], "--request-timeout=10s",
                     "get", "cluster,machine,kcp,md", "-A", "-o", "wide"], timeout=30)
                out = got.stdout + got.stderr
            except KaasError as exc:
                out = "(kubectl failed: %s)" % exc
            parts.append("---- kubectl get cluster,machine,kcp,md -A -o wide ----\n%s" % out)
        return "\n".join(parts)

    def diagnostics(self):
        return self._diagnostics()

    # ------------------------------------------------------------------ objects

    def _install_objects(self, result):
        """Namespaces, CRDs (Established), webhook configurations, then the inventory."""
        t_manifests = time.time()
        _manifests.set_parse_cache(self.paths["cache"])
        ca_pem = _pki.read_text(self.pki["webhook_ca_crt"])
        first, inventory, warnings = _objects.desired_objects(
            self.module_dirs, _registry.webhook_ports(self.ports), ca_pem, self.components)
        result["warnings"].extend(warnings)
        self.timings["manifests"] = round(time.time() - t_manifests, 2)
        t_apply = time.time()
        client = _kube.KubeClient(self.paths["kubeconfig"], user_agent=USER_AGENT, field_manager=FIELD_MANAGER)
        try:
            installer = _objects.ObjectInstaller(client, self.paths["applied"])
            live = installer.live(first + inventory)
            applied = installer.ensure(first, live)
            t_crds = time.time()
            installer.wait_established(applied, TIMEOUTS["crds"] * self.timeout_scale)
            self.timings["CRDs established"] = round(time.time() - t_crds, 2)
            applied += installer.ensure(inventory, live)
            result["pruned"] = installer.prune(first + inventory)
        except (EmbeddedError, _kube.KubeError) as exc:
            raise EmbeddedError(str(exc), self._diagnostics(["kube-apiserver"]))
        finally:
            client.close()
        result["applied"].extend("%s/%s" % (o["kind"], o["metadata"]["name"]) for o, _r in applied)
        self.timings["objects"] = round(time.time() - t_apply, 2)

    # ------------------------------------------------------------------ public API

    def _port_conflicts(self, names):
        """Ports of ``names`` that are in use: list of messages naming port and holder."""
        return sorted(set(message for message, _named in self._port_holders(names)))

    def _port_holders(self, names):
        """(message, whether a live process holds the port) per port of ``names`` in use."""
        wanted = {}
        for name in names:
            for purpose, port in self.component_ports(name):
                wanted[port] = (name, purpose)
        conflicts = []
        for entry in listeners(wanted):
            if entry["port"] in wanted:
                name, purpose = wanted[entry["port"]]
                holders = ", ".join("%s (pid %d)" % (n, pid) for n, pid in entry["processes"]) or "an unknown process"
                conflicts.append(("port %d (%s %s) is in use on %s by %s"
                                  % (entry["port"], name, purpose, entry["address"], holders),
                                  any(not exiting(pid) for _n, pid in entry["processes"])))
        return conflicts

    def start(self, check_mode=False):
        """Start whatever is not running; return a result dict (``changed``, ``started`` ...)."""
        t0 = time.time()
        self.timings = {}
        self.validate(files=not check_mode)
        result = dict((k, []) for k in ("started", "restarted", "stopped", "applied", "pruned", "pki_written", "warnings"))

        running = dict((n, self.running(n)) for n in ALL_COMPONENTS)
        # Running but switched off (optional_providers no longer names them): stopped.
        unwanted = [n for n in ALL_COMPONENTS if running[n] and n not in self.components]
        # Stale: the binary or its flags changed, or the engine the development provider drives.
        stale = [n for n in self.components if running[n] and self._stale(n, running[n])]
        to_start = [n for n in self.components if not running[n] or n in stale]
        if check_mode:
            _dummy, would_write = _pki.ensure_pki(self.pki["dir"], check_mode=True)
            result.update(changed=bool(to_start or unwanted or would_write), started=to_start, stopped=unwanted,
                          pki_written=would_write)
            result.update(self._describe())
            return result

        for d in ("", "logs", "pids", "audit", "etcd"):
            _pki.ensure_dir(os.path.join(self.state_dir, d))
        _dummy, written = _pki.ensure_pki(self.pki["dir"])
        result["pki_written"] = written
        if written:
            # Processes hold the old certificates: restart whatever runs.
            stale = [n for n in self.components if running[n]]
            to_start = list(self.components)

        # Stop stale processes (binary, flags or certificates changed) and switched off ones,
        # managers first.
        result["stopped"] = unwanted
        for name in reversed(ALL_COMPONENTS):
            if name in stale or name in unwanted:
                self._stop_process(name)
                if name in stale:
                    result["restarted"].append(name)

        holders = self._port_holders(to_start) if to_start else []
        conflicts = sorted(set(message for message, _named in holders))
        if holders and not any(named for _message, named in holders):
            # A component killed a moment ago may still be closing its sockets (its pid is a
            # zombie while its other threads exit, or it has released its memory but not yet its
            # files): give that seconds before calling it a conflict. A port a live process holds
            # is a conflict at once.
            try:
                poll_until(lambda: not self._port_conflicts(to_start), PORT_RELEASE_TIMEOUT * self.timeout_scale,
                           "ports released", 0.05, 0.5)
            except PollTimeout:
                pass
            conflicts = self._port_conflicts(to_start)
        if conflicts:
            raise EmbeddedError("cannot start the embedded management cluster: " + "; ".join(conflicts))

        changed = bool(written)
        kubeconfig = _pki.admin_kubeconfig(self.pki, "https://127.0.0.1:%d" % self.ports["kube_apiserver"])
        changed |= write_if_changed(self.paths["kubeconfig"], _manifests.dump_yaml(kubeconfig), 0o600)
        changed |= write_if_changed(self.paths["audit_policy"], _manifests.dump_yaml(_manifests.audit_policy()), 0o600)
        state = {"binaries": self.binaries, "module_dirs": self.module_dirs, "ports": self.ports,
                 "optional_providers": self.switches, "docker_host": self.docker_host}
        changed |= write_if_changed(self.paths["state"], json.dumps(state, indent=2, sort_keys=True) + "\n", 0o600)
        if self.binaries.get("kubectl"):
            # A stable path to the kubectl of this cluster's Kubernetes release, for operators.
            _pki.ensure_dir(os.path.dirname(self.paths["kubectl"]))
            changed |= ensure_link(self.paths["kubectl"], self.binaries["kubectl"])

        confirmed, launched = set(), []
        for level in _registry.start_levels(self.components):
            needs = set(r for n in level if n in _registry.BY_NAME for r in _registry.BY_NAME[n].requires)
            self._wait_healthy(needs, confirmed, t0, launched)
            launch = [n for n in level if n in to_start]
            launched.extend(launch)
            with ThreadPoolExecutor(max_workers=max(1, len(launch))) as pool:
                list(pool.map(self._start_process, launch))
            result["started"].extend(launch)
            if _registry.OBJECTS in level:
                self._install_objects(result)
        self._wait_healthy(self.components, confirmed, t0)

        result["changed"] = changed or any(result[k] for k in ("started", "stopped", "applied", "pruned"))
        self.timings["start_total"] = round(time.time() - t0, 2)
        result["timings"] = dict(self.timings)
        result.update(self._describe())
        return result

    def stop(self, check_mode=False):
        """Stop exactly the processes whose pid files ``start`` wrote (managers first)."""
        self._fill_from_state()
        result = {"changed": False, "stopped": []}
        for name in reversed(ALL_COMPONENTS):
            if self.running(name):
                result["stopped"].append(name)
                if not check_mode:
                    self._stop_process(name)
            elif not check_mode:
                self.processes.forget(name)
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
        for name in ALL_COMPONENTS:
            record = self.running(name)
            if name not in self.components and not record:
                continue
            components[name] = {
                "running": bool(record),
                "pid": record["pid"] if record else None,
                "ports": dict(self.component_ports(name)),
                "log": self.processes.log_file(name),
                "healthy": bool(record) and health and self.healthy(name),
            }
        return {
            "state_dir": self.state_dir,
            "kubeconfig": self.paths["kubeconfig"],
            "audit_log": self.paths["audit_log"],
            "api_server": "https://127.0.0.1:%d" % self.ports["kube_apiserver"],
            "components": components,
            "optional_providers": list(self.switches),
            "docker_host": self.docker_host,
        }
