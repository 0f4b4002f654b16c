#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: openstack_preflight
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Check a batch of openstack-class workload clusters against the cloud, read-only
description:
  - Before anything is written, checks every openstack-class cluster of the batch against the cloud -
    the cloud authenticates; the flavors exist and fit (vCPUs, RAM; a flavor without disk needs a
    root volume); the images exist, are unique and active; the external network exists (found
    automatically when the cloud has exactly one); the availability zones exist; the project's
    quotas cover the whole batch (instances, cores, RAM, volumes, gigabytes, load balancers,
    floating IPs, security groups, networks, routers, server groups).
  - Every error names the inventory variable, the bad value and what would be valid; all errors of
    the batch are reported at once.
  - Sends only GET requests (and the Keystone token request).
  - Clusters of other classes are skipped.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
  - scs.kaas.openstack
options:
  clusters:
    description:
      - The workload cluster specs, as for M(scs.kaas.workload_cluster) - each a spec, or a dict with
        C(spec) and C(var_name) (the inventory variable errors name).
    type: list
    elements: raw
    required: true
  var_name:
    description: Inventory variable that errors name for items without their own C(var_name).
    type: str
    default: clusters
  planned_images:
    description:
      - Names of Glance images that this run uploads after the preflight (M(scs.kaas.openstack_image)).
        An image of such a name that does not exist yet passes; one that exists is checked as any other.
      - The preflight stays read-only.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Preflight of every cluster in the inventory
  scs.kaas.openstack_preflight:
    cloud: my-cloud
    ca_cert: /etc/ssl/my-cloud-ca.pem
    clusters: "{{ groups['workload_clusters'] | map('extract', hostvars)
                  | map(attribute='workload_cluster') | list }}"
"""

RETURN = r"""
clusters:
  description: Per inventory variable - C(external_network_id) (the one given or found).
  returned: success
  type: dict
need:
  description: What the batch needs per quota (instances, cores, ram, ...).
  returned: success
  type: dict
quotas:
  description: The project's quotas - per resource C(limit) and C(used).
  returned: success
  type: dict
"""

from ansible_collections.scs.kaas.plugins.module_utils.capi import classes, validation
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.openstack import cloud_facts, preflight
from ansible_collections.scs.kaas.plugins.module_utils.openstack.module import OpenStackModule


def openstack_specs(items, var_name):
    """(normalised openstack-class specs, spec errors) of the batch."""
    specs, errors = [], []
    for index, item in enumerate(items):
        if isinstance(item, dict) and "spec" in item:
            raw, name = item["spec"], item.get("var_name") or "%s[%d]" % (var_name, index)
        else:
            raw, name = item, "%s[%d]" % (var_name, index)
        spec, messages = validation.normalize_spec(raw, name)
        errors += messages
        parsed = classes.parse_class_name(spec["class"]) if spec and spec.get("class") else None
        if not messages and parsed and parsed[0] == "openstack":
            specs.append(spec)
    return specs, errors


class PreflightModule(OpenStackModule):
    argument_spec = dict(
        clusters=dict(type="list", elements="raw", required=True),
        var_name=dict(type="str", default="clusters"),
        planned_images=dict(type="list", elements="str", default=[]),
    )

    def run_cloud(self):
        specs, errors = openstack_specs(self.params["clusters"], self.params["var_name"])
        if errors:
            raise KaasError("the batch has invalid specs:\n" + "\n".join(errors))
        if not specs:
            return {"clusters": {}, "need": {}, "quotas": {}}
        batch = [preflight.demands(spec) for spec in specs]
        images = [s["image"] for d in batch for s in d["servers"] if "orcImageName" not in s["image"]]
        facts = cloud_facts.fetch(self.conn, images)
        facts["planned_images"] = set(self.params["planned_images"])
        errors, report = preflight.check(batch, facts)
        if errors:
            raise KaasError("preflight found %d problem(s):\n%s" % (len(errors), "\n".join(errors)))
        return {"clusters": report["clusters"], "need": report["need"], "quotas": facts["quotas"]}


def main():
    PreflightModule()()


if __name__ == "__main__":
    main()
