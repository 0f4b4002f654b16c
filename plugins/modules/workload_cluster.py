#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: workload_cluster
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Create, update, upgrade and delete Cluster API workload clusters
description:
  - Builds one topology C(Cluster) (C(cluster.x-k8s.io/v1beta2)) per spec from a ClusterClass of this
    collection and applies it to the management cluster with server-side apply (field manager
    C(scs.kaas), user agent C(scs.kaas/<version>)).
  - Idempotent without writes - the fields this module owns are compared with the live object first;
    when they match (and no field it used to own was dropped) no mutating request is sent.
  - Every spec is validated before anything is written - the keys and values declared for
    O(clusters) (names, durations, counts, CIDRs that are networks, IPs, URLs with a scheme,
    certificates that parse), versions and upgrade steps (patch forward freely, one minor at a time,
    never down, only inside the Cluster API workload range), control plane size, CIDR overlaps,
    autoscaler bounds, duplicate node groups, namespaces reserved by Kubernetes or the providers,
    what the class can honour (IP family), the ClusterClass and its variables and the Secret an
    C(identityRef) names with the cloud in its C(clouds.yaml) (read from the management cluster).
    Then every cluster that needs a write gets a server-side dry run, and admission errors are mapped
    back to the inventory variable. Errors name the inventory variable, the bad value and what is
    valid.
  - A batch is all or nothing - when any cluster fails a check, no cluster is written, unless
    O(partial=true).
  - Valid but risky settings (an API open to the whole internet while the allowed-CIDR restriction
    is on, a rollout that may take down a whole node group) are returned as warnings.
  - A version change and a class change in one spec are applied in one write, so CAPI replaces each
    Machine once.
  - With O(wait), waits with a watch until C(status.observedGeneration) caught up and the v1beta2
    conditions C(Available), C(TopologyReconciled), C(ControlPlaneAvailable), C(WorkersAvailable),
    C(ControlPlaneMachinesUpToDate), C(WorkerMachinesUpToDate) are true, C(RollingOut), C(ScalingUp),
    C(ScalingDown) are false and replica counts and versions match the topology.
  - Takes one cluster (O(cluster)) or many (O(clusters)); many are reconciled concurrently in one
    process, which is how the C(workload_cluster) role handles a whole play at once.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.diff
  - scs.kaas.kubeconfig
  - scs.kaas.workload_cluster_spec
options:
  cluster:
    description:
      - One workload cluster spec (see O(clusters) for the keys). Mutually exclusive with O(clusters).
    type: dict
  state:
    description:
      - V(present) creates or updates, V(absent) deletes (only C(name) and C(namespace) are needed).
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - Wait until the cluster converged (V(present)) or it and everything it owns is gone (V(absent)).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait per cluster (at least 1).
    type: int
    default: 900
  force_delete_protected:
    description:
      - Delete clusters marked protected (annotation C(kaas.scs.community/protected=true), set from the
        spec key C(protected)). Without it such a delete fails before anything is written.
    type: bool
    default: false
  force_conflicts:
    description:
      - Take over fields of the Cluster that another field manager (C(kubectl edit), a controller, another
        tool) owns with a different value. Without it such a server-side apply conflict fails the cluster
        before anything is written, naming the inventory variable, the field and the other manager, and
        the other manager keeps its fields.
    type: bool
    default: false
  workload_kubeconfig_dir:
    description:
      - Write the kubeconfig of each cluster (Secret C(<name>-kubeconfig)) to
        C(<dir>/<namespace>-<name>.kubeconfig) with mode 0600 (atomically, a temporary file and then a rename)
        as soon as the Secret exists, before waiting for convergence and also with O(wait=false); the
        Secret is waited for up to O(wait_timeout) seconds (not for a paused cluster).
      - Its content is never returned or logged.
      - Must be a directory or a path that can be created as one; checked before anything is written.
    type: path
  var_name:
    description: Inventory variable named in error messages, e.g. C(workload_cluster.node_groups[1].name).
    type: str
    default: workload_cluster
  parallel:
    description: Clusters reconciled at the same time (at least 1).
    type: int
    default: 8
  addons_repository_url:
    description:
      - The Helm chart repository the add-ons' HelmChartProxies name (C(spec.repoURL)); CAAPH fetches the charts
        from it. The default is where M(scs.kaas.chart_repository) serves the collection's charts on the
        embedded management cluster's host; a management cluster whose CAAPH runs in pods needs an address those
        pods reach.
      - Used only for clusters whose spec sets C(addons).
    type: str
    default: http://127.0.0.1:8879
  partial:
    description:
      - With V(false) a batch is all or nothing - when any cluster of O(clusters) fails its checks
        (including the server-side dry run), no cluster is written and the valid ones fail with
        C(not applied).
      - With V(true) the valid clusters are applied and only the invalid ones fail.
    type: bool
    default: false
attributes:
  check_mode:
    details: Server-side dry run (C(dryRun=All)); nothing is written.
  diff_mode:
    details: Before and after of the fields the module owns.
notes:
  - Requires the C(kubernetes) Python package on the host that runs the module.
  - With O(clusters) the module itself fails only for problems that concern every cluster (such as an
    unreachable management cluster or an invalid module option); per-cluster failures are in
    RV(clusters) with C(failed=true).
  - Warnings about risky settings are in the C(warnings) of each cluster's result and are shown by
    Ansible as C([WARNING]) lines.
seealso:
  - module: scs.kaas.workload_cluster_info
  - module: scs.kaas.cluster_class
"""

EXAMPLES = r"""
- name: One in-memory cluster with two workers
  scs.kaas.workload_cluster:
    kubeconfig: ~/.cache/scs-kaas/embedded/state/kubeconfig
    cluster:
      name: demo-1
      infrastructure: inmemory
      kubernetes_version: v1.34.4
      control_plane:
        replicas: 1
      node_groups:
        - name: md-0
          replicas: 2
          labels:
            node-role.kubernetes.io/worker: ""
          rollout:
            max_surge: 1
            max_unavailable: 0
          deletion:
            node_drain_timeout: 5m
        - name: batch
          autoscaler: {min: 0, max: 5}
          taints:
            - {key: dedicated, value: batch, effect: NoSchedule}
      api:
        cert_sans: [api.demo-1.example.com]
      protected: true

- name: Every cluster of the play at once (see role scs.kaas.workload_cluster)
  scs.kaas.workload_cluster:
    clusters: "{{ specs }}"
  run_once: true
  register: reconcile

- name: Delete a protected cluster
  scs.kaas.workload_cluster:
    cluster: {name: demo-1}
    state: absent
    force_delete_protected: true
"""

RETURN = r"""
changed:
  description: Whether any cluster changed (or would change, in check mode).
  returned: always
  type: bool
cluster:
  description: With O(cluster) - the status summary of the cluster (see RV(clusters)).
  returned: when O(cluster) is used and it exists
  type: dict
clusters:
  description:
    - Result per cluster, keyed by C(host) (or C(<namespace>/<name>)).
    - Each has C(changed), C(failed), C(msg), C(errors) (list), C(action) (V(create), V(update),
      V(delete) or V(none)), C(cluster) (summary - name, namespace, class, kubernetes_version, phase,
      paused, protected, available, control_plane/workers replica counts and versions; with O(cluster)
      also node_groups and conditions with status, reason and message - with O(clusters) these are
      left out to keep the result small, see M(scs.kaas.workload_cluster_info)), C(problems) (failing
      conditions with reason and message), C(stale_fields) (owned fields that were dropped), C(diff) (with --diff),
      C(blockers) (what still blocks a delete), C(kubeconfig_path), C(warnings) (risky settings) and, for a
      cluster with C(addons) or add-on proxies to remove, C(addons) - C(enabled), C(changed) and C(removed) add-on
      names (their values are never returned; the diff shows chart, version and a hash of the values).
  returned: always
  type: dict
  sample:
    demo-1:
      changed: false
      failed: false
      action: none
      cluster:
        name: demo-1
        kubernetes_version: v1.34.4
        available: true
failed_clusters:
  description: Keys of the clusters that failed.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule
from ansible_collections.scs.kaas.plugins.module_utils.addons import reconcile as addon_proxies
from ansible_collections.scs.kaas.plugins.module_utils.capi import batch_options
from ansible_collections.scs.kaas.plugins.module_utils.capi.workload import WorkloadClusters


class WorkloadClusterModule(KaasModule):
    argument_spec = dict(
        cluster=dict(type="dict"),
        clusters=dict(type="list", elements="dict"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=900),
        force_delete_protected=dict(type="bool", default=False),
        force_conflicts=dict(type="bool", default=False),
        workload_kubeconfig_dir=dict(type="path"),
        var_name=dict(type="str", default="workload_cluster"),
        parallel=dict(type="int", default=8),
        partial=dict(type="bool", default=False),
        addons_repository_url=dict(type="str", default=addon_proxies.DEFAULT_REPOSITORY_URL),
    )
    module_kwargs = dict(
        mutually_exclusive=[("cluster", "clusters")],
        required_one_of=[("cluster", "clusters")],
    )

    def shown_params(self):
        """The parameters with every add-on's values replaced: they may hold credentials (docs/addons.md)."""
        return addon_proxies.redacted_params(self.params)

    def _entries(self):
        var_name = self.params["var_name"]
        if self.params["cluster"] is not None:
            return [(None, self.params["cluster"], var_name)]
        entries = []
        for index, item in enumerate(self.params["clusters"]):
            if isinstance(item, dict) and "spec" in item:
                entries.append((item.get("host"), item.get("spec"), item.get("var_name") or var_name))
            else:
                entries.append((None, item, "%s[%d]" % (var_name, index) if var_name == "clusters" else var_name))
        return entries

    def run(self):
        errors = batch_options.check(self.params)
        if errors:
            self.module.fail_json(msg="invalid module options, nothing was read or written: %s" % "; ".join(errors),
                                  errors=errors)
        engine = WorkloadClusters(
            self.client, check_mode=self.module.check_mode, diff=self.module._diff,
            wait=self.params["wait"], wait_timeout=self.params["wait_timeout"],
            force_delete_protected=self.params["force_delete_protected"],
            force_conflicts=self.params["force_conflicts"],
            kubeconfig_dir=self.params["workload_kubeconfig_dir"], parallel=self.params["parallel"],
            partial=self.params["partial"], addons_repository_url=self.params["addons_repository_url"])
        results = engine.run(self._entries(), self.params["state"])
        by_key = {}
        for index, res in enumerate(results):
            by_key[res.key or "#%d" % index] = res.as_dict(compact=self.params["cluster"] is None)
            for warning in res.warnings:
                self.module.warn("%s: %s" % (res.key, warning))
        changed = any(r.changed for r in results)
        failed = [k for k, r in zip(by_key, results) if r.failed]
        out = dict(changed=changed, clusters=by_key, failed_clusters=failed)
        if self.module._diff:
            out["diff"] = [dict(before_header=key, after_header=key, before=r.diff["before"], after=r.diff["after"])
                           for key, r in zip(by_key, results) if r.diff is not None and r.changed]
        if self.params["cluster"] is not None:
            res = results[0]
            out["cluster"] = res.summary
            if res.diff is not None:
                out["diff"] = res.diff
            for key in ("problems", "stale_fields", "blockers", "kubeconfig_path"):
                value = getattr(res, key)
                if value:
                    out[key] = value
            out["action"] = res.action
            if res.failed:
                self.module.fail_json(msg=res.msg, errors=res.errors, **out)
        self.module.exit_json(**out)


def main():
    WorkloadClusterModule()()


if __name__ == "__main__":
    main()
