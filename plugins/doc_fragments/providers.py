# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The provider selection of scs.kaas.capi_providers and scs.kaas.capi_providers_info
    # (argument spec: PROVIDER_ARGS in plugins/module_utils/providers/module.py).
    DOCUMENTATION = r"""
options:
  providers:
    description:
      - Keys of the providers to consider; valid are V(core), V(bootstrap-kubeadm), V(control-plane-kubeadm),
        V(infrastructure-openstack), V(addon-helm), V(orc) and V(cso).
    type: list
    elements: str
    default: [core, bootstrap-kubeadm, control-plane-kubeadm, infrastructure-openstack, addon-helm, orc]
  clusterctl:
    description:
      - Path of the clusterctl binary (the version of the pinned Cluster API).
      - Needed to install or upgrade providers and to read an upgrade plan.
    type: path
"""
