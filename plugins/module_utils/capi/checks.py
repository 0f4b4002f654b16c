# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Hooks of the spec declaration (pure): parsers for options that need more than their value
kind, and checks across the keys of one mapping. Every message names the inventory variable,
the bad value and what is valid (``Errors.add``).

Parser hooks: ``parse(errors, var, value, context) -> normalised``; mapping hooks:
``post(errors, var, raw, normalised, context) -> normalised``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.scs.kaas.plugins.module_utils.addons import catalog as _addon_catalog
from ansible_collections.scs.kaas.plugins.module_utils.addons import proxies as _proxies
from ansible_collections.scs.kaas.plugins.module_utils.capi import values
from ansible_collections.scs.kaas.plugins.module_utils.providers import catalog

_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CONDITION_TYPE = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                             r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$")
RESERVED_MACHINE_CONDITIONS = ("Ready", "Available", "HealthCheckSucceeded", "OwnerRemediated",
                               "ExternallyRemediated")

# Namespaces of Kubernetes itself and of the providers this collection installs (from the
# provider catalog); clusters there would mix tenant objects with the controllers' own.
KUBERNETES_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
# Provider namespaces follow the convention ca<x>-system (capi-, capd-, capim-, capo-, caaph- ...)
_PROVIDER_NAMESPACE = re.compile(r"^ca[a-z0-9]*-([a-z0-9-]*-)?system$")


def reserved_namespaces():
    names = set(KUBERNETES_NAMESPACES)
    names.update(p["namespace"] for p in catalog.PROVIDERS.values())
    names.add(catalog.CERT_MANAGER["namespace"])
    return sorted(names)


def _show(value):
    if isinstance(value, str):
        return "'%s'" % value
    return repr(value)


class Errors(object):
    """Collects messages in the 'variable: value problem; what is valid' form."""

    def __init__(self):
        self.messages = []

    def add(self, var, value, problem, valid=None):
        msg = "%s: %s %s" % (var, _show(value), problem)
        if valid:
            msg += "; %s" % valid
        self.messages.append(msg)

    def parsed(self, var, value, parse):
        """``parse(value)`` (None stays None), or None after recording why it is invalid."""
        if value is None:
            return None
        try:
            return parse(value)
        except values.Invalid as exc:
            self.add(var, value, exc.problem, exc.valid)
            return None

    def raw(self, message):
        self.messages.append(message)


def mapping(errors, var, value, allowed=None):
    """Return value as a dict (None -> {}), or None after recording an error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add(var, value, "is not a mapping", "expected a dictionary")
        return None
    if allowed is not None:
        for key in value:
            if key not in allowed:
                errors.raw("%s.%s: unknown key; valid keys: %s" % (var, key, ", ".join(allowed)))
    return value


def rfc1123_label(errors, var, value, what="name"):
    if not isinstance(value, str) or len(value) > 63 or not values.RFC1123_LABEL.match(value):
        errors.add(var, value, "is not a valid %s" % what,
                   "use an RFC 1123 label: at most 63 lower-case letters, digits and '-', "
                   "starting and ending with a letter or digit")
        return False
    return True


def label_name(what):
    def parse(errors, var, value, _context):
        return value if rfc1123_label(errors, var, value, what) else None
    return parse


def namespace(errors, var, value, _context):
    if not rfc1123_label(errors, var, value, "namespace"):
        return None
    if value in reserved_namespaces() or value.startswith("kube-") or _PROVIDER_NAMESPACE.match(value):
        errors.add(var, value, "is a namespace reserved by Kubernetes or a Cluster API provider",
                   "use a namespace of your own (reserved: %s, kube-*, ca*-system)" % ", ".join(reserved_namespaces()))
        return None
    return value


def class_namespace(errors, var, value, _context):
    if value is not None:
        rfc1123_label(errors, var, value, "namespace")
    return value


def control_plane_replicas(errors, var, value, _context):
    if not values.is_int(value) or value < 1 or value % 2 == 0:
        errors.add(var, value, "is not a valid control plane size",
                   "use an odd number >= 1 (1, 3, 5) so etcd keeps quorum")
        return None
    return value


def _meta_map(errors, var, value, kind):
    value = mapping(errors, var, value)
    if value is None:
        return {}
    out = {}
    for key, val in value.items():
        name = key.split("/", 1)[-1] if isinstance(key, str) else key
        prefix = key.split("/", 1)[0] if isinstance(key, str) and "/" in key else None
        if (not isinstance(key, str) or not _LABEL_NAME.match(name) or len(name) > 63
                or (prefix is not None and (len(prefix) > 253 or not values.RFC1123_SUBDOMAIN.match(prefix)))):
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


def label_map(errors, var, value, _context):
    return _meta_map(errors, var, value, "label")


def annotation_map(errors, var, value, _context):
    return _meta_map(errors, var, value, "annotation")


def variables(reserved):
    """Parser of a ``variables`` mapping; ``reserved``: class variable -> sibling option filling it."""
    def parse(errors, var, value, _context):
        value = mapping(errors, var, value)
        if value is None:
            return {}
        parent = var.rsplit(".", 1)[0]
        out = {}
        for name, val in value.items():
            if not isinstance(name, str) or not name or len(name) > 256:
                errors.add(var, name, "is not a variable name", "use a non-empty string of at most 256 characters")
                continue
            if name in reserved:
                source = "%s.%s" % (parent, reserved[name])
                errors.add("%s.%s" % (var, name), val, "sets a class variable that is filled from %s" % source,
                           "set %s instead" % source)
                continue
            if val is None:
                errors.add("%s.%s" % (var, name), val, "has no value", "give a value or remove the variable")
                continue
            out[name] = val
        return out
    return parse


def non_empty_string(errors, var, value, _context):
    if value is not None and (not isinstance(value, str) or not value):
        errors.add(var, value, "is not a string", "a non-empty string")
        return None
    return value


def list_or_empty(errors, var, value, _context):
    if value is not None and not isinstance(value, list):
        errors.add(var, value, "is not a list", "a list of mappings")
        return []
    return value


def non_empty_list(errors, var, value, _context):
    if value is not None and (not isinstance(value, list) or not value):
        errors.add(var, value, "is not a non-empty list", "list items {type, status, timeout}")
        return []
    return value


def condition_type(errors, var, value, _context):
    if not isinstance(value, str) or not _CONDITION_TYPE.match(value):
        errors.add(var, value, "is not a condition type", "e.g. Ready")
        return None
    return value


def condition_list(machine):
    def post(errors, var, raw, out, _context):
        if machine and out.get("type") in RESERVED_MACHINE_CONDITIONS:
            errors.add(var + ".type", out["type"], "cannot be used for machine conditions",
                       "%s are reserved" % ", ".join(RESERVED_MACHINE_CONDITIONS))
            return None
        if None in (out.get("type"), out.get("status"), out.get("timeout")):
            return None
        return out
    return post


def health_check_shorthand(errors, var, value, _context):
    if isinstance(value, bool):
        return {"enabled": value}
    return value


def health_check(errors, var, raw, out, _context):
    if raw.get("max_unhealthy") is not None and raw.get("unhealthy_range") is not None:
        errors.add(var + ".unhealthy_range", raw.get("unhealthy_range"),
                   "is set together with max_unhealthy", "set only one of the two")
    for key in ("unhealthy_node_conditions", "unhealthy_machine_conditions"):
        if not out.get(key):
            out.pop(key, None)
    return out


def autoscaler(errors, var, raw, out, _context):
    low, high = out.get("min"), out.get("max")
    if "min" not in raw or "max" not in raw:
        errors.add(var, raw, "needs both min and max", "e.g. {min: 1, max: 5}")
    elif low is None or high is None:
        pass
    elif low > high:
        errors.add(var + ".min", low, "is greater than autoscaler.max (%d)" % high, "min must be <= max")
    elif high == 0:
        errors.add(var + ".max", high, "is 0", "max must be at least 1")
    else:
        return {"min": low, "max": high}
    return None


def taint_key(errors, var, value, _context):
    name = value.split("/", 1)[-1] if isinstance(value, str) else None
    if not isinstance(value, str) or not name or not _LABEL_NAME.match(name) or len(name) > 63:
        errors.add(var, value, "is not a valid taint key", "use [prefix/]name like a label key")
        return None
    return value


def taint_value(errors, var, value, _context):
    if value is not None and (not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value)):
        errors.add(var, value, "is not a valid taint value", "a string of at most 63 characters [A-Za-z0-9-_.]")
        return None
    return value


def taint_list(errors, var, raw, out, context):
    seen = context.setdefault("taints:" + var.rsplit("[", 1)[0], set())
    if out.get("key") is None or out.get("effect") is None:
        return None
    if (out["key"], out["effect"]) in seen:
        errors.add(var, raw, "repeats key and effect of an earlier taint", "each key/effect pair once")
        return None
    seen.add((out["key"], out["effect"]))
    taint = {"key": out["key"], "effect": out["effect"]}
    if out.get("value"):
        taint["value"] = out["value"]
    return taint


def rollout(errors, var, raw, out, _context):
    strategy, surge, unavailable = out.get("strategy"), out.get("max_surge"), out.get("max_unavailable")
    if raw.get("strategy") is not None and strategy is None:
        return {}
    if strategy == "OnDelete" and (surge is not None or unavailable is not None):
        errors.add(var + ".strategy", strategy, "does not take max_surge/max_unavailable",
                   "use strategy RollingUpdate or drop them")
        return {}
    if surge in (0, "0%") and unavailable in (0, "0%"):
        errors.add(var + ".max_surge", surge, "is 0 while max_unavailable is 0 too",
                   "at least one of them must be above 0")
        return {}
    result = {}
    if strategy or surge is not None or unavailable is not None:
        result["strategy"] = strategy or "RollingUpdate"
    if surge is not None:
        result["max_surge"] = surge
    if unavailable is not None:
        result["max_unavailable"] = unavailable
    return result


def node_group(errors, var, raw, out, _context):
    if raw.get("autoscaler") is not None:
        if raw.get("replicas") is not None:
            errors.add(var + ".replicas", raw["replicas"], "is set together with autoscaler",
                       "with autoscaler bounds the autoscaler owns replicas; remove replicas")
        out["replicas"] = None
    elif raw.get("replicas") is None:
        out["replicas"] = 1
    if out.get("autoscaler") is None:
        out.pop("autoscaler", None)
    return out


def oidc(errors, var, raw, out, _context):
    if not raw.get("issuer_url"):
        errors.add(var + ".issuer_url", raw.get("issuer_url"), "is not an https URL",
                   "the OIDC issuer URL is required and must start with https://")
    if not raw.get("client_id"):
        errors.add(var + ".client_id", raw.get("client_id"), "is missing", "the OIDC client ID is required")
    return out


def cidr_list(errors, var, value, _context):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or len(value) > 2:
        errors.add(var, value, "is not a list of one or two CIDRs",
                   "e.g. ['192.168.0.0/16'] (dual stack: one IPv4 and one IPv6)")
        return []
    out = []
    for index, item in enumerate(value):
        try:
            out.append(values.cidr(item))
        except values.Invalid as exc:
            errors.add("%s[%d]" % (var, index), item, exc.problem, exc.valid)
    if len(out) == 2 and out[0].version == out[1].version:
        errors.add(var, value, "holds two networks of the same IP family", "dual stack needs one IPv4 and one IPv6 CIDR")
    return out


def node_cidr(errors, var, value, _context):
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return errors.parsed(var, value, values.cidr)


def network(errors, var, raw, out, _context):
    named = [("pods", n) for n in out.get("pods") or []] + [("services", n) for n in out.get("services") or []]
    if out.get("nodes") is not None:
        named.append(("nodes", out["nodes"]))
    for i in range(len(named)):
        for j in range(i + 1, len(named)):
            (va, a), (vb, b) = named[i], named[j]
            if a.version == b.version and a.overlaps(b):
                errors.raw("%s.%s: '%s' overlaps %s.%s '%s'; pod, service and node networks must be "
                           "disjoint" % (var, vb, b, var, va, a))
    out["pods"] = [str(n) for n in out.get("pods") or []]
    out["services"] = [str(n) for n in out.get("services") or []]
    out["nodes"] = str(out["nodes"]) if out.get("nodes") is not None else None
    return out


def host_list(errors, var, value, _context):
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(var, value, "is not a list", "a list of DNS names or IP addresses")
        return []
    for index, item in enumerate(value):
        try:
            values.host(item)
        except values.Invalid as exc:
            errors.add("%s[%d]" % (var, index), item, exc.problem, exc.valid)
    return list(value)


def addons(errors, var, value, _context):
    """The effective add-ons (``proxies.effective``) of a spec's ``addons``; None stays None (the
    collection manages no add-on of the cluster). Problems name their variable, never a value."""
    if value is None:
        return None
    try:
        return _proxies.effective(_addon_catalog.CATALOG, None, value, host_var=var, scopes=(None, None))
    except _proxies.AddonSpecError as exc:
        for problem in exc.problems:
            errors.raw(problem)
        return None
