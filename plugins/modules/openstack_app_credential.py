#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: openstack_app_credential
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Application credential of a workload cluster and its identity Secret
description:
  - Keeps one Keystone application credential per workload cluster, restricted to O(roles) and
    expiring after O(expires_in_days), and writes it as the identity Secret that the openstack
    class's C(identityRef) variable names (server-side apply on the management cluster).
  - "The Secret holds C(clouds.yaml) (one C(v3applicationcredential) entry named O(cloud_name)),
    C(cacert) (the PEM of O(ca_cert), read by CAPO) and C(cloud.conf) (the C([Global]) section of
    the OpenStack cloud controller and Cinder CSI, CA at C(/etc/config/cacert))."
  - Credentials are named C(<cluster uid>-<UTC creation time>); the cluster uid is unique per
    management cluster, namespace and name (the C(kube-system) namespace's UID, O(namespace),
    O(cluster_name)), so the credentials of other clusters are never touched.
  - Idempotent - a credential that exists, is not due for renewal and matches the Secret makes
    no write to the cloud or the management cluster.
  - "Rotation with the cluster running: V(rotated) creates a new credential and points the
    Secret at it, keeping the previous one (CAPO may still use it until its next reconcile); it
    annotates the cluster's OpenStackCluster with the new credential's ID, an event that makes CAPO
    reconcile, and so authenticate with the new credential, within seconds. The
    next run with V(present) deletes every credential of the cluster except the current one and the one the
    Secret named when that run started."
  - The credential secret never appears in results, diffs or logs.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
  - scs.kaas.kubeconfig
  - scs.kaas.openstack
  - scs.kaas.openstack.cluster
options:
  secret_name:
    description: Name of the identity Secret (the value of the class variable C(identityRef.name)).
    type: str
    required: true
  cloud_name:
    description: Name of the cloud entry in the Secret's C(clouds.yaml) (C(identityRef.cloudName)).
    type: str
    default: openstack
  roles:
    description:
      - Roles the credential carries. CAPO, the cloud controller and Cinder CSI need C(member)
        and, for Octavia, C(load-balancer_member).
    type: list
    elements: str
    default: [member, load-balancer_member]
  expires_in_days:
    description: Lifetime of a new credential in days; V(0) creates credentials that never expire.
    type: int
    default: 365
  renew_before_days:
    description: With V(present), a credential that expires within this many days is replaced (like V(rotated)).
    type: int
    default: 30
  state:
    description:
      - V(present) - a valid credential and a matching Secret; superseded credentials are deleted.
      - V(rotated) - a new credential, the Secret updated; the previous credential is kept.
      - V(absent) - the cluster's credentials and the Secret are deleted.
    type: str
    choices: [present, rotated, absent]
    default: present
"""

EXAMPLES = r"""
- name: Credential of cluster prod-1 (Secret prod-1-cloud, named by identityRef)
  scs.kaas.openstack_app_credential:
    kubeconfig: ~/.kube/management.yaml
    cloud: my-cloud
    ca_cert: /etc/ssl/my-cloud-ca.pem
    namespace: team-a
    cluster_name: prod-1
    secret_name: prod-1-cloud

- name: Rotate; wait for CAPO's next reconcile; then delete the old credential
  block:
    - scs.kaas.openstack_app_credential:
        cloud: my-cloud
        namespace: team-a
        cluster_name: prod-1
        secret_name: prod-1-cloud
        state: rotated
    - ansible.builtin.pause:
        minutes: 2
    - scs.kaas.openstack_app_credential:
        cloud: my-cloud
        namespace: team-a
        cluster_name: prod-1
        secret_name: prod-1-cloud
"""

RETURN = r"""
cluster_uid:
  description: The cluster's identifier in the cloud.
  returned: always
  type: str
credential:
  description: The current credential - id, name, expires_at (never the secret); null after V(absent).
  returned: always
  type: dict
created:
  description: A credential was created in this run.
  returned: always
  type: bool
deleted:
  description: IDs of credentials deleted (or to delete in check mode).
  returned: always
  type: list
  elements: str
kept:
  description: IDs of earlier credentials kept because CAPO may still use them (deleted by the next V(present) run).
  returned: always
  type: list
  elements: str
secret:
  description: Namespace and name of the identity Secret, and whether it was written.
  returned: always
  type: dict
reconcile_requested:
  description:
    - After a rotation, the OpenStackCluster annotated with the new credential's ID so that CAPO
      reconciles (and authenticates with the new credential) at once; null when the cluster has none yet.
  returned: when the Secret moved to a new credential
  type: str
"""

import datetime

from ansible_collections.scs.kaas.plugins.module_utils.kube import apply as kube_apply
from ansible_collections.scs.kaas.plugins.module_utils.openstack import cloud, credentials
from ansible_collections.scs.kaas.plugins.module_utils.openstack.module import CLUSTER_ARGS, OpenStackModule

INFRASTRUCTURE_GROUP = "infrastructure.cluster.x-k8s.io"
CREDENTIAL_ANNOTATION = "kaas.scs.community/application-credential-id"


class AppCredentialModule(OpenStackModule):
    kubeconfig_options = True
    argument_spec = dict(
        CLUSTER_ARGS,
        secret_name=dict(type="str", required=True),
        cloud_name=dict(type="str", default="openstack"),
        roles=dict(type="list", elements="str", default=list(credentials.DEFAULT_ROLES)),
        expires_in_days=dict(type="int", default=365),
        renew_before_days=dict(type="int", default=30),
        state=dict(type="str", choices=["present", "rotated", "absent"], default="present"),
    )

    def _namespace_exists(self, namespace):
        return self.client.get(self.client.resource("v1", "Namespace"), namespace) is not None

    def run_cloud(self):
        p = self.params
        for option in ("expires_in_days", "renew_before_days"):
            if p[option] < 0:
                raise cloud.OpenStackError("%s: %d is negative; give 0 or more days" % (option, p[option]))
        uid = self.cluster_uid()
        secrets = self.client.resource("v1", "Secret")
        live = self.client.get(secrets, p["secret_name"], p["namespace"])
        user_id = self.conn.current_user_id
        existing = credentials.cluster_credentials(self.conn, user_id, uid)
        result = {"cluster_uid": uid, "credential": None, "created": False, "deleted": [], "kept": [],
                  "secret": {"namespace": p["namespace"], "name": p["secret_name"], "written": False}}
        if p["state"] == "absent":
            return self._absent(result, user_id, existing, secrets, live)
        named_id, named_secret = credentials.secret_credential(live, p["cloud_name"]) if live else (None, None)
        now = datetime.datetime.utcnow()
        current = next((c for c in existing if c["id"] == named_id and named_secret), None)
        if current and (p["state"] == "rotated" or
                        credentials.expires_soon(current["expires_at"], now, p["renew_before_days"])):
            current = None
        if current is None:
            result["created"] = True
            if self.module.check_mode:
                result.update(changed=True, kept=[named_id] if named_id in [c["id"] for c in existing] else [],
                              deleted=[c["id"] for c in existing if c["id"] != named_id] if p["state"] == "present" else [])
                return result
            expires_at = now + datetime.timedelta(days=p["expires_in_days"]) if p["expires_in_days"] else None
            description = "scs.kaas workload cluster %s/%s" % (p["namespace"], p["cluster_name"])
            current, secret_value = credentials.create(self.conn, user_id, credentials.credential_name(uid, now),
                                                       p["roles"], expires_at, description)
        else:
            secret_value = named_secret
        result["credential"] = credentials.public_view(current)
        desired = credentials.identity_secret(
            p["secret_name"], p["namespace"], uid, p["cloud_name"], cloud.auth_summary(self.conn),
            current["id"], secret_value, self._ca_pem())
        if live is None and not self._namespace_exists(p["namespace"]) and self.module.check_mode:
            outcome = {"changed": True}  # the Secret's namespace comes with the cluster: nothing to dry-run
        else:
            if live is None and not self._namespace_exists(p["namespace"]):
                # The Secret goes first, before the cluster's own namespace is made by workload_cluster.
                self.client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": p["namespace"]}})
            outcome = kube_apply.reconcile(self.client, desired, live, check_mode=self.module.check_mode)
        result["secret"]["written"] = outcome["changed"]
        if outcome["changed"] and named_id and named_id != current["id"]:
            result["reconcile_requested"] = self._request_reconcile(current["id"])
        superseded = [c["id"] for c in existing if c["id"] != current["id"]]
        result["kept"] = [i for i in superseded if i == named_id or p["state"] == "rotated"]
        for credential_id in superseded:
            if credential_id not in result["kept"]:
                if not self.module.check_mode:
                    credentials.delete(self.conn, user_id, credential_id)
                result["deleted"].append(credential_id)
        result["changed"] = bool(result["created"] or outcome["changed"] or result["deleted"])
        return result

    def _request_reconcile(self, credential_id):
        """Annotate the cluster's OpenStackCluster with the new credential's ID: the change is an
        event CAPO reconciles at once, and the Secret's new content makes CAPO authenticate afresh
        (its client cache is keyed by the cloud entry), so the old credential falls out of use now
        rather than at CAPO's next periodic resync. Returns the OpenStackCluster's name, or None
        when there is none yet (or in check mode)."""
        p = self.params
        cluster = self.client.get(self.client.resource("cluster.x-k8s.io", "Cluster"), p["cluster_name"], p["namespace"])
        ref = ((cluster or {}).get("spec") or {}).get("infrastructureRef") or {}
        if ref.get("kind") != "OpenStackCluster" or not ref.get("name"):
            return None
        if not self.module.check_mode:
            group = ref.get("apiGroup") or INFRASTRUCTURE_GROUP
            version = self.client.resource(group, "OpenStackCluster").version
            self.client.apply({"apiVersion": "%s/%s" % (group, version), "kind": "OpenStackCluster",
                               "metadata": {"name": ref["name"], "namespace": p["namespace"],
                                            "annotations": {CREDENTIAL_ANNOTATION: credential_id}}})
        return ref["name"]

    def _absent(self, result, user_id, existing, secrets, live):
        for credential in existing:
            if self.module.check_mode or credentials.delete(self.conn, user_id, credential["id"]):
                result["deleted"].append(credential["id"])
        if live is not None:
            if not self.module.check_mode:
                self.client.delete(secrets, self.params["secret_name"], self.params["namespace"])
            result["secret"]["written"] = True
        result["changed"] = bool(result["deleted"] or live is not None)
        return result

    def _ca_pem(self):
        path = self.params.get("ca_cert") or cloud.auth_summary(self.conn).get("cacert")
        if not path:
            return None
        try:
            with open(path) as handle:
                return handle.read()
        except (IOError, OSError) as exc:
            raise cloud.OpenStackError("ca_cert: cannot read %s: %s" % (path, exc))


def main():
    AppCredentialModule()()


if __name__ == "__main__":
    main()
