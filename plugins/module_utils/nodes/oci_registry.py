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

from ansible_collections.scs.kaas.plugins.module_utils.embedded.process import Supervisor, tail
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.files import write_if_changed
from ansible_collections.scs.kaas.plugins.module_utils.nodes import unix_http
from ansible_collections.scs.kaas.plugins.module_utils.poll import PollTimeout, poll_until


class RegistryError(KaasError):
    """The registry could not be started or asked."""


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

    def ping(self):
        answer = unix_http.get(self.address, "/v2/")
        return bool(answer and answer[0] == 200)

    def start(self, timeout=60):
        for path in (self.state_dir, self.storage_dir):
            if not os.path.isdir(path):
                os.makedirs(path, 0o700)
        config = json.dumps(registry_config(self.storage_dir, self.address), indent=2, sort_keys=True) + "\n"
        changed = write_if_changed(self.config_path, config, 0o600)
        if self.supervisor.running("registry"):
            if changed:
                raise RegistryError("the registry in %s runs with another configuration: stop it first"
                                    % self.state_dir)
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
