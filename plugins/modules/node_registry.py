#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: node_registry
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Start or stop a local OCI registry that real nodes use as their mirror
description:
  - Runs Debian's C(docker-registry) (distribution v2) with its configuration, storage and log under O(state_dir)
    - plain HTTP on O(address), no authentication, filesystem storage, the access log on (one line per request in
    RV(access_log), which shows what every node pulled).
  - Listen on an address the node containers reach - V(0.0.0.0:<port>) serves every address of the network
    namespace, the gateway of the engine's network among them - and push to it from the engine on loopback
    (RV(url)), which the engine treats as a plain-HTTP registry without configuration.
  - A second run with the registry running and the same O(address) changes nothing; a registry running from
    O(state_dir) with another address is refused (stop it first), before anything is written.
  - With O(state=stopped) it stops exactly the C(docker-registry) whose pid record it wrote. The stored images stay
    in O(state_dir), so the next start serves them again.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
options:
  state:
    description: V(started) starts the registry unless it runs, V(stopped) stops it.
    type: str
    choices: [started, stopped]
    default: started
  state_dir:
    description: Directory of the registry's configuration, storage and log (created 0700).
    type: path
    required: true
  address:
    description:
      - Listen address C(host:port), e.g. V(0.0.0.0:5000) (every address) or V(127.0.0.1:5000); an IPv6 host in
        brackets. No scheme, no path.
    type: str
    default: 0.0.0.0:5000
  registry:
    description: The C(docker-registry) executable.
    type: path
    default: /usr/bin/docker-registry
  start_timeout:
    description: Seconds to wait for the registry to answer C(/v2/) (at least 1).
    type: int
    default: 60
notes:
  - In check mode the module reports a change when the registry is not running (O(state=started)) or runs
    (O(state=stopped)), and writes nothing.
"""

EXAMPLES = r"""
- name: The registry the nodes pull through
  scs.kaas.node_registry:
    state_dir: /var/lib/scs-kaas/registry
    address: 0.0.0.0:5000
  register: registry

- name: Stop it
  scs.kaas.node_registry:
    state: stopped
    state_dir: /var/lib/scs-kaas/registry
"""

RETURN = r"""
running:
  description: Whether the registry runs after the module (in check mode, whether it runs now).
  returned: always
  type: bool
address:
  description: The listen address, O(address).
  returned: always
  type: str
  sample: 0.0.0.0:5000
url:
  description:
    - Where a client on this machine reaches the registry, C(http://host:port) - a wildcard listen host becomes
      loopback. Its C(host:port) is what an engine here pushes to (M(scs.kaas.node_cluster_images) option
      O(scs.kaas.node_cluster_images#module:mirror)).
  returned: always
  type: str
  sample: http://127.0.0.1:5000
access_log:
  description: The registry's log with one access line per request (combined log format).
  returned: always
  type: str
  sample: /var/lib/scs-kaas/registry/registry.log
"""

from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule
from ansible_collections.scs.kaas.plugins.module_utils.nodes.oci_registry import OciRegistry, RegistryError


def registry_result(registry, changed, running):
    """The module's result for ``registry`` (no process is asked here)."""
    return {"changed": changed, "running": running, "address": registry.address,
            "url": "http://%s" % registry.client_address, "access_log": registry.access_log}


class NodeRegistryModule(KaasModule):
    argument_spec = dict(
        state=dict(type="str", choices=["started", "stopped"], default="started"),
        state_dir=dict(type="path", required=True),
        address=dict(type="str", default="0.0.0.0:5000"),
        registry=dict(type="path", default="/usr/bin/docker-registry"),
        start_timeout=dict(type="int", default=60),
    )
    kubeconfig_options = False

    def run(self):
        p = self.params
        if p["start_timeout"] < 1:
            raise RegistryError("start_timeout: %r is too short; use a number of seconds of at least 1"
                                % p["start_timeout"])
        # The constructor checks the address: a bad one fails here, before anything is written.
        registry = OciRegistry(p["state_dir"], p["address"], self.runner, binary=p["registry"], log=self.module.debug)
        running = bool(registry.running())
        if p["state"] == "stopped":
            changed = running if self.module.check_mode else registry.stop()
            return registry_result(registry, changed, running=running and self.module.check_mode)
        if self.module.check_mode:
            registry.check_config()
            return registry_result(registry, not running, running=running)
        return registry_result(registry, registry.start(timeout=p["start_timeout"])["changed"], running=True)


def main():
    NodeRegistryModule()()


if __name__ == "__main__":
    main()
