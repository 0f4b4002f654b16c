# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: pins
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Read the versions the collection pins
description:
  - Returns values from the collection's pinned versions (C(plugins/module_utils/pins.py)) by dotted key,
    for example V(cluster_api.version) or V(workload_kubernetes.versions).
  - Roles use it instead of repeating versions in their defaults.
  - An unknown key fails and lists the valid keys.
options:
  _terms:
    description: Dotted keys into the pins. An empty string returns all pins as a dictionary.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Show the pinned Cluster API version
  ansible.builtin.debug:
    msg: "{{ lookup('scs.kaas.pins', 'cluster_api.version') }}"

- name: Loop over the pinned workload Kubernetes versions
  ansible.builtin.debug:
    msg: "{{ item }}"
  loop: "{{ lookup('scs.kaas.pins', 'workload_kubernetes.versions') }}"
"""

RETURN = r"""
_raw:
  description: One value per key (a string, list or dictionary, as pinned).
  type: list
  elements: raw
"""

import copy

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.scs.kaas.plugins.module_utils import pins


def _leaf_keys(tree, prefix=""):
    keys = []
    for key in sorted(tree):
        path = prefix + key
        keys.append(path)
        if isinstance(tree[key], dict):
            keys.extend(_leaf_keys(tree[key], path + "."))
    return keys


def resolve(key):
    """Value of a dotted key in pins.PINS (a deep copy); raises AnsibleLookupError."""
    if not isinstance(key, str):
        raise AnsibleLookupError("scs.kaas.pins: key %r is not a string" % (key,))
    if key == "":
        return copy.deepcopy(pins.PINS)
    node = pins.PINS
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise AnsibleLookupError(
                "scs.kaas.pins: unknown key '%s'; valid keys: %s" % (key, ", ".join(_leaf_keys(pins.PINS)))
            )
        node = node[part]
    return copy.deepcopy(node)


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        if kwargs:
            raise AnsibleLookupError("scs.kaas.pins: takes no options, got %s" % ", ".join(sorted(kwargs)))
        return [resolve(str(term) if isinstance(term, str) else term) for term in terms]
