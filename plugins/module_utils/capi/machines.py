# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Machine counts of workload clusters, read with one LIST (used by workload_cluster_info)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.capi import topology


def machine_counts(client, namespace=None):
    """{(namespace, cluster): {'total': n, 'phases': {...}, 'versions': {...}}} from one LIST of Machines."""
    res = client.resource("cluster.x-k8s.io/v1beta2", "Machine")
    counts = {}
    for item in client.list(res, namespace).get("items", []):
        meta = item.get("metadata") or {}
        key = (meta.get("namespace"), ((item.get("spec") or {}).get("clusterName")
                                       or (meta.get("labels") or {}).get(topology.CLUSTER_NAME_LABEL)))
        entry = counts.setdefault(key, {"total": 0, "control_plane": 0, "workers": 0, "phases": {}, "versions": {}})
        entry["total"] += 1
        if "cluster.x-k8s.io/control-plane" in (meta.get("labels") or {}):
            entry["control_plane"] += 1
        else:
            entry["workers"] += 1
        phase = (item.get("status") or {}).get("phase") or "Unknown"
        entry["phases"][phase] = entry["phases"].get(phase, 0) + 1
        version = (item.get("spec") or {}).get("version") or "unknown"
        entry["versions"][version] = entry["versions"].get(version, 0) + 1
    return counts
