# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The cleanup selectors match the names cloud-provider-openstack gives, for one cluster uid only (pure)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.openstack import cleanup, cloud

UID = cloud.cluster_uid("m", "team-a", "prod")
SAME_NAME_OTHER_NAMESPACE = cloud.cluster_uid("m", "team-b", "prod")
OTHER_MANAGEMENT = cloud.cluster_uid("m2", "team-a", "prod")


def test_service_load_balancers():
    assert cleanup.is_service_load_balancer(UID, "kube_service_%s_default_web" % UID)
    for other in (SAME_NAME_OTHER_NAMESPACE, OTHER_MANAGEMENT, "prod", UID[:-1]):
        assert not cleanup.is_service_load_balancer(UID, "kube_service_%s_default_web" % other)
    assert not cleanup.is_service_load_balancer(UID, "k8s-clusterapi-cluster-team-a-prod-kubeapi")
    assert not cleanup.is_service_load_balancer(UID, None)


def test_service_floating_ips_and_security_groups():
    mine = "Floating IP for Kubernetes external service default/web from cluster %s" % UID
    assert cleanup.is_service_floating_ip(UID, mine)
    assert not cleanup.is_service_floating_ip(SAME_NAME_OTHER_NAMESPACE, mine)
    assert not cleanup.is_service_floating_ip(UID, "my own floating IP from cluster %s" % UID)
    assert cleanup.is_service_security_group(UID, "Security Group for Service LoadBalancer in cluster %s" % UID)
    assert not cleanup.is_service_security_group(
        UID, "Security Group for Service LoadBalancer in cluster %s" % OTHER_MANAGEMENT)


def test_csi_volumes():
    assert cleanup.is_csi_volume(UID, {"cinder.csi.openstack.org/cluster": UID, "other": "x"})
    assert not cleanup.is_csi_volume(UID, {"cinder.csi.openstack.org/cluster": SAME_NAME_OTHER_NAMESPACE})
    assert not cleanup.is_csi_volume(UID, None)


def test_capo_objects_by_namespace_and_name():
    assert cleanup.is_capo_object("team-a", "prod", "k8s-clusterapi-cluster-team-a-prod")
    assert cleanup.is_capo_object("team-a", "prod", "k8s-clusterapi-cluster-team-a-prod-kubeapi")
    assert not cleanup.is_capo_object("team-a", "prod", "k8s-clusterapi-cluster-team-a-prod2")
    assert cleanup.is_capo_object("team-a", "prod", "k8s-cluster-team-a-prod-secgroup-controlplane")
    assert not cleanup.is_capo_object("team-a", "prod", "k8s-cluster-team-a-prod2-secgroup-worker")
