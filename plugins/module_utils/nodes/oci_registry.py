# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""A local OCI registry (Debian's ``docker-registry``, distribution v2) under one state directory.

It holds the images built here so that engines and nodes pull them, as in an air-gapped site.
Plain HTTP on an address of the (private) network the nodes share; every request is written to
its access log (combined log format), which is how tests show what the nodes pulled.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from urllib.parse import urlsplit

from ansible_collections.scs.kaas.plugins.module_utils.embedded.process import Supervisor, tail
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.files import write_if_changed
from ansible_collections.scs.kaas.plugins.module_utils.nodes import unix_http
from ansible_collections.scs.kaas.plugins.module_utils.poll import PollTimeout, poll_until


class RegistryError(KaasError):
    """The registry could not be started or asked."""


# Hosts that mean "every address of this machine": clients here reach the registry on loopback.
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}


def parse_address(address, var_name="address"):
    """``(host, port)`` of a listen address ``host:port`` (an IPv6 host in brackets); RegistryError
    naming ``var_name``, the value and the expected form otherwise."""
    text = address if isinstance(address, str) else ""
    host, sep, port = text.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    valid = (sep and host and port.isdigit() and 0 < int(port) < 65536
             and not any(c in text for c in "/@ \t") and (":" not in host or bracketed))
    if not valid:
        raise RegistryError("%s: %r is not a listen address; use host:port with a port from 1 to 65535, "
                            "e.g. 0.0.0.0:5000 (every address) or 127.0.0.1:5000 (no scheme, no path)"
                            % (var_name, address))
    return host, int(port)


def client_address(address):
    """Where a client on this machine reaches a registry listening on ``address``: the wildcard
    hosts become loopback, which an engine also pushes to over plain HTTP without configuration."""
    host, port = parse_address(address)
    return "%s:%d" % (_WILDCARD_HOSTS.get(host, host), port)


def registry_head(url, headers):
    """``(status, headers)`` of ``HEAD url`` (``http://host:port/path``), or None when nothing
    answers: the ``registry_get`` that ``layered_build.served_digest`` asks with."""
    parts = urlsplit(url)
    path = parts.path + ("?" + parts.query if parts.query else "")
    return unix_http.head(parts.netloc, path, headers, timeout=10.0)


def registry_config(storage_dir, address):
    """The registry's configuration (JSON is YAML): filesystem storage, no auth, access log on."""
    return {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": False}, "fields": {"service": "registry"}},
        "storage": {"filesystem": {"rootdirectory": storage_dir}, "delete": {"enabled": True}},
        "http": {"addr": address, "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }


class OciRegistry(object):
    """Start, stop and ask one registry; ``address`` is ``host:port``."""

    def __init__(self, state_dir, address, runner, binary="/usr/bin/docker-registry", log=None):
        parse_address(address)
        self.state_dir = os.path.abspath(state_dir)
        self.address = address
        self.binary = binary
        self.config_path = os.path.join(self.state_dir, "config.yml")
        self.storage_dir = os.path.join(self.state_dir, "storage")
        self.supervisor = Supervisor(self.state_dir, self.state_dir, self.state_dir, log=log, runner=runner)

    @property
    def access_log(self):
        """The registry's log file; access lines are those with ``"GET /v2/...`` and the like."""
        return self.supervisor.log_file("registry")

    @property
    def client_address(self):
        """``host:port`` a client on this machine (and an engine pushing here) uses."""
        return client_address(self.address)

    def ping(self):
        answer = unix_http.get(self.client_address, "/v2/")
        return bool(answer and answer[0] == 200)

    def running(self):
        """The registry's pid record while it runs, else None."""
        return self.supervisor.running("registry")

    def _config_text(self):
        return json.dumps(registry_config(self.storage_dir, self.address), indent=2, sort_keys=True) + "\n"

    def _runs_with_another_config(self):
        if not self.running():
            return False
        try:
            with open(self.config_path, "r", encoding="utf-8") as handle:
                return handle.read() != self._config_text()
        except (IOError, OSError):
            return True

    def check_config(self):
        """RegistryError when the registry runs from ``state_dir`` with another configuration than
        this object would write: a start would be refused. Writes nothing."""
        if self._runs_with_another_config():
            self._refuse_another_config()

    def _refuse_another_config(self):
        raise RegistryError("the registry in %s runs with another configuration (address %s requested): stop it "
                            "first" % (self.state_dir, self.address))

    def start(self, timeout=60):
        # Checked before the write: the running registry's configuration file stays as it runs.
        self.check_config()
        for path in (self.state_dir, self.storage_dir):
            if not os.path.isdir(path):
                os.makedirs(path, 0o700)
        changed = write_if_changed(self.config_path, self._config_text(), 0o600)
        if self.running():
            if changed:
                self._refuse_another_config()
            return {"changed": False, "address": self.address, "access_log": self.access_log}
        self.supervisor.start("registry", [self.binary, "serve", self.config_path],
                              {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})

        def abort_if_dead():
            reason = self.supervisor.gone("registry")
            if reason:
                raise RegistryError("docker-registry exited during start (%s)" % reason, tail(self.access_log, 40))
        try:
            poll_until(self.ping, timeout, "the registry to answer on %s" % self.address, 0.05, 0.5,
                       abort=abort_if_dead)
        except PollTimeout as exc:
            raise RegistryError(str(exc), tail(self.access_log, 40))
        return {"changed": True, "address": self.address, "access_log": self.access_log}

    def stop(self, timeout=30):
        return self.supervisor.stop("registry", timeout)
