# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Decide ``init`` vs ``upgrade`` vs nothing per provider from the clusterctl Provider inventory.

Pure functions, stdlib only, no cluster access:

``parse_semver(value, var_name) -> tuple``      semantic version sort key (pre-releases sort first)
``compare_versions(a, b) -> -1|0|1``
``inventory_entries(objects) -> list``          Provider objects (dicts) -> normalised entries
``decide(desired, installed) -> dict``          the per-provider decisions and the overall plan
``clusterctl_init_args(decisions) -> list``     ``--core cluster-api:v1.14.2 ...`` for ``init``
``clusterctl_upgrade_args(decisions) -> list``  ``--core capi-system/cluster-api:v1.14.2 ...``
``parse_upgrade_plan(text) -> list``            rows of ``clusterctl upgrade plan`` output
``plan_disagreements(decision, plan_rows) -> list``
``gate_args(args, gates) -> list or None``      controller args with feature gates switched on

A decision per desired provider is a dict with ``key, name, type, namespace, version`` (desired),
``installed_version`` (or None) and ``action``: ``init`` (not installed), ``upgrade`` (installed
older), ``none`` (same version). A newer installed version is refused (``error``): versions never
go down. Installed providers we do not manage are listed under ``unmanaged`` and left alone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.scs.kaas.plugins.module_utils.providers import catalog
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError

_SEMVER_RE = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")

INIT = "init"
UPGRADE = "upgrade"
NONE = "none"
ERROR = "error"


class DecisionError(KaasError, ValueError):
    """An invalid version, a downgrade, or an inconsistent inventory."""


def parse_semver(value, var_name="version"):
    match = _SEMVER_RE.match(str(value or "").strip())
    if not match:
        raise DecisionError("%s: %r is not a semantic version like v1.14.2 or v0.1.0-alpha.7"
                            % (var_name, value))
    major, minor, patch, pre = match.groups()
    if pre is None:
        pre_key = (1,)
    else:
        parts = []
        for part in pre.split("."):
            parts.append((0, int(part), "") if part.isdigit() else (1, 0, part))
        pre_key = (0, tuple(parts))
    return (int(major), int(minor), int(patch), pre_key)


def compare_versions(a, b, var_names=("a", "b")):
    ka = parse_semver(a, var_names[0])
    kb = parse_semver(b, var_names[1])
    return (ka > kb) - (ka < kb)


def inventory_entries(objects):
    """Normalise clusterctl Provider objects (``clusterctl.cluster.x-k8s.io/v1alpha3``)."""
    entries = []
    for obj in objects or []:
        meta = obj.get("metadata") or {}
        entries.append({
            "object_name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "name": obj.get("providerName"),
            "type": obj.get("type"),
            "version": obj.get("version"),
        })
    return entries


def _key(type_, name):
    return "%s/%s" % (type_, name)


def decide(desired, installed):
    """Compare desired providers (catalog entries) with the installed inventory entries.

    Returns ``{"providers": [decision...], "unmanaged": [entry...], "init": bool,
    "upgrade": bool, "changed": bool, "errors": [str]}``.
    """
    by_key = {}
    errors = []
    for entry in installed:
        k = _key(entry["type"], entry["name"])
        if k in by_key:
            errors.append("provider %s is installed twice (namespaces %s and %s); clusterctl "
                          "supports one instance per provider"
                          % (k, by_key[k]["namespace"], entry["namespace"]))
            continue
        by_key[k] = entry
    decisions = []
    wanted = set()
    for prov in desired:
        if not prov.get("type"):
            continue
        k = _key(prov["type"], prov["name"])
        wanted.add(k)
        current = by_key.get(k)
        decision = {
            "key": prov.get("key"),
            "name": prov["name"],
            "type": prov["type"],
            "label": catalog.label(prov),
            "namespace": prov["namespace"],
            "version": prov["version"],
            "installed_version": None,
            "action": INIT,
        }
        parse_semver(prov["version"], "desired version of %s" % k)
        if current is not None:
            decision["installed_version"] = current["version"]
            decision["namespace"] = current["namespace"] or prov["namespace"]
            try:
                cmp = compare_versions(current["version"], prov["version"],
                                       ("installed version of %s" % k, "desired version of %s" % k))
            except DecisionError as err:
                decision["action"] = ERROR
                errors.append(str(err))
            else:
                if cmp == 0:
                    decision["action"] = NONE
                elif cmp < 0:
                    decision["action"] = UPGRADE
                else:
                    decision["action"] = ERROR
                    errors.append(
                        "provider %s is installed at %s, newer than the pinned %s; versions never "
                        "go down (pin a version >= %s)" % (k, current["version"], prov["version"],
                                                           current["version"]))
        decisions.append(decision)
    decisions.sort(key=lambda d: (catalog.TYPE_ORDER.index(d["type"]), d["name"]))
    unmanaged = [e for k, e in sorted(by_key.items()) if k not in wanted]
    core_installed = any(e["type"] == catalog.CORE for e in installed)
    core_wanted_init = any(d["type"] == catalog.CORE and d["action"] == INIT for d in decisions)
    if not core_installed and not core_wanted_init and any(d["action"] == INIT for d in decisions):
        errors.append("no core provider (cluster-api) is installed or requested; clusterctl init "
                      "needs one")
    return {
        "providers": decisions,
        "unmanaged": unmanaged,
        "init": any(d["action"] == INIT for d in decisions),
        "upgrade": any(d["action"] == UPGRADE for d in decisions),
        "changed": any(d["action"] in (INIT, UPGRADE) for d in decisions),
        "errors": errors,
    }


def clusterctl_init_args(decision):
    args = []
    for d in decision["providers"]:
        if d["action"] == INIT:
            args += [catalog.TYPE_FLAG[d["type"]], "%s:%s" % (d["name"], d["version"])]
    return args


def clusterctl_upgrade_args(decision):
    args = []
    for d in decision["providers"]:
        if d["action"] == UPGRADE:
            args += [catalog.TYPE_FLAG[d["type"]],
                     "%s/%s:%s" % (d["namespace"], d["name"], d["version"])]
    return args


_PLAN_HEADER_RE = re.compile(r"^NAME\s+NAMESPACE\s+TYPE\s+CURRENT VERSION\s+NEXT VERSION\s*$")


def parse_upgrade_plan(text):
    """Rows of the tables ``clusterctl upgrade plan`` prints.

    Each row: ``{"name", "namespace", "type", "current", "next"}`` with ``next`` None when the
    provider is "Already up to date".
    """
    rows = []
    in_table = False
    for line in (text or "").splitlines():
        if _PLAN_HEADER_RE.match(line.strip()):
            in_table = True
            continue
        if in_table:
            if not line.strip():
                in_table = False
                continue
            parts = re.split(r"\s{2,}", line.strip())
            if len(parts) < 5:
                in_table = False
                continue
            nxt = parts[4].strip()
            rows.append({"name": parts[0], "namespace": parts[1], "type": parts[2],
                         "current": parts[3],
                         "next": None if nxt == "Already up to date" else nxt})
    return rows


def plan_disagreements(decision, plan_rows):
    """Where our decision and ``clusterctl upgrade plan`` disagree (empty list: they agree).

    clusterctl names rows by the Provider object name (``bootstrap-kubeadm``) and type.
    """
    rows = {(r["type"], r["name"]): r for r in plan_rows}
    problems = []
    for d in decision["providers"]:
        if d["action"] == INIT:
            continue
        row = rows.get((d["type"], d["label"]))
        if row is None:
            problems.append("%s %s: not in clusterctl's plan" % (d["type"], d["label"]))
            continue
        if row["current"] != d["installed_version"]:
            problems.append("%s %s: clusterctl sees %s installed, we read %s"
                            % (d["type"], d["label"], row["current"], d["installed_version"]))
        want_next = d["version"] if d["action"] == UPGRADE else None
        if row["next"] != want_next:
            problems.append("%s %s: clusterctl plans %s, we decided %s (%s)"
                            % (d["type"], d["label"], row["next"] or "no change", d["action"],
                               want_next or "no change"))
    return problems


def gate_args(args, gates):
    """Return controller ``args`` with ``--feature-gates`` containing ``gates`` (name -> bool).

    Returns None when every gate is already set as wanted (nothing to patch).
    """
    args = list(args or [])
    wanted = {k: ("true" if v else "false") for k, v in gates.items()}
    for i, arg in enumerate(args):
        if arg.startswith("--feature-gates="):
            current = []
            for item in arg[len("--feature-gates="):].split(","):
                if "=" in item:
                    name, value = item.split("=", 1)
                    current.append([name.strip(), value.strip()])
            names = [c[0] for c in current]
            changed = False
            for name, value in wanted.items():
                if name in names:
                    idx = names.index(name)
                    if current[idx][1].lower() != value:
                        current[idx][1] = value
                        changed = True
                else:
                    current.append([name, value])
                    changed = True
            if not changed:
                return None
            args[i] = "--feature-gates=" + ",".join("%s=%s" % (n, v) for n, v in current)
            return args
    args.append("--feature-gates=" + ",".join("%s=%s" % (n, v) for n, v in sorted(wanted.items())))
    return args


def not_as_new(reference, candidate):
    """Providers of ``reference`` (inventory entries, e.g. a pivot's source) that ``candidate``
    lacks or has older. An empty list means the candidate may receive ``clusterctl move``.
    """
    have = {(e["type"], e["name"]): e for e in candidate}
    problems = []
    for ref in reference:
        k = (ref["type"], ref["name"])
        cand = have.get(k)
        if cand is None:
            problems.append("%s %s %s is installed on the source but missing on the target"
                            % (ref["type"], ref["name"], ref["version"]))
        elif compare_versions(cand["version"], ref["version"]) < 0:
            problems.append("%s %s is %s on the target, older than %s on the source"
                            % (ref["type"], ref["name"], cand["version"], ref["version"]))
    return problems
