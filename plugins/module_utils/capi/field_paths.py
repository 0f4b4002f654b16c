# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Map field paths of the Cluster object back to the inventory variables (pure).

Admission webhooks and server-side dry runs name fields of the Cluster we built
(``spec.topology.variables[oidc].value.issuerURL``); the operator wrote
``workload_cluster.api.oidc.issuer_url``. The ``target`` of each option in the spec declaration
says which Cluster field it fills, so the map is derived from the declaration, not kept by hand.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.scs.kaas.plugins.module_utils.capi import spec as declaration
from ansible_collections.scs.kaas.plugins.module_utils.kube import apply as kube_apply

_INDEX = re.compile(r"\[([^\]]*)\]")
_FIELD_IN_TEXT = re.compile(r"\b((?:spec|metadata)(?:\.[A-Za-z0-9_-]+|\[[^\]\s]*\])+)")


def _join(prefix, target):
    # Top-level targets are absolute; below a targeted option (control plane, node group, oidc)
    # they are relative to it, except the ones pointing at shared Cluster fields (spec.*).
    if not prefix or target.startswith("spec."):
        return target
    return "%s.%s" % (prefix, target)


def _variables_entries(full, var, names):
    for name in names:
        yield "%s[%s].value" % (full, name), "%s.%s" % (var, name)
        yield "%s[%s]" % (full, name), "%s.%s" % (var, name)


def _entries(option, value, cluster_prefix, var_prefix):
    for sub in option.options or ():
        var = "%s.%s" % (var_prefix, sub.name)
        sub_value = value.get(sub.dest) if isinstance(value, dict) else None
        full = _join(cluster_prefix, sub.target) if sub.target else cluster_prefix
        if sub.target:
            yield full, var
            if full.endswith(".value"):
                yield full[:-len(".value")], var
        if sub.name == "variables" and isinstance(sub_value, dict):
            yield from _variables_entries(full, var, sorted(sub_value))
            continue
        if sub.options and sub.type == "list" and sub.name == "node_groups":
            for index, item in enumerate(sub_value or []):
                item_full = "%s[%s]" % (full, item.get("name"))
                yield item_full, "%s[%d]" % (var, index)
                yield from _entries(sub, item, item_full, "%s[%d]" % (var, index))
        elif sub.options and sub.type != "list":
            yield from _entries(sub, sub_value, full, var)


def entries(spec):
    """[(Cluster field path, inventory variable)] for a normalised spec, longest paths first."""
    found = dict(_entries(declaration.SPEC, spec, "", spec["var_name"]))
    return sorted(found.items(), key=lambda item: -len(item[0]))


def _by_name(desired, path):
    """Replace list indexes in ``path`` by the item names found in the ``desired`` object."""
    out = []
    node = desired
    for part in re.split(r"(\[[^\]]*\]|\.)", path):
        if not part or part == ".":
            if part:
                out.append(part)
            continue
        match = _INDEX.match(part)
        if match:
            key = match.group(1)
            if isinstance(node, list) and key.isdigit() and int(key) < len(node):
                item = node[int(key)]
                if isinstance(item, dict) and item.get("name") is not None:
                    part = "[%s]" % item["name"]
                node = item
            elif isinstance(node, list):
                node = next((i for i in node if isinstance(i, dict) and i.get("name") == key), None)
            else:
                node = None
        else:
            node = node.get(part) if isinstance(node, dict) else None
        out.append(part)
    return "".join(out)


def variable_for(spec, desired, field):
    """The inventory variable for a field path of the Cluster (or None)."""
    path = _by_name(desired, field or "")
    for prefix, var in entries(spec):
        if path == prefix:
            return var
        if path.startswith(prefix) and path[len(prefix)] in ".[":
            return var + path[len(prefix):]
    return None


def explain(spec, desired, message, causes=None):
    """The server's error with every Cluster field path it names translated to the variable."""
    lines = []
    for cause in causes or ():
        field = cause.get("field")
        var = variable_for(spec, desired, field) if field else None
        text = cause.get("message") or cause.get("reason") or ""
        if var:
            lines.append("%s: %s (field %s)" % (var, text, field))
    if lines:
        return "; ".join(lines)

    def replace(match):
        var = variable_for(spec, desired, match.group(1))
        return "%s (field %s)" % (var, match.group(1)) if var else match.group(1)
    return _FIELD_IN_TEXT.sub(replace, message or "")


def describe_conflicts(spec, desired, conflicts):
    """Server-side apply conflicts ([{manager, field}]) named by inventory variable and field."""
    def name_of(field):
        return "%s (field %s)" % (variable_for(spec, desired, field) or "a field the collection sets", field)
    return kube_apply.describe_conflicts(conflicts, name_of)
