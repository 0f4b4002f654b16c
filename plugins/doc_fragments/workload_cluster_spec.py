# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
# Rendered from plugins/module_utils/capi/spec.py by
# tests/unit/plugins/doc_fragments/test_workload_cluster_spec.py; do not edit by hand.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The option ``clusters`` of scs.kaas.workload_cluster with the keys of a workload cluster spec.
    DOCUMENTATION = r"""
options:
  clusters:
    description:
    - Several workload cluster specs, reconciled concurrently.
    - An item is either a spec or a mapping C({host, spec, var_name}); C(host) is the key of the item's
      result in RV(clusters) (default C(<namespace>/<name>)), C(var_name) the variable named in its error
      messages (default O(var_name)).
    - The keys of a spec are listed below; they are declared once in C(module_utils/capi/spec.py), which
      also drives their validation and defaults.
    - Durations are seconds or strings such as V(90s), V(5m), V(1h30m).
    type: list
    elements: dict
    suboptions:
      name:
        description: Cluster name (RFC 1123 label); the role defaults it to the inventory hostname.
        type: str
      namespace:
        description: Namespace of the Cluster; not one reserved by Kubernetes or the providers.
        type: str
        default: default
      kubernetes_version:
        description: V(v1.34.4), V(1.34.4) or a minor (V(1.34)) that resolves to the pinned patch.
        type: str
      infrastructure:
        description: Infrastructure; picks the shipped class of the version's minor.
        type: str
        choices:
        - inmemory
        - docker
        - openstack
      class_revision:
        description: Revision of the shipped class (default the newest).
        type: int
      class:
        description: Explicit ClusterClass name instead of O(clusters[].infrastructure).
        type: str
      class_namespace:
        description: Namespace of the ClusterClass (default the Cluster's).
        type: str
      control_plane:
        description: The control plane.
        type: dict
        suboptions:
          replicas:
            description: Control plane Machines; odd so etcd keeps quorum.
            type: int
            default: 1
          labels:
            description: Labels (string values).
            type: dict
          annotations:
            description: Annotations (string values).
            type: dict
          deletion:
            description: Deletion settings of the Machines.
            type: dict
            suboptions:
              node_drain_timeout:
                description: How long to drain a node before deleting it (duration).
                type: raw
              node_volume_detach_timeout:
                description: How long to wait for volumes to detach (duration).
                type: raw
              node_deletion_timeout:
                description: How long to retry deleting the Node (duration).
                type: raw
          machine_health_check:
            description: MachineHealthCheck; V(true)/V(false) or the settings.
            type: raw
            suboptions:
              enabled:
                description: Whether the MachineHealthCheck is on.
                type: bool
                default: true
              node_startup_timeout:
                description: How long a Machine may take to get a Node (duration).
                type: raw
              unhealthy_node_conditions:
                description: Node conditions that make a Machine unhealthy after their timeout.
                type: list
                elements: dict
                suboptions:
                  type:
                    description: Condition type, e.g. C(Ready).
                    type: str
                  status:
                    description: Condition status (quoted).
                    type: str
                    choices:
                    - 'True'
                    - 'False'
                    - Unknown
                  timeout:
                    description: How long the condition must hold (duration).
                    type: raw
                    default: 5m
              unhealthy_machine_conditions:
                description: Machine conditions that make a Machine unhealthy after their timeout.
                type: list
                elements: dict
                suboptions:
                  type:
                    description: Condition type, e.g. C(Ready).
                    type: str
                  status:
                    description: Condition status (quoted).
                    type: str
                    choices:
                    - 'True'
                    - 'False'
                    - Unknown
                  timeout:
                    description: How long the condition must hold (duration).
                    type: raw
                    default: 5m
              max_unhealthy:
                description: Remediate only while at most this many Machines are unhealthy (count or percentage).
                type: raw
              unhealthy_range:
                description: Remediate only while the unhealthy count is in this range, e.g. V([1-3]);
                  not with O(clusters[].control_plane.machine_health_check.max_unhealthy).
                type: str
          variables:
            description: Class variable overrides for the control plane, verbatim.
            type: dict
      node_groups:
        description: Node groups (MachineDeployments).
        type: list
        elements: dict
        suboptions:
          name:
            description: Node group name (RFC 1123 label), unique in the cluster.
            type: str
          class:
            description: Worker class of the ClusterClass.
            type: str
            default: default-worker
          replicas:
            description: Machines; default 1 unless O(clusters[].node_groups[].autoscaler) is set.
            type: int
          autoscaler:
            description: Autoscaler bounds instead of replicas.
            type: dict
            suboptions:
              min:
                description: Lower bound.
                type: int
              max:
                description: Upper bound.
                type: int
          labels:
            description: Labels (string values).
            type: dict
          annotations:
            description: Annotations (string values).
            type: dict
          taints:
            description: Node taints.
            type: list
            elements: dict
            suboptions:
              key:
                description: Taint key ([prefix/]name).
                type: str
              value:
                description: Taint value.
                type: str
              effect:
                description: Taint effect.
                type: str
                choices:
                - NoSchedule
                - PreferNoSchedule
                - NoExecute
          failure_domain:
            description: Failure domain (e.g. availability zone).
            type: str
          variables:
            description: Class variable overrides for this group, verbatim.
            type: dict
          min_ready_seconds:
            description: Seconds a new Node must be ready to count as available.
            type: int
          rollout:
            description: Rollout strategy.
            type: dict
            suboptions:
              strategy:
                description: Strategy.
                type: str
                choices:
                - RollingUpdate
                - OnDelete
              max_surge:
                description: Extra Machines during a rollout (count or percentage).
                type: raw
              max_unavailable:
                description: Unavailable Machines during a rollout (count or percentage).
                type: raw
          deletion:
            description: Deletion settings of the Machines.
            type: dict
            suboptions:
              node_drain_timeout:
                description: How long to drain a node before deleting it (duration).
                type: raw
              node_volume_detach_timeout:
                description: How long to wait for volumes to detach (duration).
                type: raw
              node_deletion_timeout:
                description: How long to retry deleting the Node (duration).
                type: raw
              order:
                description: Which Machines go first when scaling down.
                type: str
                choices:
                - Random
                - Newest
                - Oldest
          machine_health_check:
            description: MachineHealthCheck; V(true)/V(false) or the settings.
            type: raw
            suboptions:
              enabled:
                description: Whether the MachineHealthCheck is on.
                type: bool
                default: true
              node_startup_timeout:
                description: How long a Machine may take to get a Node (duration).
                type: raw
              unhealthy_node_conditions:
                description: Node conditions that make a Machine unhealthy after their timeout.
                type: list
                elements: dict
                suboptions:
                  type:
                    description: Condition type, e.g. C(Ready).
                    type: str
                  status:
                    description: Condition status (quoted).
                    type: str
                    choices:
                    - 'True'
                    - 'False'
                    - Unknown
                  timeout:
                    description: How long the condition must hold (duration).
                    type: raw
                    default: 5m
              unhealthy_machine_conditions:
                description: Machine conditions that make a Machine unhealthy after their timeout.
                type: list
                elements: dict
                suboptions:
                  type:
                    description: Condition type, e.g. C(Ready).
                    type: str
                  status:
                    description: Condition status (quoted).
                    type: str
                    choices:
                    - 'True'
                    - 'False'
                    - Unknown
                  timeout:
                    description: How long the condition must hold (duration).
                    type: raw
                    default: 5m
              max_in_flight:
                description: Machines remediated at the same time (count or percentage).
                type: raw
              max_unhealthy:
                description: Remediate only while at most this many Machines are unhealthy (count or percentage).
                type: raw
              unhealthy_range:
                description: Remediate only while the unhealthy count is in this range, e.g. V([1-3]);
                  not with O(clusters[].control_plane.machine_health_check.max_unhealthy).
                type: str
      network:
        description: Cluster network.
        type: dict
        suboptions:
          pods:
            description: 'Pod CIDRs: one, or one IPv4 and one IPv6 (dual stack).'
            type: list
            elements: str
            default:
            - 192.168.0.0/16
          services:
            description: 'Service CIDRs: one, or one IPv4 and one IPv6.'
            type: list
            elements: str
            default:
            - 10.96.0.0/12
          nodes:
            description: Node subnet CIDR (class variable C(nodeCIDR)).
            type: str
          service_domain:
            description: Service DNS domain.
            type: str
            default: cluster.local
          api_server_port:
            description: Port of the API server.
            type: int
      api:
        description: The Kubernetes API.
        type: dict
        suboptions:
          cert_sans:
            description: Extra certificate SANs (DNS names or IPs; class variable C(certSANs)).
            type: list
            elements: str
          oidc:
            description: OpenID Connect authentication of the API (class variable C(oidc)).
            type: dict
            suboptions:
              issuer_url:
                description: Issuer URL (https), required.
                type: str
              client_id:
                description: Client ID of the tokens, required.
                type: str
              username_claim:
                description: JWT claim used as user name.
                type: str
              username_prefix:
                description: Prefix for user names.
                type: str
              groups_claim:
                description: JWT claim used as groups.
                type: str
              groups_prefix:
                description: Prefix for group names.
                type: str
      variables:
        description: Further class variables, verbatim (see the class documentation).
        type: dict
      labels:
        description: Labels (string values).
        type: dict
      annotations:
        description: Annotations (string values).
        type: dict
      paused:
        description: Pause reconciliation (C(spec.paused)).
        type: bool
        default: false
      protected:
        description: Refuse deletion without O(force_delete_protected).
        type: bool
        default: false
      addons:
        description: 'Add-ons installed into the cluster by the Cluster API add-on provider Helm (CAAPH),
          one HelmChartProxy per enabled add-on: add-on name -> C({enabled: bool, values: {...}}), combined
          recursively onto the collection''s defaults (docs/addons.md lists the add-ons, their defaults
          and values). V({}) installs the default set. Left out (or null): the collection manages no add-on
          of this cluster and deletes the proxies it made for it before.'
        type: dict
"""
