#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: openstack_server_groups
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Server groups of a workload cluster
description:
  - Keeps two Nova server groups per workload cluster, C(<cluster uid>-control-plane) (hard
    anti-affinity by default) and C(<cluster uid>-workers) (soft anti-affinity by default), and
    returns their IDs as the class variables C(controlPlaneServerGroupID) and C(workerServerGroupID).
  - The cluster uid is unique per management cluster, namespace and name (see
    M(scs.kaas.openstack_app_credential)), so groups of other clusters are never touched.
  - A group whose policy differs is replaced while it has no servers; with servers the module fails
    (Nova cannot change a policy).
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
  - scs.kaas.kubeconfig
  - scs.kaas.openstack
  - scs.kaas.openstack.cluster
options:
  control_plane_policy:
    description: Policy of the control plane group.
    type: str
    choices: [anti-affinity, soft-anti-affinity, affinity, soft-affinity]
    default: anti-affinity
  worker_policy:
    description: Policy of the worker group.
    type: str
    choices: [anti-affinity, soft-anti-affinity, affinity, soft-affinity]
    default: soft-anti-affinity
  state:
    description: V(present) keeps the groups; V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: Server groups of prod-1
  scs.kaas.openstack_server_groups:
    cloud: my-cloud
    namespace: team-a
    cluster_name: prod-1
  register: groups

- name: The cluster refers to them
  scs.kaas.workload_cluster:
    clusters:
      - "{{ workload_cluster | combine({'variables': groups.variables}, recursive=true) }}"
"""

RETURN = r"""
cluster_uid:
  description: The cluster's identifier in the cloud.
  returned: always
  type: str
groups:
  description: The groups by role (C(control_plane), C(workers)) - id, name, policy, members; empty after V(absent).
  returned: always
  type: dict
variables:
  description: The class variables C(controlPlaneServerGroupID) and C(workerServerGroupID) (unknown IDs in check mode are null).
  returned: always
  type: dict
deleted:
  description: IDs of groups deleted (or to delete in check mode).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.openstack import server_groups
from ansible_collections.scs.kaas.plugins.module_utils.openstack.module import CLUSTER_ARGS, OpenStackModule


class ServerGroupsModule(OpenStackModule):
    kubeconfig_options = True
    argument_spec = dict(
        CLUSTER_ARGS,
        control_plane_policy=dict(type="str", choices=list(server_groups.POLICIES), default="anti-affinity"),
        worker_policy=dict(type="str", choices=list(server_groups.POLICIES), default="soft-anti-affinity"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )

    def run_cloud(self):
        uid = self.cluster_uid()
        existing = server_groups.cluster_groups(self.conn, uid)
        result = {"cluster_uid": uid, "groups": {}, "variables": {}, "deleted": []}
        check_mode = self.module.check_mode
        if self.params["state"] == "absent":
            for group in existing:
                if check_mode or server_groups.delete(self.conn, group["id"]):
                    result["deleted"].append(group["id"])
            result["changed"] = bool(result["deleted"])
            return result
        policies = {"control_plane": self.params["control_plane_policy"], "workers": self.params["worker_policy"]}
        actions, errors = server_groups.plan(uid, policies, existing)
        if errors:
            raise KaasError("; ".join(errors))
        for action, role, group in actions:
            if action == "replace":
                result["deleted"].append(group["id"])
                if not check_mode:
                    server_groups.delete(self.conn, group["id"])
            if action != "keep":
                result["changed"] = True
                group = None if check_mode else server_groups.create(self.conn, uid, role, policies[role])
            result["groups"][role] = group
            result["variables"][server_groups.ROLES[role][1]] = group["id"] if group else None
        return result


def main():
    ServerGroupsModule()()


if __name__ == "__main__":
    main()
