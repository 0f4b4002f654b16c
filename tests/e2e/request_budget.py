# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The collection's requests to the management cluster per lifecycle step, counted from the audit
log, and the budget they must stay within.

A step's requests are ``fixed + per_cluster * N`` for a batch of N clusters: the budget names both,
so the test at N=3 (``test_request_budget.py``) and the benchmark at every N
(``benchmarks/workload_clusters.py --budget``) check the same numbers. Requests are counted by kind:

- ``discovery``: API discovery (non-resource GETs such as ``/api``, ``/apis``); how many depends on
  the client's discovery cache, not on the batch, so its budget is a fixed ceiling;
- ``read``: get and list;
- ``watch``: the waits' watches (one per kind and namespace, not per cluster);
- ``dry-run``: server-side dry runs (they cost the API server what a write does, but store nothing);
- ``write``: create, update, patch, delete that were not dry runs.
"""

from __future__ import annotations

import collections

OUR_AGENT = "scs.kaas/"
KINDS = ("discovery", "read", "watch", "dry-run", "write")
READ_VERBS = ("get", "list")

# step -> kind -> (fixed, per cluster): at most ``fixed + per_cluster * N`` requests of that kind.
# Measured (in-memory clusters, 1 control plane and 1 worker each) and kept as the limit:
# - every run: one LIST of Clusters, ClusterClasses (not on delete) and HelmChartProxies per namespace;
# - a changed cluster: one server-side dry run (the batch is checked before the first write) and one
#   write; its wait: one watch, which reconnects only after 300 s;
# - create: the namespace is read once; upgrade: Clusters and Machines are listed once more to plan
#   the minor steps;
# - delete: discovery (2 with a warm discovery cache, 6 seen with a cold one), then per cluster its Cluster, infrastructure cluster and kubeconfig
#   Secret, and one LIST per kind of what must be gone (control planes, machine deployments, machine
#   pools, machine sets, machines).
BUDGET = {
    "create": {"discovery": (8, 0), "read": (4, 0), "watch": (0, 1), "dry-run": (0, 1), "write": (0, 1)},
    "no-op": {"discovery": (8, 0), "read": (3, 0), "watch": (0, 0), "dry-run": (0, 0), "write": (0, 0)},
    "scale": {"discovery": (8, 0), "read": (3, 0), "watch": (0, 1), "dry-run": (0, 1), "write": (0, 1)},
    "upgrade": {"discovery": (8, 0), "read": (5, 0), "watch": (0, 1), "dry-run": (0, 1), "write": (0, 1)},
    "delete": {"discovery": (8, 0), "read": (2, 8), "watch": (0, 1), "dry-run": (0, 0), "write": (0, 1)},
}


def kind_of(event):
    """The budget kind of one audit event."""
    if "dryRun=All" in (event.get("requestURI") or ""):
        return "dry-run"
    verb = event.get("verb")
    if verb in READ_VERBS and not (event.get("objectRef") or {}).get("resource"):
        return "discovery"
    if verb in READ_VERBS:
        return "read"
    if verb == "watch":
        return "watch"
    return "write"


def count(events, user_agent_prefix=OUR_AGENT):
    """``{kind: number}`` of the requests among audit ``events`` whose user agent starts with the
    prefix (each request once, whatever its audit stages), and ``{(kind, verb, resource): number}``."""
    seen, totals, detail = set(), collections.Counter(), collections.Counter()
    for event in events:
        if not (event.get("userAgent") or "").startswith(user_agent_prefix) or event.get("auditID") in seen:
            continue
        seen.add(event.get("auditID"))
        kind = kind_of(event)
        ref = event.get("objectRef") or {}
        totals[kind] += 1
        detail[(kind, event.get("verb"), ref.get("resource", "") + ("/" + ref["subresource"]
                                                                    if ref.get("subresource") else ""))] += 1
    return {k: totals.get(k, 0) for k in KINDS}, dict(detail)


def allowed(step, clusters):
    """``{kind: most requests}`` the budget allows ``step`` for a batch of ``clusters``."""
    return {kind: fixed + per_cluster * clusters for kind, (fixed, per_cluster) in BUDGET[step].items()}


def over_budget(step, clusters, counted):
    """The kinds of ``counted`` (from :func:`count`) above the budget, with both numbers."""
    limit = allowed(step, clusters)
    return {kind: (counted[kind], limit[kind]) for kind in KINDS if counted[kind] > limit[kind]}
