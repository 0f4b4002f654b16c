#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: docker_engine
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Start or stop a Docker engine of the collection's own for real nodes
description:
  - Runs C(dockerd) (Debian's C(docker.io)) with its data root, exec root, pid file, socket and
    C(daemon.json) all under O(state_dir), so it shares nothing with an engine the host runs.
  - The engine adds bridges and iptables rules to the network namespace it runs in, so it refuses to
    start in one with a default route (normally the host's) unless O(host_network=true). Tests run it in
    their private namespace (C(unshare --net)).
  - Where the host's capability bounding set lacks C(CAP_SYS_RESOURCE), runc refuses every privileged
    container ("unable to apply caps - operation not permitted"), and the development provider starts
    every node and load balancer privileged. The engine's default runtime then is C(scs-kaas-runc), a
    wrapper that removes that capability from the container's spec (and from each C(docker exec)'s
    process spec) before it runs runc. Elsewhere the default runtime stays C(runc).
  - A second run with the engine running and the same configuration changes nothing.
  - With O(state=stopped) it stops exactly the C(dockerd) whose pid record it wrote; its containers stop
    with it.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
options:
  state:
    description: V(started) starts the engine unless it runs, V(stopped) stops it.
    type: str
    choices: [started, stopped]
    default: started
  state_dir:
    description: Directory of the engine's data, sockets, configuration and log (created 0700).
    type: path
    required: true
  dockerd:
    description: The C(dockerd) executable.
    type: path
    default: /usr/sbin/dockerd
  runc:
    description: The runc the wrapper runs.
    type: path
    default: /usr/sbin/runc
  host_network:
    description:
      - Allow a start in a network namespace with a default route; the engine's bridges and iptables
        rules are then added there.
    type: bool
    default: false
  start_timeout:
    description: Seconds to wait for the engine to answer on its socket.
    type: int
    default: 120
  networks:
    description:
      - Bridge networks the started engine must have; missing ones are created.
      - The development provider attaches every node and load balancer to C(kind) and does not create it.
    type: list
    elements: str
    default: [kind]
notes:
  - In check mode the module reports a change when the engine is not running (O(state=started)) or runs
    (O(state=stopped)), and writes nothing.
"""

EXAMPLES = r"""
- name: Start the engine real nodes run on
  scs.kaas.docker_engine:
    state_dir: /var/lib/scs-kaas/engine
  register: engine

- name: Use it
  ansible.builtin.command: docker info
  environment:
    DOCKER_HOST: "{{ engine.docker_host }}"
  changed_when: false

- name: Stop it
  scs.kaas.docker_engine:
    state: stopped
    state_dir: /var/lib/scs-kaas/engine
"""

RETURN = r"""
docker_host:
  description: The engine's socket as a C(DOCKER_HOST) value.
  returned: always
  type: str
  sample: unix:///var/lib/scs-kaas/engine/docker.sock
running:
  description: Whether the engine runs after the module.
  returned: always
  type: bool
dropped_capabilities:
  description: Capabilities the wrapper removes from every container because the host cannot grant them.
  returned: always
  type: list
  elements: str
  sample: [CAP_SYS_RESOURCE]
default_runtime:
  description: The engine's default runtime, V(scs-kaas-runc) or V(runc).
  returned: always
  type: str
info:
  description:
    - What the running engine reports - C(server_version), C(storage_driver), C(cgroup_version),
      C(cgroup_driver); empty when it does not run.
  returned: always
  type: dict
  sample: {server_version: 20.10.24+dfsg1, storage_driver: overlay2, cgroup_version: "1", cgroup_driver: cgroupfs}
log:
  description: The engine's log file.
  returned: always
  type: str
created_networks:
  description: The networks of O(networks) this run created (in check mode, would create).
  returned: always
  type: list
  elements: str
networks:
  description:
    - Subnet and gateway of each network of O(networks) the engine has (empty when it does not run; in check
      mode only the networks that exist already).
    - The gateway is the address of the engine's host on that network, the one its containers always reach, e.g.
      a registry the nodes use as their mirror.
  returned: always
  type: dict
  sample: {kind: {subnet: 172.18.0.0/16, gateway: 172.18.0.1}}
"""

from ansible_collections.scs.kaas.plugins.module_utils.command import module_runner
from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule
from ansible_collections.scs.kaas.plugins.module_utils.nodes.docker_engine import DockerEngine


class DockerEngineModule(KaasModule):
    argument_spec = dict(
        state=dict(type="str", choices=["started", "stopped"], default="started"),
        state_dir=dict(type="path", required=True),
        dockerd=dict(type="path", default="/usr/sbin/dockerd"),
        runc=dict(type="path", default="/usr/sbin/runc"),
        host_network=dict(type="bool", default=False),
        start_timeout=dict(type="int", default=120),
        networks=dict(type="list", elements="str", default=["kind"]),
    )
    kubeconfig_options = False

    def run(self):
        p = self.params
        engine = DockerEngine(p["state_dir"], module_runner(self.module), dockerd=p["dockerd"], runc=p["runc"])
        running = bool(engine.running())
        if p["state"] == "stopped":
            changed = running if self.module.check_mode else engine.stop()
            return self._result(engine, changed, running=running and self.module.check_mode)
        if self.module.check_mode:
            networks = engine.missing_networks(p["networks"]) if running else list(p["networks"])
            return self._result(engine, not running or bool(networks), running=running, networks=networks)
        started = engine.start(timeout=p["start_timeout"], host_network=p["host_network"])
        networks = engine.ensure_networks(p["networks"])
        return self._result(engine, started["changed"] or bool(networks), running=True, networks=networks)

    def _result(self, engine, changed, running, networks=()):
        result = engine.result(changed)
        names = self.params["networks"]
        info, addresses = {}, {}
        if running:
            raw = engine.info()
            info = {"server_version": raw.get("ServerVersion"), "storage_driver": raw.get("Driver"),
                    "cgroup_version": raw.get("CgroupVersion"), "cgroup_driver": raw.get("CgroupDriver")}
            addresses = engine.network_addresses(names)
        return {"changed": changed, "running": running, "docker_host": result["docker_host"],
                "dropped_capabilities": result["dropped_capabilities"],
                "default_runtime": result["default_runtime"], "info": info, "log": result["log"],
                "created_networks": list(networks), "networks": addresses}


def main():
    DockerEngineModule()()


if __name__ == "__main__":
    main()
