# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Base of the modules that talk to an OpenStack cloud (and, where they set
``kubeconfig_options``, to the management cluster): the connection options of
``cloud.CLOUD_ARGS``, a lazily opened connection, and SDK errors reported like ``KaasError``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule
from ansible_collections.scs.kaas.plugins.module_utils.openstack import cloud, retry


CLUSTER_ARGS = dict(
    cluster_name=dict(type="str", required=True),
    namespace=dict(type="str", default="default"),
)


class OpenStackModule(KaasModule):
    """Subclasses implement ``run_cloud``; ``self.conn`` connects on first use. Modules whose
    objects belong to a workload cluster set ``kubeconfig_options`` and have ``cluster_name`` and
    ``namespace`` options (see ``CLUSTER_ARGS``)."""

    kubeconfig_options = False
    required_libraries = ((cloud.HAS_OPENSTACKSDK, "openstacksdk", cloud.OPENSTACKSDK_IMP_ERR),)

    def __init__(self):
        spec = dict(cloud.CLOUD_ARGS)
        spec.update(self.argument_spec)
        self.argument_spec = spec
        super(OpenStackModule, self).__init__()
        self._conn = None
        # ``cloud`` may be a whole clouds.yaml entry (type raw, so no_log cannot mask its parts):
        # its secrets join the values Ansible masks in results and the invocation.
        self.module.no_log_values.update(cloud.secret_values(self.params.get("cloud")))

    @property
    def conn(self):
        if self._conn is None:
            self._conn = cloud.connect(self.params)
        return self._conn

    def cluster_uid(self):
        """The cluster's uid as recorded with it - the Cluster's annotation, else (for modules with a
        ``secret_name``) the identity Secret's label - so that it survives a ``clusterctl move`` to a
        management cluster with another ``kube-system`` UID; else ``cloud.cluster_uid`` of the
        module's ``namespace`` and ``cluster_name`` on the management cluster of ``kubeconfig``."""
        p = self.params
        cluster = self.client.get(self.client.resource("cluster.x-k8s.io", "Cluster"), p["cluster_name"], p["namespace"])
        recorded, where = _meta(cluster, "annotations").get(cloud.UID_KEY), "the Cluster's annotation"
        if not recorded and p.get("secret_name"):
            secret = self.client.get(self.client.resource("v1", "Secret"), p["secret_name"], p["namespace"])
            recorded, where = _meta(secret, "labels").get(cloud.UID_KEY), "the label of Secret %s" % p["secret_name"]
        if recorded:
            if not cloud.is_cluster_uid(recorded):
                raise cloud.OpenStackError("%s %s of %s/%s is %r, not a cluster uid (%s)"
                                           % (where, cloud.UID_KEY, p["namespace"], p["cluster_name"], recorded,
                                              cloud.UID_FORM))
            return recorded
        return cloud.cluster_uid(cloud.management_id(self.client), p["namespace"], p["cluster_name"])

    def run(self):
        try:
            return self.run_cloud()
        except cloud.OpenStackError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            if cloud.is_sdk_error(exc):
                raise cloud.OpenStackError("OpenStack API error: %s" % cloud.short_error(exc))
            # A connection refused, unreachable or timed out after the retries: keystoneauth's own
            # errors, which openstacksdk lets through.
            if retry.is_keystoneauth_error(exc):
                raise cloud.OpenStackError("the cloud did not answer: %s" % cloud.short_error(exc))
            raise
        finally:
            if self._conn is not None:
                self._conn.close()

    def run_cloud(self):
        raise NotImplementedError


def _meta(obj, field):
    return (((obj or {}).get("metadata") or {}).get(field)) or {}
