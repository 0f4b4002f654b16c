# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""What is left of a workload cluster in the cloud after CAPO deleted its own objects.

The add-ons run the OpenStack cloud controller and Cinder CSI with the cluster uid
(``cloud.cluster_uid``) as their cluster name; cloud-provider-openstack then names and marks what
it creates like this (the selectors below match exactly these, nothing looser):

- load balancers ``kube_service_<cluster>_<namespace>_<service>``;
- floating IPs with the description ``Floating IP for Kubernetes external service <service> from
  cluster <cluster>``;
- security groups with the description ``Security Group for Service LoadBalancer in cluster <cluster>``;
- volumes with the metadata ``cinder.csi.openstack.org/cluster: <cluster>``.

The collection's own objects are the server groups (``server_groups``) and the application
credentials (``credentials``). CAPO's objects carry ``k8s-clusterapi-cluster-<namespace>-<name>``;
they are listed as leftovers, never deleted here (CAPO owns them; a leftover means its delete failed).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.scs.kaas.plugins.module_utils.openstack import cloud, server_groups

LB_PREFIX = "kube_service_"
FIP_PREFIX = "Floating IP for Kubernetes external service "
SG_DESCRIPTION = "Security Group for Service LoadBalancer in cluster %s"
CSI_CLUSTER_KEY = "cinder.csi.openstack.org/cluster"


def is_service_load_balancer(uid, name):
    # The uid has no "_", so the first "_" after the prefix ends the cluster name.
    return (name or "").startswith("%s%s_" % (LB_PREFIX, uid))


def is_service_floating_ip(uid, description):
    description = description or ""
    return description.startswith(FIP_PREFIX) and description.endswith(" from cluster %s" % uid)


def is_service_security_group(uid, description):
    return (description or "") == SG_DESCRIPTION % uid


def is_csi_volume(uid, metadata):
    return (metadata or {}).get(CSI_CLUSTER_KEY) == uid


def is_capo_object(namespace, name, object_name):
    """CAPO's names: ``k8s-clusterapi-cluster-<namespace>-<name>`` (network, subnet, router, API load
    balancer, ``-kubeapi``) and ``k8s-cluster-<namespace>-<name>-secgroup-<role>``. A ``-`` inside
    the namespace or name makes them ambiguous, which is why they are only reported."""
    object_name = object_name or ""
    prefix = "k8s-clusterapi-cluster-%s-%s" % (namespace, name)
    return (object_name == prefix or object_name.startswith(prefix + "-")
            or object_name.startswith("k8s-cluster-%s-%s-secgroup-" % (namespace, name)))


def _view(kind, obj, name=None):
    return {"kind": kind, "id": obj.id, "name": name if name is not None else getattr(obj, "name", None)}


def find(conn, uid, has_load_balancer=True, has_volume=True):
    """The cloud objects of this cluster uid that the collection deletes, in deletion order."""
    found = []
    if has_load_balancer:
        found += [_view("load_balancer", lb) for lb in conn.load_balancer.load_balancers()
                  if is_service_load_balancer(uid, lb.name)]
    found += [_view("floating_ip", ip, ip.floating_ip_address) for ip in conn.network.ips()
              if is_service_floating_ip(uid, ip.description)]
    found += [_view("security_group", sg) for sg in conn.network.security_groups()
              if is_service_security_group(uid, sg.description)]
    if has_volume:
        found += [_view("volume", v) for v in conn.block_storage.volumes(details=True)
                  if is_csi_volume(uid, v.metadata)]
    found += [dict(kind="server_group", id=g["id"], name=g["name"]) for g in server_groups.cluster_groups(conn, uid)]
    return found


def capo_leftovers(conn, namespace, name, has_load_balancer=True):
    """CAPO's objects of the cluster that still exist (networks, routers, security groups, load
    balancers; servers and ports are named after Machines, not the cluster)."""
    listings = [("network", conn.network.networks()), ("router", conn.network.routers()),
                ("security_group", conn.network.security_groups())]
    if has_load_balancer:
        listings.append(("load_balancer", conn.load_balancer.load_balancers()))
    return [_view(kind, obj) for kind, items in listings for obj in items
            if is_capo_object(namespace, name, getattr(obj, "name", None))]


def delete(conn, item, wait_timeout=300):
    """Delete one found object; False when it was already gone."""
    kind = item["kind"]
    try:
        if kind == "load_balancer":
            _wait_settled(conn, item["id"], wait_timeout)
            conn.load_balancer.delete_load_balancer(item["id"], ignore_missing=False, cascade=True)
            _wait_gone(conn.load_balancer.get_load_balancer, conn.load_balancer.wait_for_delete, item, wait_timeout)
        elif kind == "floating_ip":
            conn.network.delete_ip(item["id"], ignore_missing=False)
        elif kind == "security_group":
            conn.network.delete_security_group(item["id"], ignore_missing=False)
        elif kind == "volume":
            conn.block_storage.delete_volume(item["id"], ignore_missing=False)
            _wait_gone(conn.block_storage.get_volume, conn.block_storage.wait_for_delete, item, wait_timeout)
        elif kind == "server_group":
            conn.compute.delete_server_group(item["id"], ignore_missing=False)
    except Exception as exc:  # pylint: disable=broad-except
        if cloud.is_not_found(exc):
            return False
        raise
    return True


def _wait_settled(conn, load_balancer_id, wait_timeout):
    """Octavia refuses to delete a load balancer in a PENDING_* state (one the cloud controller is
    still creating or updating): wait until it is ACTIVE or ERROR."""
    deadline = time.monotonic() + wait_timeout
    while True:
        status = conn.load_balancer.get_load_balancer(load_balancer_id).provisioning_status or ""
        if not status.startswith("PENDING_"):
            return
        if time.monotonic() > deadline:
            raise cloud.OpenStackError("load balancer %s is still %s after %d s; not deleting it"
                                       % (load_balancer_id, status, wait_timeout))
        time.sleep(2)


def _wait_gone(get, wait_for_delete, item, wait_timeout):
    """Wait until a deleted object is gone (a load balancer's floating IP and a volume's quota are
    released only then)."""
    try:
        wait_for_delete(get(item["id"]), wait=wait_timeout)
    except Exception as exc:  # pylint: disable=broad-except
        if not cloud.is_not_found(exc):
            raise
