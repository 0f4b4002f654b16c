#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: capi_providers_info
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Provider inventory, install/upgrade decision and preflight of a management cluster
description:
  - Reads the clusterctl Provider inventory and returns, per pinned provider, what M(scs.kaas.capi_providers)
    would do (init, upgrade or nothing).
  - With O(preflight=true) also checks that the management cluster's Kubernetes version lies in the range
    the pinned Cluster API supports, that the caller may do what clusterctl needs
    (SelfSubjectAccessReview; these reviews are POST requests that the API server does not store), and
    that the provider Deployments carry the required feature gates.
  - With O(plan=true) runs C(clusterctl upgrade plan) against the local repository when an upgrade is due.
  - Changes nothing.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
  - scs.kaas.kubeconfig
  - scs.kaas.providers
options:
  repository:
    description: Local provider repository (with C(clusterctl.yaml)); needed for O(plan).
    type: path
  plan:
    description: Run C(clusterctl upgrade plan) when an upgrade is due.
    type: bool
    default: false
  preflight:
    description: Check version range, permissions and feature gates.
    type: bool
    default: false
  reference_inventory:
    description:
      - The C(installed) list of another cluster (e.g. the source of a pivot). The result's
        RV(not_as_new) lists the providers this cluster lacks or has older.
    type: list
    elements: dict
  timeout:
    description: Limit in seconds for clusterctl.
    type: int
    default: 300
requirements:
  - kubernetes
seealso:
  - module: scs.kaas.capi_providers
"""

EXAMPLES = r"""
- name: Check an existing management cluster
  scs.kaas.capi_providers_info:
    kubeconfig: ~/.kube/management.yaml
    preflight: true
  register: info

- name: Stop unless the cluster is usable
  ansible.builtin.assert:
    that: info.preflight.ok
    fail_msg: "{{ info.preflight }}"
"""

RETURN = r"""
installed:
  description: The clusterctl Provider inventory as read.
  returned: always
  type: list
  elements: dict
decision:
  description: Per provider the desired and installed version and the action (init, upgrade, none, error).
  returned: always
  type: dict
preflight:
  description: C(version) (with C(in_range)), C(permissions), C(denied), C(feature_gates), C(missing_feature_gates), C(ok).
  returned: when O(preflight=true)
  type: dict
upgrade_plan:
  description: Output of C(clusterctl upgrade plan).
  returned: when O(plan=true) and an upgrade is due
  type: str
not_as_new:
  description: Providers of O(reference_inventory) missing or older here (empty when this cluster is at least as new).
  returned: when O(reference_inventory) is given
  type: list
  elements: str
plan_disagreements:
  description: Differences between clusterctl's plan and the decision.
  returned: when O(plan=true) and an upgrade is due
  type: list
  elements: str
"""

from ansible_collections.scs.kaas.plugins.module_utils.providers.module import ProvidersInfoModule


def main():
    ProvidersInfoModule()()


if __name__ == "__main__":
    main()
