#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: workload_cluster_info
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Report Cluster API workload clusters, versions, machine counts and conditions
description:
  - Lists topology C(Cluster) objects on the management cluster and summarises each - class,
    Kubernetes version, replica counts and versions of control plane and workers, machines by
    phase, the v1beta2 conditions with reasons and messages, and why it has not converged (if so).
  - Reads only; two LIST requests in total (Clusters and Machines), whatever the number of clusters.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
  - scs.kaas.kubeconfig
options:
  name:
    description: Only this cluster.
    type: str
  namespace:
    description: Only this namespace (default - all namespaces).
    type: str
  label_selector:
    description: Only clusters with these labels, e.g. C(kaas.scs.community/managed-by=scs.kaas).
    type: str
"""

EXAMPLES = r"""
- name: Status of every workload cluster
  scs.kaas.workload_cluster_info:
    kubeconfig: ~/.cache/scs-kaas/embedded/state/kubeconfig
  register: info

- name: Print a table
  ansible.builtin.debug:
    msg: "{{ info.table }}"
"""

RETURN = r"""
clusters:
  description: One summary per cluster, sorted by namespace and name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Cluster name.
      type: str
    namespace:
      description: Namespace.
      type: str
    class:
      description: ClusterClass name.
      type: str
    class_namespace:
      description: Namespace of the ClusterClass (C(classRef.namespace), else the Cluster's namespace).
      type: str
    kubernetes_version:
      description: Topology version.
      type: str
    phase:
      description: C(status.phase).
      type: str
    paused:
      description: C(spec.paused) is set.
      type: bool
    protected:
      description: The annotation C(kaas.scs.community/protected) is V(true).
      type: bool
    deleting:
      description: The Cluster has a deletion timestamp.
      type: bool
    generation:
      description: C(metadata.generation).
      type: int
    observed_generation:
      description: C(status.observedGeneration).
      type: int
    node_groups:
      description: The topology's machine deployments - name, class, replicas, failure_domain.
      type: list
      elements: dict
    available:
      description: Condition C(Available) is true.
      type: bool
    converged:
      description: Nothing is pending (see C(problems)).
      type: bool
    control_plane:
      description: Replica counts (desired, current, ready, available, up_to_date) and versions of the control plane.
      type: dict
    workers:
      description: Replica counts and versions of the workers.
      type: dict
    machines:
      description: Machines - total, control_plane, workers, phases and versions.
      type: dict
    conditions:
      description: v1beta2 conditions (status, reason, message) by type.
      type: dict
    problems:
      description: Why the cluster has not converged (empty when it has) - type, status, reason, message.
      type: list
      elements: dict
table:
  description: A plain-text table (one line per cluster) for reports.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule
from ansible_collections.scs.kaas.plugins.module_utils.capi import topology
from ansible_collections.scs.kaas.plugins.module_utils.capi.machines import machine_counts


class WorkloadClusterInfoModule(KaasModule):
    argument_spec = dict(
        name=dict(type="str"),
        namespace=dict(type="str"),
        label_selector=dict(type="str"),
    )

    def run(self):
        client = self.client
        resource = client.resource("cluster.x-k8s.io/v1beta2", "Cluster")
        namespace = self.params["namespace"]
        field_selector = "metadata.name=%s" % self.params["name"] if self.params["name"] else None
        items = client.list(resource, namespace, label_selector=self.params["label_selector"],
                            field_selector=field_selector).get("items", [])
        machines = machine_counts(client, namespace) if items else {}
        clusters = []
        for item in sorted(items, key=lambda i: (i["metadata"]["namespace"], i["metadata"]["name"])):
            summary = topology.summarize(item)
            summary["problems"] = topology.convergence_problems(item)
            summary["converged"] = not summary["problems"]
            summary["machines"] = machines.get((summary["namespace"], summary["name"]),
                                               {"total": 0, "control_plane": 0, "workers": 0, "phases": {}, "versions": {}})
            clusters.append(summary)
        self.module.exit_json(changed=False, clusters=clusters, table=self.table(clusters))

    @staticmethod
    def table(clusters):
        header = ("NAMESPACE", "NAME", "CLASS", "VERSION", "CP", "WORKERS", "MACHINES", "AVAILABLE", "STATE")
        rows = [header]
        for c in clusters:
            cp, wk = c["control_plane"], c["workers"]
            state = "converged" if c["converged"] else ", ".join(
                "%s=%s" % (p["type"], p.get("reason") or p["status"]) for p in c["problems"][:3])
            if c["deleting"]:
                state = "deleting"
            rows.append((c["namespace"], c["name"], c["class"] or "-", c["kubernetes_version"] or "-",
                         "%s/%s" % (cp["available"], cp["desired"]), "%s/%s" % (wk["available"], wk["desired"]),
                         str(c["machines"]["total"]), "True" if c["available"] else "False", state))
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
        return ["  ".join(str(v).ljust(widths[i]) for i, v in enumerate(r)).rstrip() for r in rows]


def main():
    WorkloadClusterInfoModule()()


if __name__ == "__main__":
    main()
