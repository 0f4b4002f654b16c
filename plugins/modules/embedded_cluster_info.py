#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: embedded_cluster_info
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Status of the embedded management cluster
description:
  - Reports, for every process of the embedded management cluster started by
    M(scs.kaas.embedded_cluster) in O(state_dir), whether it runs (pid file present and the pid still
    belongs to the recorded binary), its pid, its ports and whether its health endpoint answers.
  - Reads the ports of the last start from O(state_dir); changes nothing.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
options:
  state_dir:
    description: The state directory given to M(scs.kaas.embedded_cluster).
    type: path
    required: true
requirements:
  - cryptography
  - PyYAML
  - kubernetes
seealso:
  - module: scs.kaas.embedded_cluster
"""

EXAMPLES = r"""
- name: Show the embedded management cluster
  scs.kaas.embedded_cluster_info:
    state_dir: ~/.local/state/scs-kaas/embedded
  register: status

- name: Fail unless every component is healthy
  ansible.builtin.assert:
    that: status.healthy
"""

RETURN = r"""
state_dir:
  description: Absolute state directory (it need not exist; then nothing was ever started there).
  returned: always
  type: str
kubeconfig:
  description: Where the admin kubeconfig of a start in O(state_dir) is (mode 0600); not read by this module.
  returned: always
  type: str
audit_log:
  description: Where the kube-apiserver of a start in O(state_dir) writes its audit log.
  returned: always
  type: str
api_server:
  description: URL of the API server, from the ports of the last start (or the defaults).
  returned: always
  type: str
  sample: https://127.0.0.1:16443
running:
  description: Whether every component runs.
  returned: always
  type: bool
healthy:
  description: Whether every component runs and answers its health check.
  returned: always
  type: bool
components:
  description: Per component - V(running), V(healthy), V(pid), V(ports) (purpose to port) and V(log) path.
  returned: always
  type: dict
  sample:
    kube-apiserver:
      running: true
      healthy: true
      pid: 4242
      ports: {secure: 16443}
      log: /home/user/.local/state/scs-kaas/embedded/logs/kube-apiserver.log
"""

from ansible_collections.scs.kaas.plugins.module_utils.embedded import runtime
from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule


class EmbeddedClusterInfoModule(KaasModule):
    kubeconfig_options = False
    required_libraries = runtime.REQUIRED_LIBRARIES
    argument_spec = dict(
        state_dir=dict(type="path", required=True),
    )

    def run(self):
        return runtime.from_params(self.params, self.module.debug).status()


def main():
    EmbeddedClusterInfoModule()()


if __name__ == "__main__":
    main()
