# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The workload cluster spec, declared once (pure).

``SPEC`` is a tree of :class:`Option`: name, type, default, choices, description, the value
``kind`` (see :mod:`values`; the checks and tests iterate over kinds), a ``parse`` hook for
options that need more than their kind, a ``post`` hook for checks across the keys of one
mapping, ``dest`` (the key in the normalised spec) and ``target`` (the field of the Cluster
object it fills, used to map server errors back to the inventory variable).

From it come: the walk that validates and defaults a spec (:func:`walk`, used by
:func:`validation.normalize_spec`), the module documentation of the ``clusters`` option
(:func:`doc_suboptions`, rendered into ``plugins/doc_fragments/workload_cluster_spec.py``) and
the list of options per kind (:func:`iter_options`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.scs.kaas.plugins.module_utils.capi import checks, values

DEFAULT_WORKER_CLASS = "default-worker"
DEFAULT_POD_CIDRS = ["192.168.0.0/16"]
DEFAULT_SERVICE_CIDRS = ["10.96.0.0/12"]
DEFAULT_SERVICE_DOMAIN = "cluster.local"
INFRASTRUCTURES = ("inmemory", "docker", "openstack")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

_UNSET = object()


class Option(object):
    """One key of the spec; see the module docstring."""

    def __init__(self, name, type_, description, default=None, choices=None, elements=None,
                 options=None, kind=None, parse=None, post=None, dest=None, target=None,
                 empty=_UNSET, doc_default=None, omit_none=False):
        self.name = name
        self.type = type_
        self.description = description
        self.default = default
        self.choices = choices
        self.elements = elements
        self.options = options
        self.kind = kind
        self.parse = parse
        self.post = post
        self.dest = dest or name
        self.target = target
        self.empty = empty
        self.doc_default = doc_default
        self.omit_none = omit_none

    def sub(self, name):
        for option in self.options or ():
            if option.name == name:
                return option
        return None

    def keys(self):
        return tuple(o.name for o in self.options or ())


def _deletion(node_group):
    opts = [
        Option("node_drain_timeout", "raw", "How long to drain a node before deleting it (duration).",
               kind="duration", target="nodeDrainTimeoutSeconds"),
        Option("node_volume_detach_timeout", "raw", "How long to wait for volumes to detach (duration).",
               kind="duration", target="nodeVolumeDetachTimeoutSeconds"),
        Option("node_deletion_timeout", "raw", "How long to retry deleting the Node (duration).",
               kind="duration", target="nodeDeletionTimeoutSeconds"),
    ]
    if node_group:
        opts.append(Option("order", "str", "Which Machines go first when scaling down.",
                           choices=["Random", "Newest", "Oldest"], target="order"))
    return Option("deletion", "dict", "Deletion settings of the Machines.", options=opts, empty={},
                  omit_none=True, target="deletion")


def _conditions(name, machine):
    what = "Machine" if machine else "Node"
    return Option(name, "list", "%s conditions that make a Machine unhealthy after their timeout." % what,
                  elements="dict", parse=checks.non_empty_list, post=checks.condition_list(machine), options=[
                      Option("type", "str", "Condition type, e.g. C(Ready).", parse=checks.condition_type),
                      Option("status", "str", "Condition status (quoted).", choices=["True", "False", "Unknown"]),
                      Option("timeout", "raw", "How long the condition must hold (duration).", default="5m",
                             kind="duration"),
                  ], empty=None, target="checks.unhealthy%sConditions" % what)


def _health_check(node_group):
    opts = [
        Option("enabled", "bool", "Whether the MachineHealthCheck is on.", default=True, kind="bool"),
        Option("node_startup_timeout", "raw", "How long a Machine may take to get a Node (duration).",
               kind="duration", target="checks.nodeStartupTimeoutSeconds"),
        _conditions("unhealthy_node_conditions", False),
        _conditions("unhealthy_machine_conditions", True),
    ]
    if node_group:
        opts.append(Option("max_in_flight", "raw", "Machines remediated at the same time (count or percentage).",
                           kind="count_or_percent", target="remediation.maxInFlight"))
    opts += [
        Option("max_unhealthy", "raw", "Remediate only while at most this many Machines are unhealthy "
                                       "(count or percentage).", kind="count_or_percent",
               target="remediation.triggerIf"),
        Option("unhealthy_range", "str", "Remediate only while the unhealthy count is in this range, e.g. "
                                         "V([1-3]); not with O(clusters[].control_plane.machine_health_check"
                                         ".max_unhealthy).", kind="unhealthy_range",
               target="remediation.triggerIf"),
    ]
    return Option("machine_health_check", "raw", "MachineHealthCheck; V(true)/V(false) or the settings.",
                  options=opts, dest="health_check", parse=checks.health_check_shorthand,
                  post=checks.health_check, empty=None, omit_none=True, target="healthCheck")


def _meta_maps():
    return [
        Option("labels", "dict", "Labels (string values).", parse=checks.label_map, target="metadata.labels"),
        Option("annotations", "dict", "Annotations (string values).", parse=checks.annotation_map,
               target="metadata.annotations"),
    ]


CONTROL_PLANE = Option("control_plane", "dict", "The control plane.", options=[
    Option("replicas", "int", "Control plane Machines; odd so etcd keeps quorum.", default=1,
           parse=checks.control_plane_replicas, target="replicas"),
] + _meta_maps() + [
    _deletion(False),
    _health_check(False),
    Option("variables", "dict", "Class variable overrides for the control plane, verbatim.",
           parse=checks.variables({}), target="variables.overrides"),
], target="spec.topology.controlPlane")

NODE_GROUP = Option("node_groups", "list", "Node groups (MachineDeployments).", elements="dict", options=[
    Option("name", "str", "Node group name (RFC 1123 label), unique in the cluster.",
           parse=checks.label_name("node group name"), target="name"),
    Option("class", "str", "Worker class of the ClusterClass.", default=DEFAULT_WORKER_CLASS, kind="text",
           target="class"),
    Option("replicas", "int", "Machines; default 1 unless O(clusters[].node_groups[].autoscaler) is set.",
           kind="count", target="replicas"),
    Option("autoscaler", "dict", "Autoscaler bounds instead of replicas.", options=[
        Option("min", "int", "Lower bound.", kind="count", target="min"),
        Option("max", "int", "Upper bound.", kind="count", target="max"),
    ], post=checks.autoscaler, empty=None, target="metadata.annotations"),
] + _meta_maps() + [
    Option("taints", "list", "Node taints.", elements="dict", options=[
        Option("key", "str", "Taint key ([prefix/]name).", parse=checks.taint_key),
        Option("value", "str", "Taint value.", parse=checks.taint_value),
        Option("effect", "str", "Taint effect.", choices=list(TAINT_EFFECTS)),
    ], post=checks.taint_list, empty=[], target="variables.overrides[nodeTaints]"),
    Option("failure_domain", "str", "Failure domain (e.g. availability zone).", kind="text",
           target="failureDomain"),
    Option("variables", "dict", "Class variable overrides for this group, verbatim.",
           parse=checks.variables({"nodeLabels": "labels", "nodeTaints": "taints"}), target="variables.overrides"),
    Option("min_ready_seconds", "int", "Seconds a new Node must be ready to count as available.", kind="count",
           target="minReadySeconds"),
    Option("rollout", "dict", "Rollout strategy.", options=[
        Option("strategy", "str", "Strategy.", choices=["RollingUpdate", "OnDelete"]),
        Option("max_surge", "raw", "Extra Machines during a rollout (count or percentage).",
               kind="count_or_percent", target="strategy.rollingUpdate.maxSurge"),
        Option("max_unavailable", "raw", "Unavailable Machines during a rollout (count or percentage).",
               kind="count_or_percent", target="strategy.rollingUpdate.maxUnavailable"),
    ], post=checks.rollout, empty={}, target="rollout"),
    _deletion(True),
    _health_check(True),
], post=checks.node_group, parse=checks.list_or_empty, empty=[], target="spec.topology.workers.machineDeployments")

OIDC = Option("oidc", "dict", "OpenID Connect authentication of the API (class variable C(oidc)).", options=[
    Option("issuer_url", "str", "Issuer URL (https), required.", kind="https_url", dest="issuerURL",
           target="issuerURL"),
    Option("client_id", "str", "Client ID of the tokens, required.", parse=checks.non_empty_string,
           dest="clientID", target="clientID"),
    Option("username_claim", "str", "JWT claim used as user name.", parse=checks.non_empty_string,
           dest="usernameClaim"),
    Option("username_prefix", "str", "Prefix for user names.", parse=checks.non_empty_string, dest="usernamePrefix"),
    Option("groups_claim", "str", "JWT claim used as groups.", parse=checks.non_empty_string, dest="groupsClaim"),
    Option("groups_prefix", "str", "Prefix for group names.", parse=checks.non_empty_string, dest="groupsPrefix"),
], post=checks.oidc, empty=None, omit_none=True, target="spec.topology.variables[oidc].value")

SPEC = Option("clusters", "list", "Workload cluster specs.", elements="dict", options=[
    Option("name", "str", "Cluster name (RFC 1123 label); the role defaults it to the inventory hostname.",
           parse=checks.label_name("cluster name"), target="metadata.name"),
    Option("namespace", "str", "Namespace of the Cluster; not one reserved by Kubernetes or the providers.",
           default="default", parse=checks.namespace, target="metadata.namespace"),
    Option("kubernetes_version", "str", "V(v1.34.4), V(1.34.4) or a minor (V(1.34)) that resolves to the "
                                        "pinned patch.", target="spec.topology.version"),
    Option("infrastructure", "str", "Infrastructure; picks the shipped class of the version's minor.",
           choices=list(INFRASTRUCTURES)),
    Option("class_revision", "int", "Revision of the shipped class (default the newest)."),
    Option("class", "str", "Explicit ClusterClass name instead of O(clusters[].infrastructure).",
           target="spec.topology.classRef.name"),
    Option("class_namespace", "str", "Namespace of the ClusterClass (default the Cluster's).",
           parse=checks.class_namespace, target="spec.topology.classRef.namespace"),
    CONTROL_PLANE,
    NODE_GROUP,
    Option("network", "dict", "Cluster network.", options=[
        Option("pods", "list", "Pod CIDRs: one, or one IPv4 and one IPv6 (dual stack).", elements="str",
               default=DEFAULT_POD_CIDRS, parse=checks.cidr_list, target="spec.clusterNetwork.pods.cidrBlocks"),
        Option("services", "list", "Service CIDRs: one, or one IPv4 and one IPv6.", elements="str",
               default=DEFAULT_SERVICE_CIDRS, parse=checks.cidr_list,
               target="spec.clusterNetwork.services.cidrBlocks"),
        Option("nodes", "str", "Node subnet CIDR (class variable C(nodeCIDR)).", kind="cidr",
               parse=checks.node_cidr, target="spec.topology.variables[nodeCIDR].value"),
        Option("service_domain", "str", "Service DNS domain.", default=DEFAULT_SERVICE_DOMAIN, kind="dns_subdomain",
               target="spec.clusterNetwork.serviceDomain"),
        Option("api_server_port", "int", "Port of the API server.", kind="port",
               target="spec.clusterNetwork.apiServerPort"),
    ], post=checks.network),
    Option("api", "dict", "The Kubernetes API.", options=[
        Option("cert_sans", "list", "Extra certificate SANs (DNS names or IPs; class variable C(certSANs)).",
               elements="str", parse=checks.host_list, empty=[], target="spec.topology.variables[certSANs].value"),
        OIDC,
    ]),
    Option("variables", "dict", "Further class variables, verbatim (see the class documentation).",
           parse=checks.variables({"certSANs": "api.cert_sans", "oidc": "api.oidc", "nodeCIDR": "network.nodes"}),
           target="spec.topology.variables"),
] + _meta_maps() + [
    Option("paused", "bool", "Pause reconciliation (C(spec.paused)).", default=False, kind="bool",
           target="spec.paused"),
    Option("protected", "bool", "Refuse deletion without O(force_delete_protected).", default=False, kind="bool"),
    Option("addons", "dict", "Add-ons installed into the cluster by the Cluster API add-on provider Helm (CAAPH), "
                             "one HelmChartProxy per enabled add-on: add-on name -> C({enabled: bool, values: {...}}), "
                             "combined recursively onto the collection's defaults (docs/addons.md lists the add-ons, "
                             "their defaults and values). V({}) installs the default set. Left out (or null): the "
                             "collection manages no add-on of this cluster and deletes the proxies it made for it "
                             "before.", parse=checks.addons),
])


# ---------------------------------------------------------------------------------------------
# The walk: defaults, types, unknown keys, choices, kinds, hooks


def walk(errors, option, var, value, context=None):
    """Validate ``value`` against ``option``; return the normalised value (errors collected)."""
    if value is None and option.default is not None:
        value = copy.deepcopy(option.default)
    if option.parse is not None and (option.options is None or option.type == "raw"):
        value = option.parse(errors, var, value, context)
        if option.options is None:
            return value
    if value is None:
        if option.empty is not _UNSET:
            return copy.deepcopy(option.empty)
        if option.type != "dict" or not option.options:
            return None
        value = {}  # a mapping left out still gets its defaults
    if option.choices is not None:
        if value not in option.choices:
            errors.add(var, value, "is not one of the choices", "use one of %s" % ", ".join(option.choices))
            return None
        return value
    if option.kind is not None:
        try:
            return values.parse(option.kind, value)
        except values.Invalid as exc:
            errors.add(var, value, exc.problem, exc.valid)
            return None
    if option.options is None:
        return value
    if option.type == "list":
        if option.parse is not None:
            value = option.parse(errors, var, value, context)
        out = []
        for index, item in enumerate(value or []):
            norm = walk_mapping(errors, option, "%s[%d]" % (var, index), item, context)
            if norm is not None:
                out.append(norm)
        return out
    return walk_mapping(errors, option, var, value, context)


def walk_mapping(errors, option, var, value, context):
    value = checks.mapping(errors, var, value, option.keys())
    if value is None:
        return None
    out = {}
    for sub in option.options:
        norm = walk(errors, sub, "%s.%s" % (var, sub.name), value.get(sub.name), context)
        if norm is None and option.omit_none:
            continue
        out[sub.dest] = norm
    if option.post is not None:
        out = option.post(errors, var, value, out, context)
    return out


# ---------------------------------------------------------------------------------------------
# Views of the declaration


def iter_options(option=SPEC, path=""):
    """Yield (path, Option) for every option below ``option``; list items appear as ``name[]``."""
    for sub in option.options or ():
        sub_path = "%s.%s" % (path, sub.name) if path else sub.name
        yield sub_path, sub
        if sub.options:
            inner = sub_path + "[]" if sub.type == "list" else sub_path
            yield from iter_options(sub, inner)


def doc_suboptions(option=SPEC):
    """The ``suboptions`` documentation of ``option`` (module DOCUMENTATION format)."""
    out = {}
    for sub in option.options or ():
        entry = {"description": sub.description, "type": sub.type}
        if sub.elements:
            entry["elements"] = sub.elements
        default = sub.doc_default if sub.doc_default is not None else sub.default
        if default is not None:
            entry["default"] = default
        if sub.choices:
            entry["choices"] = list(sub.choices)
        if sub.options:
            entry["suboptions"] = doc_suboptions(sub)
        out[sub.name] = entry
    return out
