#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: openstack_cluster_cleanup
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Delete what a deleted workload cluster left in the cloud
description:
  - Run after the Cluster is gone from the management cluster (CAPO has deleted its servers,
    network, router, security groups and API load balancer).
  - Deletes what others made for the cluster - the load balancers, floating IPs and security groups
    the OpenStack cloud controller made for Services (C(kube_service_<cluster>_<namespace>_<service>),
    C(Floating IP for Kubernetes external service ... from cluster <cluster>)), the volumes Cinder CSI
    made (metadata C(cinder.csi.openstack.org/cluster)), the cluster's server groups and
    application credentials, and (with O(secret_name)) the identity Secret.
  - "Everything is selected by the cluster uid (unique per management cluster, namespace and name; the
    add-ons give it to the cloud controller and CSI as their cluster name), so nothing of another
    cluster is touched, even one of the same name in another namespace."
  - Reports CAPO's objects of the cluster that still exist (C(left)); it does not delete them.
  - "Deletes in a fixed order (load balancers before their floating IPs, the identity Secret last).
    When a deletion fails (the cloud answers an error, or stays unreachable after the retries), it
    stops there and fails with what this run deleted (RV(deleted)) and what is still to delete
    (RV(left)); a later run finds the rest by the cluster uid and resumes. A cloud that cannot be
    reached never leads to a reported success."
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
  - scs.kaas.kubeconfig
  - scs.kaas.openstack
  - scs.kaas.openstack.cluster
options:
  secret_name:
    description: The identity Secret to delete as well (in O(namespace)).
    type: str
  wait_timeout:
    description: Seconds to wait for each load balancer and volume to be gone.
    type: int
    default: 300
  fail_on_left:
    description: Fail when anything of the cluster is left (see RV(left)).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Clean up after prod-1
  scs.kaas.openstack_cluster_cleanup:
    cloud: my-cloud
    namespace: team-a
    cluster_name: prod-1
    secret_name: prod-1-cloud
  register: cleanup

- name: Report
  ansible.builtin.debug:
    msg: "deleted {{ cleanup.deleted | length }}, left {{ cleanup.left }}"
"""

RETURN = r"""
cluster_uid:
  description: The cluster's identifier in the cloud.
  returned: always
  type: str
deleted:
  description: What was deleted (would be, in check mode) - kind, id, name.
  returned: always
  type: list
  elements: dict
left:
  description: Objects of the cluster still in the cloud afterwards - kind, id, name. After a failed
    deletion, what was still to delete (the object that failed first).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.openstack import cleanup, cloud, cloud_facts, credentials
from ansible_collections.scs.kaas.plugins.module_utils.openstack.module import CLUSTER_ARGS, OpenStackModule


class ClusterCleanupModule(OpenStackModule):
    kubeconfig_options = True
    argument_spec = dict(
        CLUSTER_ARGS,
        secret_name=dict(type="str"),
        wait_timeout=dict(type="int", default=300),
        fail_on_left=dict(type="bool", default=False),
    )
    # What a failed run did and did not get to, for its result.
    _progress = None

    def run_cloud(self):
        p = self.params
        uid = self.cluster_uid()
        conn = self.conn
        has_lb = cloud_facts.has_service(conn, "load-balancer")
        has_volume = cloud_facts.has_service(conn, "block-storage") or cloud_facts.has_service(conn, "volumev3")
        found = cleanup.find(conn, uid, has_lb, has_volume)
        user_id = conn.current_user_id
        found += [dict(kind="application_credential", id=c["id"], name=c["name"])
                  for c in credentials.cluster_credentials(conn, user_id, uid)]
        secrets = self.client.resource("v1", "Secret")
        secret = self.client.get(secrets, p["secret_name"], p["namespace"]) if p["secret_name"] else None
        if secret is not None:
            found.append({"kind": "secret", "id": secret["metadata"]["uid"], "name": p["secret_name"]})
        deleted = []
        for index, item in enumerate(found):
            try:
                if self.module.check_mode or self._delete(item, user_id, secrets):
                    deleted.append(item)
            except Exception as exc:  # pylint: disable=broad-except  # any failure stops the cleanup here
                self._progress = {"cluster_uid": uid, "deleted": deleted, "left": found[index:]}
                raise KaasError(_stopped_message(p, item, exc, deleted, found[index:]))
        left = cleanup.capo_leftovers(conn, p["namespace"], p["cluster_name"], has_lb)
        if not self.module.check_mode:
            left += cleanup.find(conn, uid, has_lb, has_volume)
        result = {"cluster_uid": uid, "deleted": deleted, "left": left, "changed": bool(deleted)}
        if left and p["fail_on_left"]:
            self._progress = result
            raise KaasError("left in the cloud after the cleanup of %s/%s: %s"
                            % (p["namespace"], p["cluster_name"], _listed(left)))
        return result

    def failure_result(self):
        return self._progress or {}

    def _delete(self, item, user_id, secrets):
        if item["kind"] == "application_credential":
            return credentials.delete(self.conn, user_id, item["id"])
        if item["kind"] == "secret":
            return self.client.delete(secrets, self.params["secret_name"], self.params["namespace"])
        return cleanup.delete(self.conn, item, self.params["wait_timeout"])


def _listed(items):
    return ", ".join("%s %s (%s)" % (i["kind"], i["name"], i["id"]) for i in items) or "nothing"


def _stopped_message(params, item, exc, deleted, left):
    reason = cloud.short_error(exc) if not isinstance(exc, KaasError) else str(exc)
    return ("the cleanup of %s/%s stopped at %s %s (%s): %s. Deleted by this run: %s. Still to delete: %s. "
            "Run the playbook again when the cloud answers: the cleanup finds what is left by the cluster uid "
            "and goes on from there"
            % (params["namespace"], params["cluster_name"], item["kind"], item["name"], item["id"], reason,
               _listed(deleted), _listed(left)))


def main():
    ClusterCleanupModule()()


if __name__ == "__main__":
    main()
