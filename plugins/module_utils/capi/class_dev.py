# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Cluster classes on the Cluster API development provider (DevCluster/DevMachine).

Two backends: ``inmemory`` (fake machines inside the provider process, used by the demo and
the tests; provisioning takes a few seconds) and ``docker`` (machines as containers of a
local Docker engine, kind node images).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.capi import class_common as common

API_DEV = "infrastructure.cluster.x-k8s.io/v1beta2"
KIND_DEV_CLUSTER_TEMPLATE = "DevClusterTemplate"
KIND_DEV_MACHINE_TEMPLATE = "DevMachineTemplate"

# The in-memory backend pretends to start machines; keep it quick on small hosts.
_INMEMORY_DURATIONS = (("vm", "3s"), ("node", "1s"), ("apiServer", "1s"), ("etcd", "1s"))

# Disk-pressure eviction off: the dev provider's nodes share the host's disk.
_EVICTION = {"name": "eviction-hard", "value": "nodefs.available<0%,nodefs.inodesFree<0%,imagefs.available<0%"}
_CRI_SOCKET = "unix:///var/run/containerd/containerd.sock"


def _node_registration():
    return {"criSocket": _CRI_SOCKET, "kubeletExtraArgs": [dict(_EVICTION)]}


def _backend(kind):
    if kind == "inmemory":
        return {"inMemory": {
            part: {"provisioning": {"startupDuration": duration, "startupJitter": "0.2"}}
            for part, duration in _INMEMORY_DURATIONS
        }}
    return {"docker": {}}


def _dev_machine_template(name, backend):
    return {
        "apiVersion": API_DEV,
        "kind": KIND_DEV_MACHINE_TEMPLATE,
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"backend": _backend(backend)}}},
    }


def _build(backend, name, minor):
    """Objects of one class; ``minor`` is part of the name only (no per-minor settings yet)."""
    del minor
    names = common.template_names(name)
    cluster_backend = {"inMemory": {}} if backend == "inmemory" else {"docker": {}}
    objects = [
        {
            "apiVersion": API_DEV,
            "kind": KIND_DEV_CLUSTER_TEMPLATE,
            "metadata": {"name": names["cluster"]},
            "spec": {"template": {"spec": {"backend": cluster_backend}}},
        },
        common.kubeadm_control_plane_template(names["control_plane"], {
            "clusterConfiguration": {"apiServer": {"certSANs": list(common.BASE_CERT_SANS)}},
            "initConfiguration": {"nodeRegistration": _node_registration()},
            "joinConfiguration": {"nodeRegistration": _node_registration()},
        }),
        _dev_machine_template(names["control_plane_machine"], backend),
        _dev_machine_template(names["worker_machine"], backend),
        common.kubeadm_config_template(names["worker_bootstrap"], {
            "joinConfiguration": {"nodeRegistration": _node_registration()},
        }),
    ]
    objects.insert(0, common.class_over_templates(name, API_DEV, KIND_DEV_CLUSTER_TEMPLATE, KIND_DEV_MACHINE_TEMPLATE, variables=common.common_variables(),
                                                  patches=common.common_patches()))
    return objects


def build_inmemory_v1(name, minor):
    return _build("inmemory", name, minor)


def build_docker_v1(name, minor):
    return _build("docker", name, minor)
