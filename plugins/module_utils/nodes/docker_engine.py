# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""A Docker engine of the collection's own: ``dockerd`` with a private data root, exec root, pid file
and socket under one state directory, so it never touches an engine the host already runs.

Started inside a private network namespace, its bridges and iptables rules exist only there.
Where the host's capability bounding set lacks a capability that privileged containers ask for
(CAP_SYS_RESOURCE in some sandboxes), the engine's default runtime is ``runtime_wrapper.py`` in
front of runc; elsewhere it is plain runc and nothing is rewritten.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

from ansible_collections.scs.kaas.plugins.module_utils.embedded.process import Supervisor, tail
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.files import write_if_changed
from ansible_collections.scs.kaas.plugins.module_utils.nodes import runtime_wrapper, unix_http
from ansible_collections.scs.kaas.plugins.module_utils.poll import PollTimeout, poll_until

WRAPPER_RUNTIME = "scs-kaas-runc"
# Capabilities privileged node containers (and privileged pods in them) ask for that a sandbox may
# withhold; only the ones missing from the host's bounding set are dropped.
DROPPABLE = ("CAP_SYS_RESOURCE",)


# containerd (started by dockerd under the exec root) refuses socket paths longer than this.
UNIX_SOCKET_PATH_MAX = 104
_LONGEST_SOCKET = os.path.join("exec", "containerd", "containerd-debug.sock")


class EngineError(KaasError):
    """The engine could not be started, stopped or asked."""


def default_routes(proc_net="/proc/net"):
    """The default routes of this network namespace (``["ipv4 via eth0", ...]``).

    A namespace made for the engine (``unshare --net``) has none, so nothing in it reaches beyond
    the addresses it is given; the host's own namespace normally has one.
    """
    found = []
    try:
        with open(os.path.join(proc_net, "route"), "r") as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if len(fields) > 7 and fields[1] == "00000000" and fields[7] == "00000000":
                    found.append("ipv4 via %s" % fields[0])
    except (IOError, OSError):
        pass
    try:
        with open(os.path.join(proc_net, "ipv6_route"), "r") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) == 10 and fields[0] == "0" * 32 and fields[1] == "00" and fields[9] != "lo":
                    found.append("ipv6 via %s" % fields[9])
    except (IOError, OSError):
        pass
    return found


class EngineLayout(object):
    """Paths of one engine under ``state_dir``."""

    def __init__(self, state_dir):
        self.state_dir = os.path.abspath(state_dir)
        self.data_root = os.path.join(self.state_dir, "data")
        self.exec_root = os.path.join(self.state_dir, "exec")
        self.pid_file = os.path.join(self.state_dir, "dockerd.pid")
        self.socket = os.path.join(self.state_dir, "docker.sock")
        self.config = os.path.join(self.state_dir, "daemon.json")
        self.wrapper = os.path.join(self.state_dir, "bin", WRAPPER_RUNTIME)
        self.supervision = os.path.join(self.state_dir, "supervision")

    def check(self):
        """Raise EngineError when ``state_dir`` is too long for the sockets below it."""
        longest = os.path.join(self.state_dir, _LONGEST_SOCKET)
        if len(longest) > UNIX_SOCKET_PATH_MAX:
            raise EngineError("state_dir: %s is too long: the engine's sockets (e.g. %s) would pass the limit of %d "
                              "characters for Unix socket paths; use a directory of at most %d characters"
                              % (self.state_dir, longest, UNIX_SOCKET_PATH_MAX,
                                 UNIX_SOCKET_PATH_MAX - len(_LONGEST_SOCKET) - 1))

    @property
    def docker_host(self):
        return "unix://" + self.socket


def daemon_config(wrapper_path, drop, extra=None):
    """The engine's daemon.json; the wrapper becomes the default runtime only when ``drop`` is set."""
    config = dict(extra or {})
    if drop:
        config["runtimes"] = {WRAPPER_RUNTIME: {"path": wrapper_path}}
        config["default-runtime"] = WRAPPER_RUNTIME
    return config


def dockerd_argv(dockerd, layout):
    """The ``dockerd`` command line: every path of its own, so no default of the host is used."""
    return [dockerd, "--config-file", layout.config, "--data-root", layout.data_root,
            "--exec-root", layout.exec_root, "--pidfile", layout.pid_file, "-H", layout.docker_host]


class DockerEngine(object):
    """Start, stop and ask one engine; ``runner`` is a ``module_utils/command.py`` runner."""

    def __init__(self, state_dir, runner, dockerd="/usr/sbin/dockerd", runc="/usr/sbin/runc",
                 drop=None, log=None):
        self.layout = EngineLayout(state_dir)
        self.runner = runner
        self.dockerd = dockerd
        self.runc = runc
        self.drop = runtime_wrapper.missing_capabilities(runtime_wrapper.bounding_set(), DROPPABLE) \
            if drop is None else sorted(drop)
        self.supervisor = Supervisor(self.layout.supervision, self.layout.supervision, self.layout.state_dir,
                                     log=log, runner=runner)

    def running(self):
        return self.supervisor.running("dockerd")

    def ping(self):
        answer = unix_http.get(self.layout.docker_host, "/_ping")
        return bool(answer and answer[0] == 200)

    def start(self, timeout=120, host_network=False):
        """Start the engine unless it runs; see ``result`` for the returned dict.

        Unless ``host_network``, refuse to start in a network namespace with a default route (the
        host's, normally): the engine adds bridges and iptables rules to the namespace it runs in,
        and its containers would reach whatever that route reaches.
        """
        layout = self.layout
        layout.check()
        routes = default_routes()
        if routes and not host_network and not self.running():
            raise EngineError("refusing to start dockerd in a network namespace with a default route (%s): it adds "
                              "bridges and iptables rules to it; start it in a namespace of its own (unshare --net) "
                              "or allow the host network" % ", ".join(routes))
        for path in (layout.state_dir, layout.supervision, os.path.dirname(layout.wrapper)):
            if not os.path.isdir(path):
                os.makedirs(path, 0o700)
        changed = False
        if self.drop:
            text = runtime_wrapper.render_executable(sys.executable, self.runc, self.drop)
            changed |= write_if_changed(layout.wrapper, text, 0o755)
        config = json.dumps(daemon_config(layout.wrapper, self.drop), indent=2, sort_keys=True) + "\n"
        changed |= write_if_changed(layout.config, config, 0o600)
        if self.running():
            if changed:
                raise EngineError("the engine in %s runs with another configuration: stop it first" % layout.state_dir)
            return self.result(False)
        self.supervisor.start("dockerd", dockerd_argv(self.dockerd, layout), self._env())
        try:
            poll_until(self.ping, timeout, "dockerd to answer on %s" % layout.socket, 0.1, 0.5,
                       abort=self._abort_if_dead)
        except PollTimeout as exc:
            raise EngineError(str(exc), tail(self.supervisor.log_file("dockerd"), 40))
        return self.result(True)

    def _abort_if_dead(self):
        reason = self.supervisor.gone("dockerd")
        if reason:
            raise EngineError("dockerd exited during start (%s)" % reason,
                              tail(self.supervisor.log_file("dockerd"), 40))

    @staticmethod
    def _env():
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        return env

    def stop(self, timeout=60):
        """Stop the engine (its containers stop with it); True if it was running."""
        return self.supervisor.stop("dockerd", timeout)

    def result(self, changed):
        return {"changed": changed, "docker_host": self.layout.docker_host, "state_dir": self.layout.state_dir,
                "dropped_capabilities": list(self.drop),
                "default_runtime": WRAPPER_RUNTIME if self.drop else "runc",
                "log": self.supervisor.log_file("dockerd")}

    def missing_networks(self, names):
        """The networks of ``names`` the running engine does not have."""
        present = self.network_addresses(names)
        return [name for name in names if name not in present]

    def ensure_networks(self, names):
        """Create the bridge networks of ``names`` the engine lacks; returns the created names."""
        created = self.missing_networks(names)
        for name in created:
            answer = unix_http.request(self.layout.docker_host, "POST", "/networks/create",
                                       {"Name": name, "CheckDuplicate": True, "Driver": "bridge"}, timeout=30)
            if not answer or answer[0] != 201:
                raise EngineError("creating the network %s on %s failed: %r" % (name, self.layout.socket, answer))
        return created

    def network_addresses(self, names):
        """``{name: {"subnet", "gateway"}}`` of the networks of ``names`` the running engine has.

        The gateway is this namespace's address on the network: the one address of the engine's
        host its containers always reach (nodes pull from a registry listening there)."""
        found = {}
        for name in names:
            answer = unix_http.get(self.layout.docker_host, "/networks/%s" % name)
            if not answer or answer[0] not in (200, 404):
                raise EngineError("dockerd on %s does not answer GET /networks/%s: %r"
                                  % (self.layout.socket, name, answer))
            if answer[0] == 200:
                config = ((json.loads(answer[1].decode("utf-8")).get("IPAM") or {}).get("Config") or [{}])[0]
                found[name] = {"subnet": config.get("Subnet"), "gateway": config.get("Gateway")}
        return found

    def info(self):
        """``GET /info`` of the engine as a dict."""
        answer = unix_http.get(self.layout.docker_host, "/info")
        if not answer or answer[0] != 200:
            raise EngineError("dockerd on %s does not answer /info: %r" % (self.layout.socket, answer))
        return json.loads(answer[1].decode("utf-8"))
