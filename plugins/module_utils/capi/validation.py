# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Validation of workload cluster specs (pure: no cluster, no network).

``normalize_spec(raw, var_name)`` checks one inventory spec and returns ``(spec, errors)``:
``spec`` is the normalised form that :mod:`topology` builds objects from, ``errors`` a list of
messages, each naming the inventory variable (``workload_cluster.node_groups[1].name``), the bad
value and what would be valid. Nothing is ever written while ``errors`` is not empty.

The checks that need the management cluster are pure too: the caller reads the ClusterClass and
the live Cluster first (read-only) and passes them to ``check_against_class`` and
``check_against_live``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils import versions
from ansible_collections.scs.kaas.plugins.module_utils.capi import classes, upgrade

INFRASTRUCTURES = ("inmemory", "docker", "openstack")
DEFAULT_WORKER_CLASS = "default-worker"
DEFAULT_POD_CIDRS = ["192.168.0.0/16"]
DEFAULT_SERVICE_CIDRS = ["10.96.0.0/12"]
DEFAULT_SERVICE_DOMAIN = "cluster.local"

# Class variables the builder fills from dedicated spec keys; setting them through
# ``variables`` as well would be ambiguous.
MAPPED_VARIABLES = {
    "certSANs": "api.cert_sans",
    "oidc": "api.oidc",
    "nodeCIDR": "network.nodes",
}
MAPPED_GROUP_VARIABLES = {
    "nodeLabels": "labels",
    "nodeTaints": "taints",
}

_RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_RFC1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_PERCENT = re.compile(r"^(0|[1-9][0-9]?|100)%$")
_RANGE = re.compile(r"^\[[0-9]+-[0-9]+\]$")
_CONDITION_TYPE = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                             r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$")

TOP_KEYS = (
    "name", "namespace", "infrastructure", "class", "class_revision", "class_namespace",
    "kubernetes_version", "control_plane", "node_groups", "network", "api", "variables",
    "labels", "annotations", "paused", "protected",
)
CONTROL_PLANE_KEYS = ("replicas", "labels", "annotations", "deletion", "machine_health_check",
                      "variables")
NODE_GROUP_KEYS = ("name", "class", "replicas", "autoscaler", "labels", "annotations", "taints",
                   "failure_domain", "variables", "min_ready_seconds", "rollout", "deletion",
                   "machine_health_check")
NETWORK_KEYS = ("pods", "services", "service_domain", "api_server_port", "nodes")
API_KEYS = ("cert_sans", "oidc")
OIDC_KEYS = {
    "issuer_url": "issuerURL", "client_id": "clientID", "username_claim": "usernameClaim",
    "username_prefix": "usernamePrefix", "groups_claim": "groupsClaim",
    "groups_prefix": "groupsPrefix",
}
DELETION_KEYS = ("node_drain_timeout", "node_volume_detach_timeout", "node_deletion_timeout", "order")
ROLLOUT_KEYS = ("strategy", "max_surge", "max_unavailable")
MHC_KEYS = ("enabled", "node_startup_timeout", "unhealthy_node_conditions",
            "unhealthy_machine_conditions", "max_in_flight", "max_unhealthy", "unhealthy_range")
CONDITION_KEYS = ("type", "status", "timeout")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _show(value):
    if isinstance(value, str):
        return "'%s'" % value
    return repr(value)


class _Errors(object):
    """Collects messages in the 'variable: value problem; what is valid' form."""

    def __init__(self):
        self.messages = []

    def add(self, var, value, problem, valid=None):
        msg = "%s: %s %s" % (var, _show(value), problem)
        if valid:
            msg += "; %s" % valid
        self.messages.append(msg)

    def raw(self, message):
        self.messages.append(message)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_keys(errors, var, value, allowed):
    for key in value:
        if key not in allowed:
            errors.raw("%s.%s: unknown key; valid keys: %s" % (var, key, ", ".join(allowed)))


def _mapping(errors, var, value, allowed=None):
    """Return value as a dict (None -> {}), or None after recording an error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add(var, value, "is not a mapping", "expected a dictionary")
        return None
    if allowed is not None:
        _check_keys(errors, var, value, allowed)
    return value


def check_rfc1123_label(errors, var, value, what="name"):
    if not isinstance(value, str) or len(value) > 63 or not _RFC1123_LABEL.match(value):
        errors.add(var, value, "is not a valid %s" % what,
                   "use an RFC 1123 label: at most 63 lower-case letters, digits and '-', "
                   "starting and ending with a letter or digit")
        return False
    return True


def _label_map(errors, var, value, kind="label"):
    value = _mapping(errors, var, value)
    if value is None:
        return {}
    out = {}
    for key, val in value.items():
        name = key.split("/", 1)[-1] if isinstance(key, str) else key
        prefix = key.split("/", 1)[0] if isinstance(key, str) and "/" in key else None
        if (not isinstance(key, str) or not _LABEL_NAME.match(name) or len(name) > 63
                or (prefix is not None and (len(prefix) > 253 or not _RFC1123_SUBDOMAIN.match(prefix)))):
            errors.add("%s.%s" % (var, key), key, "is not a valid %s key" % kind,
                       "use [prefix/]name with a DNS-subdomain prefix and a name of at most 63 "
                       "characters [A-Za-z0-9-_.]")
            continue
        if not isinstance(val, str):
            errors.add("%s.%s" % (var, key), val, "is not a string",
                       "quote %s values in the inventory (e.g. \"true\", \"1\")" % kind)
            continue
        if kind == "label" and (len(val) > 63 or not _LABEL_VALUE.match(val)):
            errors.add("%s.%s" % (var, key), val, "is not a valid label value",
                       "at most 63 characters [A-Za-z0-9-_.], starting and ending alphanumeric")
            continue
        out[key] = val
    return out


def parse_duration(errors, var, value):
    """Seconds from an int or a string like '90s', '5m', '1h30m'; None when unset."""
    if value is None:
        return None
    if _is_int(value):
        if value < 0:
            errors.add(var, value, "is negative", "use seconds >= 0 or a duration like '5m'")
            return None
        return value
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if match and value.strip():
            hours, minutes, seconds = (int(g or 0) for g in match.groups())
            return hours * 3600 + minutes * 60 + seconds
    errors.add(var, value, "is not a duration", "use seconds (int) or a string such as '90s', '5m', '1h30m'")
    return None


def _int_or_percent(errors, var, value):
    if value is None:
        return None
    if _is_int(value) and value >= 0:
        return value
    if isinstance(value, str) and _PERCENT.match(value):
        return value
    errors.add(var, value, "is not a count or percentage", "use an integer >= 0 or a string like '25%'")
    return None


def _non_negative_int(errors, var, value):
    if value is None:
        return None
    if not _is_int(value) or value < 0:
        errors.add(var, value, "is not a non-negative integer", "use an integer >= 0")
        return None
    return value


def _bool(errors, var, value, default=False):
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.add(var, value, "is not a boolean", "use true or false")
        return default
    return value


def _conditions(errors, var, value, machine=False):
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        errors.add(var, value, "is not a non-empty list", "list items {type, status, timeout}")
        return None
    out = []
    for i, item in enumerate(value):
        ivar = "%s[%d]" % (var, i)
        item = _mapping(errors, ivar, item, CONDITION_KEYS)
        if item is None:
            continue
        ctype, status = item.get("type"), item.get("status")
        if not isinstance(ctype, str) or not _CONDITION_TYPE.match(ctype):
            errors.add(ivar + ".type", ctype, "is not a condition type", "e.g. Ready")
            continue
        if machine and ctype in ("Ready", "Available", "HealthCheckSucceeded", "OwnerRemediated",
                                 "ExternallyRemediated"):
            errors.add(ivar + ".type", ctype, "cannot be used for machine conditions",
                       "Ready, Available, HealthCheckSucceeded, OwnerRemediated and "
                       "ExternallyRemediated are reserved")
            continue
        if status not in ("True", "False", "Unknown"):
            errors.add(ivar + ".status", status, "is not a condition status", "use 'True', 'False' or 'Unknown' (quoted)")
            continue
        timeout = parse_duration(errors, ivar + ".timeout", item.get("timeout", "5m"))
        if timeout is None:
            continue
        out.append({"type": ctype, "status": status, "timeout": timeout})
    return out


def _health_check(errors, var, value, node_group):
    if value is None:
        return None
    if isinstance(value, bool):
        value = {"enabled": value}
    allowed = MHC_KEYS if node_group else tuple(k for k in MHC_KEYS if k != "max_in_flight")
    value = _mapping(errors, var, value, allowed)
    if value is None:
        return None
    out = {"enabled": _bool(errors, var + ".enabled", value.get("enabled"), True)}
    startup = parse_duration(errors, var + ".node_startup_timeout", value.get("node_startup_timeout"))
    if startup is not None:
        out["node_startup_timeout"] = startup
    nodes = _conditions(errors, var + ".unhealthy_node_conditions", value.get("unhealthy_node_conditions"))
    if nodes:
        out["unhealthy_node_conditions"] = nodes
    machines = _conditions(errors, var + ".unhealthy_machine_conditions",
                           value.get("unhealthy_machine_conditions"), machine=True)
    if machines:
        out["unhealthy_machine_conditions"] = machines
    if node_group and value.get("max_in_flight") is not None:
        out["max_in_flight"] = _int_or_percent(errors, var + ".max_in_flight", value.get("max_in_flight"))
    if value.get("max_unhealthy") is not None and value.get("unhealthy_range") is not None:
        errors.add(var + ".unhealthy_range", value.get("unhealthy_range"),
                   "is set together with max_unhealthy", "set only one of the two")
    elif value.get("max_unhealthy") is not None:
        out["max_unhealthy"] = _int_or_percent(errors, var + ".max_unhealthy", value.get("max_unhealthy"))
    elif value.get("unhealthy_range") is not None:
        rng = value.get("unhealthy_range")
        if not isinstance(rng, str) or not _RANGE.match(rng):
            errors.add(var + ".unhealthy_range", rng, "is not a range", "use a string like '[1-3]'")
        else:
            out["unhealthy_range"] = rng
    return out


def _deletion(errors, var, value, node_group):
    allowed = DELETION_KEYS if node_group else DELETION_KEYS[:3]
    value = _mapping(errors, var, value, allowed)
    if value is None:
        return {}
    out = {}
    for key in DELETION_KEYS[:3]:
        seconds = parse_duration(errors, "%s.%s" % (var, key), value.get(key))
        if seconds is not None:
            out[key] = seconds
    if node_group and value.get("order") is not None:
        if value["order"] not in ("Random", "Newest", "Oldest"):
            errors.add(var + ".order", value["order"], "is not a deletion order", "use Random, Newest or Oldest")
        else:
            out["order"] = value["order"]
    return out


def _rollout(errors, var, value):
    value = _mapping(errors, var, value, ROLLOUT_KEYS)
    if value is None:
        return {}
    out = {}
    strategy = value.get("strategy")
    if strategy is not None and strategy not in ("RollingUpdate", "OnDelete"):
        errors.add(var + ".strategy", strategy, "is not a rollout strategy", "use RollingUpdate or OnDelete")
        return out
    surge = _int_or_percent(errors, var + ".max_surge", value.get("max_surge"))
    unavailable = _int_or_percent(errors, var + ".max_unavailable", value.get("max_unavailable"))
    if strategy == "OnDelete" and (surge is not None or unavailable is not None):
        errors.add(var + ".strategy", strategy, "does not take max_surge/max_unavailable",
                   "use strategy RollingUpdate or drop them")
        return out
    if surge in (0, "0%") and unavailable in (0, "0%"):
        errors.add(var + ".max_surge", surge, "is 0 while max_unavailable is 0 too",
                   "at least one of them must be above 0")
        return out
    if strategy or surge is not None or unavailable is not None:
        out["strategy"] = strategy or "RollingUpdate"
    if surge is not None:
        out["max_surge"] = surge
    if unavailable is not None:
        out["max_unavailable"] = unavailable
    return out


def _variables(errors, var, value, reserved):
    value = _mapping(errors, var, value)
    if value is None:
        return {}
    out = {}
    for name, val in value.items():
        if not isinstance(name, str) or not name or len(name) > 256:
            errors.add(var, name, "is not a variable name", "use a non-empty string of at most 256 characters")
            continue
        if name in reserved:
            errors.add("%s.%s" % (var, name), val, "sets a class variable that is filled from %s" % reserved[name],
                       "set %s instead" % reserved[name])
            continue
        if val is None:
            errors.add("%s.%s" % (var, name), val, "has no value", "give a value or remove the variable")
            continue
        out[name] = val
    return out


def _cidrs(errors, var, value, default):
    if value is None:
        value = default
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or len(value) > 2:
        errors.add(var, value, "is not a list of one or two CIDRs", "e.g. ['192.168.0.0/16'] (dual stack: one IPv4 and one IPv6)")
        return []
    out = []
    for i, cidr in enumerate(value):
        try:
            out.append(ipaddress.ip_network(cidr, strict=True))
        except (TypeError, ValueError) as exc:
            errors.add("%s[%d]" % (var, i), cidr, "is not a network CIDR (%s)" % exc, "e.g. 10.96.0.0/12 with no host bits set")
    if len(out) == 2 and out[0].version == out[1].version:
        errors.add(var, value, "holds two networks of the same IP family", "dual stack needs one IPv4 and one IPv6 CIDR")
    return out


def _taints(errors, var, value):
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(var, value, "is not a list", "list items {key, value, effect}")
        return []
    out, seen = [], set()
    for i, item in enumerate(value):
        ivar = "%s[%d]" % (var, i)
        item = _mapping(errors, ivar, item, ("key", "value", "effect"))
        if item is None:
            continue
        key, val, effect = item.get("key"), item.get("value"), item.get("effect")
        name = key.split("/", 1)[-1] if isinstance(key, str) else None
        if not isinstance(key, str) or not name or not _LABEL_NAME.match(name) or len(name) > 63:
            errors.add(ivar + ".key", key, "is not a valid taint key", "use [prefix/]name like a label key")
            continue
        if val is not None and (not isinstance(val, str) or len(val) > 63 or not _LABEL_VALUE.match(val)):
            errors.add(ivar + ".value", val, "is not a valid taint value", "a string of at most 63 characters [A-Za-z0-9-_.]")
            continue
        if effect not in TAINT_EFFECTS:
            errors.add(ivar + ".effect", effect, "is not a taint effect", "use one of %s" % ", ".join(TAINT_EFFECTS))
            continue
        if (key, effect) in seen:
            errors.add(ivar, item, "repeats key and effect of an earlier taint", "each key/effect pair once")
            continue
        seen.add((key, effect))
        taint = {"key": key, "effect": effect}
        if val:
            taint["value"] = val
        out.append(taint)
    return out


def _node_group(errors, var, raw):
    group = _mapping(errors, var, raw, NODE_GROUP_KEYS)
    if group is None:
        return None
    out = {"name": group.get("name")}
    check_rfc1123_label(errors, var + ".name", group.get("name"), "node group name")
    cls = group.get("class", DEFAULT_WORKER_CLASS)
    if not isinstance(cls, str) or not cls or len(cls) > 256:
        errors.add(var + ".class", cls, "is not a worker class name", "e.g. %s" % DEFAULT_WORKER_CLASS)
    out["class"] = cls
    replicas, autoscaler = group.get("replicas"), group.get("autoscaler")
    if autoscaler is not None:
        if replicas is not None:
            errors.add(var + ".replicas", replicas, "is set together with autoscaler",
                       "with autoscaler bounds the autoscaler owns replicas; remove replicas")
        auto = _mapping(errors, var + ".autoscaler", autoscaler, ("min", "max"))
        if auto is not None:
            low = _non_negative_int(errors, var + ".autoscaler.min", auto.get("min"))
            high = _non_negative_int(errors, var + ".autoscaler.max", auto.get("max"))
            if low is None or high is None:
                if "min" not in auto or "max" not in auto:
                    errors.add(var + ".autoscaler", auto, "needs both min and max", "e.g. {min: 1, max: 5}")
            elif low > high:
                errors.add(var + ".autoscaler.min", low, "is greater than autoscaler.max (%d)" % high,
                           "min must be <= max")
            elif high == 0:
                errors.add(var + ".autoscaler.max", high, "is 0", "max must be at least 1")
            else:
                out["autoscaler"] = {"min": low, "max": high}
        out["replicas"] = None
    else:
        if replicas is None:
            replicas = 1
        out["replicas"] = _non_negative_int(errors, var + ".replicas", replicas)
    out["labels"] = _label_map(errors, var + ".labels", group.get("labels"))
    out["annotations"] = _label_map(errors, var + ".annotations", group.get("annotations"), "annotation")
    out["taints"] = _taints(errors, var + ".taints", group.get("taints"))
    fd = group.get("failure_domain")
    if fd is not None and (not isinstance(fd, str) or not fd or len(fd) > 256):
        errors.add(var + ".failure_domain", fd, "is not a failure domain", "a non-empty string of at most 256 characters")
    out["failure_domain"] = fd
    out["variables"] = _variables(errors, var + ".variables", group.get("variables"), {
        k: "%s.%s" % (var, v) for k, v in MAPPED_GROUP_VARIABLES.items()})
    out["min_ready_seconds"] = _non_negative_int(errors, var + ".min_ready_seconds", group.get("min_ready_seconds"))
    out["rollout"] = _rollout(errors, var + ".rollout", group.get("rollout"))
    out["deletion"] = _deletion(errors, var + ".deletion", group.get("deletion"), True)
    out["health_check"] = _health_check(errors, var + ".machine_health_check",
                                        group.get("machine_health_check"), True)
    return out


def _resolve_class(errors, var, raw, version):
    """Class name from ``class`` or from infrastructure + version minor (+ revision)."""
    cls = raw.get("class")
    infra = raw.get("infrastructure")
    revision = raw.get("class_revision")
    if infra is not None and infra not in INFRASTRUCTURES:
        errors.add(var + ".infrastructure", infra, "is not a known infrastructure", "use one of %s" % ", ".join(INFRASTRUCTURES))
        return None
    if revision is not None and (not _is_int(revision) or revision < 1):
        errors.add(var + ".class_revision", revision, "is not a class revision", "use an integer >= 1")
        return None
    if cls is not None:
        if not isinstance(cls, str) or len(cls) > 253 or not _RFC1123_SUBDOMAIN.match(cls):
            errors.add(var + ".class", cls, "is not a ClusterClass name", "e.g. %s" % classes.class_name("inmemory", "1.34", 1))
            return None
        parsed = classes.parse_class_name(cls)
        if parsed and version is not None:
            c_infra, c_minor, _rev = parsed
            if c_minor != version.minor_version:
                errors.add(var + ".class", cls, "is the class for Kubernetes %s but kubernetes_version is %s" % (c_minor, version),
                           "use %s" % classes.class_name(c_infra, version.minor_version, _rev))
                return None
            if infra is not None and c_infra != infra:
                errors.add(var + ".class", cls, "is a class for infrastructure %s but infrastructure is %s" % (c_infra, infra),
                           "use a %s class or drop infrastructure" % infra)
                return None
        return cls
    if infra is None:
        errors.raw("%s: neither class nor infrastructure is set; set infrastructure (one of %s) "
                   "or an explicit class name" % (var, ", ".join(INFRASTRUCTURES)))
        return None
    if version is None:
        return None
    if revision is None:
        revs = [c["revision"] for c in classes.available_classes()
                if c["infrastructure"] == infra and c["minor"] == version.minor_version]
        if not revs:
            errors.add(var + ".kubernetes_version", str(version),
                       "has no shipped %s cluster class" % infra,
                       "shipped minors: %s" % ", ".join(sorted(
                           {c["minor"] for c in classes.available_classes() if c["infrastructure"] == infra})))
            return None
        revision = max(revs)
    return classes.class_name(infra, version.minor_version, revision)


def normalize_spec(raw, var_name="workload_cluster", default_name=None):
    """Validate one workload cluster spec; return ``(spec, errors)``."""
    errors = _Errors()
    raw = _mapping(errors, var_name, raw, TOP_KEYS)
    if raw is None:
        return None, errors.messages
    spec = {}
    name = raw.get("name", default_name)
    if check_rfc1123_label(errors, var_name + ".name", name, "cluster name"):
        spec["name"] = name
    namespace = raw.get("namespace", "default")
    if check_rfc1123_label(errors, var_name + ".namespace", namespace, "namespace"):
        spec["namespace"] = namespace

    version = None
    raw_version = raw.get("kubernetes_version")
    try:
        version = versions.check_minor_range(
            versions.resolve(raw_version, pins.WORKLOAD_KUBERNETES_VERSIONS, var_name + ".kubernetes_version"),
            var_name + ".kubernetes_version", pins.CAPI_WORKLOAD_MINOR_RANGE)
        spec["kubernetes_version"] = str(version)
    except versions.VersionError as exc:
        errors.raw(str(exc))
    spec["class"] = _resolve_class(errors, var_name, raw, version)
    cns = raw.get("class_namespace")
    if cns is not None:
        check_rfc1123_label(errors, var_name + ".class_namespace", cns, "namespace")
    spec["class_namespace"] = cns

    cp = _mapping(errors, var_name + ".control_plane", raw.get("control_plane"), CONTROL_PLANE_KEYS) or {}
    replicas = cp.get("replicas", 1)
    if not _is_int(replicas) or replicas < 1 or replicas % 2 == 0:
        errors.add(var_name + ".control_plane.replicas", replicas,
                   "is not a valid control plane size",
                   "use an odd number >= 1 (1, 3, 5) so etcd keeps quorum")
        replicas = None
    spec["control_plane"] = {
        "replicas": replicas,
        "labels": _label_map(errors, var_name + ".control_plane.labels", cp.get("labels")),
        "annotations": _label_map(errors, var_name + ".control_plane.annotations", cp.get("annotations"), "annotation"),
        "deletion": _deletion(errors, var_name + ".control_plane.deletion", cp.get("deletion"), False),
        "health_check": _health_check(errors, var_name + ".control_plane.machine_health_check",
                                      cp.get("machine_health_check"), False),
        "variables": _variables(errors, var_name + ".control_plane.variables", cp.get("variables"), {}),
    }

    groups = raw.get("node_groups")
    spec["node_groups"] = []
    if groups is None:
        groups = []
    if not isinstance(groups, list):
        errors.add(var_name + ".node_groups", groups, "is not a list", "a list of node groups {name, replicas, ...}")
        groups = []
    seen = {}
    for i, group in enumerate(groups):
        gvar = "%s.node_groups[%d]" % (var_name, i)
        norm = _node_group(errors, gvar, group)
        if norm is None:
            continue
        gname = norm.get("name")
        if isinstance(gname, str) and gname in seen:
            errors.add(gvar + ".name", gname, "duplicates %s.node_groups[%d].name" % (var_name, seen[gname]),
                       "node group names must be unique within a cluster")
            continue
        if isinstance(gname, str):
            seen[gname] = i
        spec["node_groups"].append(norm)

    net = _mapping(errors, var_name + ".network", raw.get("network"), NETWORK_KEYS) or {}
    pods = _cidrs(errors, var_name + ".network.pods", net.get("pods"), DEFAULT_POD_CIDRS)
    services = _cidrs(errors, var_name + ".network.services", net.get("services"), DEFAULT_SERVICE_CIDRS)
    nodes = []
    if net.get("nodes") is not None:
        nodes = _cidrs(errors, var_name + ".network.nodes", net.get("nodes"), None)
    named = [("network.pods", n) for n in pods] + [("network.services", n) for n in services] + \
        [("network.nodes", n) for n in nodes]
    for i in range(len(named)):
        for j in range(i + 1, len(named)):
            (va, a), (vb, b) = named[i], named[j]
            if a.version == b.version and a.overlaps(b):
                errors.raw("%s.%s: '%s' overlaps %s.%s '%s'; pod, service and node networks must be "
                           "disjoint" % (var_name, vb, b, var_name, va, a))
    domain = net.get("service_domain", DEFAULT_SERVICE_DOMAIN)
    if not isinstance(domain, str) or len(domain) > 253 or not _RFC1123_SUBDOMAIN.match(domain):
        errors.add(var_name + ".network.service_domain", domain, "is not a DNS domain", "e.g. cluster.local")
    port = net.get("api_server_port")
    if port is not None and (not _is_int(port) or not 1 <= port <= 65535):
        errors.add(var_name + ".network.api_server_port", port, "is not a TCP port", "use 1..65535")
    spec["network"] = {
        "pods": [str(n) for n in pods], "services": [str(n) for n in services],
        "nodes": str(nodes[0]) if nodes else None, "service_domain": domain, "api_server_port": port,
    }

    api = _mapping(errors, var_name + ".api", raw.get("api"), API_KEYS) or {}
    sans = api.get("cert_sans") or []
    if not isinstance(sans, list):
        errors.add(var_name + ".api.cert_sans", sans, "is not a list", "a list of DNS names or IP addresses")
        sans = []
    for i, san in enumerate(sans):
        ok = isinstance(san, str)
        if ok:
            try:
                ipaddress.ip_address(san)
            except ValueError:
                ok = len(san) <= 253 and bool(_RFC1123_SUBDOMAIN.match(san.lower().replace("*.", "", 1)))
        if not ok:
            errors.add("%s.api.cert_sans[%d]" % (var_name, i), san, "is not a DNS name or IP address",
                       "e.g. api.example.com or 192.0.2.10")
    oidc = None
    if api.get("oidc") is not None:
        raw_oidc = _mapping(errors, var_name + ".api.oidc", api.get("oidc"), tuple(OIDC_KEYS)) or {}
        oidc = {}
        for key, target in OIDC_KEYS.items():
            val = raw_oidc.get(key)
            if val is None:
                continue
            if not isinstance(val, str) or not val:
                errors.add("%s.api.oidc.%s" % (var_name, key), val, "is not a string", "a non-empty string")
                continue
            oidc[target] = val
        issuer = raw_oidc.get("issuer_url")
        if not isinstance(issuer, str) or not issuer.startswith("https://"):
            errors.add(var_name + ".api.oidc.issuer_url", issuer, "is not an https URL",
                       "the OIDC issuer URL is required and must start with https://")
        if not raw_oidc.get("client_id"):
            errors.add(var_name + ".api.oidc.client_id", raw_oidc.get("client_id"), "is missing",
                       "the OIDC client ID is required")
    spec["api"] = {"cert_sans": list(sans), "oidc": oidc}

    spec["variables"] = _variables(errors, var_name + ".variables", raw.get("variables"),
                                   {k: "%s.%s" % (var_name, v) for k, v in MAPPED_VARIABLES.items()})
    spec["labels"] = _label_map(errors, var_name + ".labels", raw.get("labels"))
    spec["annotations"] = _label_map(errors, var_name + ".annotations", raw.get("annotations"), "annotation")
    spec["paused"] = _bool(errors, var_name + ".paused", raw.get("paused"))
    spec["protected"] = _bool(errors, var_name + ".protected", raw.get("protected"))
    spec["var_name"] = var_name
    if spec.get("class") and classes.parse_class_name(spec["class"]) and not errors.messages:
        variables = dict(spec["variables"])
        if spec["network"]["nodes"]:
            variables["nodeCIDR"] = spec["network"]["nodes"]
        for message in classes.validate_variables(spec["class"], variables, var_name + ".variables"):
            errors.raw(message)
    return spec, errors.messages


# ---------------------------------------------------------------------------------------------
# Checks against objects read from the management cluster (still pure functions)


def class_variable_names(cluster_class):
    """Names of the variables a ClusterClass defines (spec.variables and status.variables)."""
    names = set()
    for var in (cluster_class.get("spec") or {}).get("variables") or []:
        if var.get("name"):
            names.add(var["name"])
    for var in (cluster_class.get("status") or {}).get("variables") or []:
        if var.get("name"):
            names.add(var["name"])
    return names


def class_worker_classes(cluster_class):
    workers = ((cluster_class.get("spec") or {}).get("workers") or {}).get("machineDeployments") or []
    return [w.get("class") for w in workers if w.get("class")]


def check_against_class(spec, cluster_class, available_names=()):
    """Errors for a missing class, unknown variables and unknown worker classes."""
    var = spec.get("var_name", "workload_cluster")
    errors = _Errors()
    if cluster_class is None:
        errors.add(var + ".class", spec.get("class"),
                   "does not exist in namespace %s of the management cluster" % (spec.get("class_namespace") or spec.get("namespace")),
                   "install it first (role cluster_classes); available: %s" % (", ".join(sorted(available_names)) or "none"))
        return errors.messages
    known = class_variable_names(cluster_class)
    used = [("%s.variables.%s" % (var, n), n) for n in spec.get("variables", {})]
    if spec["api"].get("cert_sans"):
        used.append((var + ".api.cert_sans", "certSANs"))
    if spec["api"].get("oidc"):
        used.append((var + ".api.oidc", "oidc"))
    if spec["network"].get("nodes"):
        used.append((var + ".network.nodes", "nodeCIDR"))
    used += [("%s.control_plane.variables.%s" % (var, n), n) for n in spec["control_plane"].get("variables", {})]
    worker_classes = class_worker_classes(cluster_class)
    for i, group in enumerate(spec.get("node_groups", [])):
        gvar = "%s.node_groups[%d]" % (var, i)
        used += [("%s.variables.%s" % (gvar, n), n) for n in group.get("variables", {})]
        if group.get("labels"):
            used.append((gvar + ".labels", "nodeLabels"))
        if group.get("taints"):
            used.append((gvar + ".taints", "nodeTaints"))
        if group.get("class") not in worker_classes:
            errors.add(gvar + ".class", group.get("class"),
                       "is not a worker class of ClusterClass %s" % spec.get("class"),
                       "valid: %s" % (", ".join(worker_classes) or "none"))
    for path, name in used:
        if name not in known:
            errors.add(path, name, "is not a variable of ClusterClass %s" % spec.get("class"),
                       "known variables: %s" % ", ".join(sorted(known)))
    return errors.messages


def check_against_live(spec, live):
    """Errors for forbidden version steps, given the live Cluster (or None); see capi/upgrade.py."""
    return upgrade.version_step_errors(spec, live)
