# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Server-side apply with an owned-field comparison, so converged objects cost no write.

``reconcile(client, desired, live, check_mode, force_conflicts)``:

1. If the live object holds every field of ``desired`` with the same value (list-maps matched by
   their keys, atomic lists compared whole) and our field manager owns no field that ``desired``
   no longer sets, nothing is sent at all.
2. Otherwise a server-side dry run (``dryRun=All``) shows what the apply would produce. When
   that equals the live object (ignoring resourceVersion, managedFields and generation) the
   difference was only normalisation by the server and nothing is written.
3. Otherwise, unless in check mode, the apply is sent for real, once.

A caller that planned a whole batch in check mode first passes each plan back as ``planned``: the
apply is then sent without a second dry run (one dry run and one write per changed object).

A field that another field manager owns with a different value stops the dry run with a 409;
``conflicts`` reads the managers and fields from that answer. Only ``force_conflicts`` takes such
fields over (the operator's choice, never a default), so no other manager's field is lost silently.

The functions on dicts are pure and unit-tested without a cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re

from ansible_collections.scs.kaas.plugins.module_utils.kube.client import FIELD_MANAGER, KubeError

# Lists that the API server merges as maps (x-kubernetes-list-type: map), by field name.
LIST_MAP_KEYS = {
    "variables": ("name",),
    "overrides": ("name",),
    "machineDeployments": ("name",),
    "machinePools": ("name",),
    "taints": ("key", "effect"),
    "readinessGates": ("conditionType",),
    "availabilityGates": ("conditionType",),
    "conditions": ("type",),
}
# Fields whose content is free-form JSON (x-kubernetes-preserve-unknown-fields): lists inside are atomic.
FREE_FORM_FIELDS = ("value",)
IGNORED_METADATA = ("resourceVersion", "managedFields", "generation", "creationTimestamp", "uid")


def _same(a, b):
    """Strict JSON equality: booleans never equal numbers, strings never equal numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _find(items, item, keys):
    for candidate in items:
        if isinstance(candidate, dict) and all(candidate.get(k) == item.get(k) for k in keys):
            return candidate
    return None


def contains(desired, live, field=None, free=False):
    """True when ``live`` holds every field of ``desired`` with the same value."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(k in live and contains(v, live[k], k, free or k in FREE_FORM_FIELDS)
                   for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list):
            return False
        keys = None if free else LIST_MAP_KEYS.get(field)
        if keys and all(isinstance(i, dict) for i in desired):
            for item in desired:
                match = _find(live, item, keys)
                if match is None or not contains(item, match, None, free):
                    return False
            return True
        return _same(desired, live)
    return _same(desired, live)


def owned_fields(obj, manager=FIELD_MANAGER):
    """The fieldsV1 tree our manager owns through Apply (merged over subresources), or {}."""
    merged = {}
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply" and not entry.get("subresource"):
            merged.update(entry.get("fieldsV1") or {})
    return merged


def stale_fields(fields, desired, path=""):
    """Paths that ``fields`` (fieldsV1 owned by us) has and ``desired`` no longer sets."""
    out = []
    for key, sub in (fields or {}).items():
        if key == ".":
            continue
        if key.startswith("f:"):
            name = key[2:]
            here = "%s.%s" % (path, name) if path else name
            if not isinstance(desired, dict) or name not in desired:
                out.append(here)
            elif sub and isinstance(desired[name], (dict, list)):
                out.extend(stale_fields(sub, desired[name], here))
        elif key.startswith("k:"):
            try:
                keys = json.loads(key[2:])
            except ValueError:
                continue
            here = "%s[%s]" % (path, ",".join("%s=%s" % kv for kv in sorted(keys.items())))
            match = _find(desired, keys, list(keys)) if isinstance(desired, list) else None
            if match is None:
                out.append(here)
            elif sub:
                out.extend(stale_fields(sub, match, here))
        elif key.startswith("v:"):
            try:
                value = json.loads(key[2:])
            except ValueError:
                continue
            if not isinstance(desired, list) or value not in desired:
                out.append("%s[%s]" % (path, json.dumps(value)))
    return out


def project(obj, template, field=None, free=False):
    """The parts of ``obj`` at the paths present in ``template`` (for before/after diffs)."""
    if isinstance(template, dict) and isinstance(obj, dict):
        out = {}
        for key, sub in template.items():
            if key in obj:
                out[key] = project(obj[key], sub, key, free or key in FREE_FORM_FIELDS)
        return out
    if isinstance(template, list) and isinstance(obj, list):
        keys = None if free else LIST_MAP_KEYS.get(field)
        if keys and all(isinstance(i, dict) for i in template):
            out = []
            for item in template:
                match = _find(obj, item, keys)
                if match is not None:
                    out.append(project(match, item, None, free))
            return out
    return copy.deepcopy(obj)


def project_fields(obj, fields):
    """The parts of ``obj`` named by a fieldsV1 tree (to show fields we stop setting)."""
    if not isinstance(obj, (dict, list)):
        return obj
    out = {} if isinstance(obj, dict) else []
    for key, sub in (fields or {}).items():
        if key.startswith("f:") and isinstance(obj, dict) and key[2:] in obj:
            val = obj[key[2:]]
            out[key[2:]] = project_fields(val, sub) if sub and isinstance(val, (dict, list)) else copy.deepcopy(val)
        elif key.startswith("k:") and isinstance(obj, list):
            try:
                keys = json.loads(key[2:])
            except ValueError:
                continue
            match = _find(obj, keys, list(keys))
            if match is not None:
                out.append(project_fields(match, sub) if sub else copy.deepcopy(match))
    return out


def merge_views(a, b, field=None):
    """Union of two projections (b wins on leaves)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = merge_views(a[k], v, k) if k in a else v
        return out
    if isinstance(a, list) and isinstance(b, list):
        keys = LIST_MAP_KEYS.get(field)
        if keys:
            out = list(a)
            for item in b:
                if isinstance(item, dict) and _find(out, item, keys) is None:
                    out.append(item)
            return out
    return b


def strip_server_fields(obj):
    """Copy without fields that change on every write (for dry-run comparison)."""
    out = copy.deepcopy(obj or {})
    meta = out.get("metadata") or {}
    for key in IGNORED_METADATA:
        meta.pop(key, None)
    return out


def needs_apply(desired, live):
    """(needed, stale_paths) from the pure comparison."""
    if live is None:
        return True, []
    stale = stale_fields(owned_fields(live), desired)
    return bool(stale) or not contains(desired, live), stale


_MANAGER = re.compile(r'conflict with "(?P<manager>[^"]*)"')
# The message of a single conflict: ``conflict with "<manager>" using <apiVersion>: <field>``.
_CONFLICT = re.compile(_MANAGER.pattern + r'(?: using \S+?)?:\s*(?P<field>\S+)')
_KEYED_ENTRY = re.compile(r'\[[A-Za-z]+="([^"]*)"\]')


def _field_path(field):
    """``.spec.x[name="md-0"].y`` (the server's notation) as ``spec.x[md-0].y``."""
    return _KEYED_ENTRY.sub(r"[\1]", (field or "").lstrip("."))


def conflicts(exc):
    """[{manager, field}] of a server-side apply conflict (a KubeError 409), or [] for any other error.

    The API server lists them as status causes (reason FieldManagerConflict); older answers carry
    them only in the message, so both are read.
    """
    if getattr(exc, "status", None) != 409:
        return []
    found = []
    for cause in (getattr(exc, "details", None) or {}).get("causes") or ():
        if cause.get("reason") == "FieldManagerConflict":
            manager = _MANAGER.search(cause.get("message") or "")
            found.append({"manager": manager.group("manager") if manager else cause.get("message") or "",
                          "field": _field_path(cause.get("field"))})
    if not found:
        found = [{"manager": m.group("manager"), "field": _field_path(m.group("field"))}
                 for m in _CONFLICT.finditer(getattr(exc, "message", "") or "")]
    return found


def describe_conflicts(found, name_of=lambda field: "field %s" % field):
    """``<name_of(field)> is owned by field manager "y"; ...`` for an operator's error message."""
    return "; ".join('%s is owned by field manager "%s"' % (name_of(c["field"]), c["manager"]) for c in found)


class ApplyConflict(KubeError):
    """A server-side apply refused because other field managers own fields it sets (nothing written)."""

    def __init__(self, exc, obj, found):
        meta = obj.get("metadata") or {}
        name = "%s/%s" % (meta["namespace"], meta["name"]) if meta.get("namespace") else meta.get("name")
        super(ApplyConflict, self).__init__(
            exc.status, exc.reason,
            "%s %s: %s; nothing was written (force the apply to take these fields over)"
            % (obj.get("kind"), name, describe_conflicts(found)), exc.details)
        self.conflicts = found


def reconcile(client, desired, live, check_mode=False, force_conflicts=False, planned=None):
    """Apply ``desired`` if needed; see the module docstring.

    Returns dict(changed, object, before, after, stale_fields, dry_run_compared).
    ``before``/``after`` cover the fields we set (and ones we stop setting). ``planned``: this
    function's check-mode result for the same ``desired`` and ``live``, whose dry run stands.
    """
    if planned is not None and "before" in planned and not check_mode:
        if not planned["changed"]:
            return planned
        after_obj = client.apply(desired, force=force_conflicts)
        owned = owned_fields(live) if live else {}
        return dict(planned, object=after_obj,
                    after=merge_views(project(after_obj, desired), project_fields(after_obj, owned)))
    needed, stale = needs_apply(desired, live)
    result = {"changed": False, "object": live, "stale_fields": stale, "dry_run_compared": False}
    owned = owned_fields(live) if live else {}
    view = {"metadata": {}, "spec": {}}
    if not needed:
        result["before"] = result["after"] = project(live, desired)
        return result
    try:
        dry = client.apply(desired, dry_run=True, force=force_conflicts)
    except KubeError as exc:
        found = conflicts(exc)
        if found:
            raise ApplyConflict(exc, desired, found)
        raise
    before = merge_views(project(live, desired), project_fields(live, owned)) if live else {}
    if live is not None and strip_server_fields(dry) == strip_server_fields(live):
        result["dry_run_compared"] = True
        result["before"] = result["after"] = project(live, desired)
        return result
    after_obj = dry if check_mode else client.apply(desired, force=force_conflicts)
    result.update({
        "changed": True,
        "object": after_obj,
        "before": before or view,
        "after": merge_views(project(after_obj, desired), project_fields(after_obj, owned)),
    })
    return result
