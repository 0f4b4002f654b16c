# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Options shared by every module that talks to a management cluster.
    # Use with ``extends_documentation_fragment: [scs.kaas.kubeconfig]``; such modules join the
    # action group ``kaas`` (meta/runtime.yml) so the options can be set once with
    # ``module_defaults: {group/scs.kaas.kaas: {kubeconfig: ..., context: ...}}``.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to the kubeconfig file of the management cluster.
      - When omitted, the E(KUBECONFIG) environment variable is used, then C(~/.kube/config).
      - The file holds credentials; it is read only, never logged and never returned.
    type: path
  context:
    description:
      - Name of the kubeconfig context to use.
      - When omitted, the kubeconfig's current context is used.
    type: str
"""
