# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The HelmChartProxies of a batch of workload clusters on one management cluster.

Used by ``capi/workload.py`` in its phases: :meth:`ClusterAddons.plan` (reads and server-side dry
runs, before any write of the batch), :meth:`ClusterAddons.apply` (the writes, after the Cluster was
applied) and :meth:`ClusterAddons.remove` (after the Cluster is gone). What a cluster gets comes from
its spec's ``addons`` (``proxies.effective``; None: the collection manages no add-on of it). Live
proxies are read with one LIST per namespace, of ours only (label ``managed-by: scs.kaas``); a proxy
whose add-on is switched off is deleted, and CAAPH uninstalls its release. An unchanged proxy is not
sent, so a second run writes nothing.

The values never leave this module except inside the proxies: results and diffs carry the add-on's
chart, version and profile hash (``proxies.PROFILE_ANNOTATION``), never its values.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import threading

from ansible_collections.scs.kaas.plugins.module_utils.addons import catalog as _catalog
from ansible_collections.scs.kaas.plugins.module_utils.addons import proxies as _proxies
from ansible_collections.scs.kaas.plugins.module_utils.addons import schema as _schema
from ansible_collections.scs.kaas.plugins.module_utils.kube import apply as kube_apply
from ansible_collections.scs.kaas.plugins.module_utils.kube.client import KubeError

DEFAULT_REPOSITORY_URL = "http://127.0.0.1:8879"
NOT_SERVED = ("the management cluster does not serve %s (%s): the Cluster API add-on provider Helm (CAAPH) is not "
              "installed. Install it (capi_providers with the addon-helm provider, or the embedded management "
              "cluster with optional_providers: [addons]) or leave addons out of the cluster's spec")

VALUES_NOT_SHOWN = "VALUES_NOT_SHOWN"


def redacted_params(params):
    """A copy of the workload_cluster module's parameters with the values of every add-on replaced by
    ``VALUES_NOT_SHOWN`` (what the result's ``invocation`` shows): values may hold credentials."""
    shown = copy.deepcopy(params)
    specs = [shown["cluster"]] if shown.get("cluster") is not None else (shown.get("clusters") or [])
    for item in specs:
        spec = item.get("spec") if isinstance(item, dict) and "spec" in item else item
        addons = spec.get("addons") if isinstance(spec, dict) else None
        for setting in (addons.values() if isinstance(addons, dict) else ()):
            if isinstance(setting, dict) and "values" in setting:
                setting["values"] = VALUES_NOT_SHOWN
    return shown


def summary(proxy):
    """What a result or diff may show of one proxy: no values."""
    meta, spec = proxy.get("metadata") or {}, proxy.get("spec") or {}
    return {"chart": spec.get("chartName"), "version": spec.get("version"), "release": spec.get("releaseName"),
            "namespace": spec.get("namespace"),
            "profile": (meta.get("annotations") or {}).get(_proxies.PROFILE_ANNOTATION)}


def _deleting(obj):
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _addon_of(proxy):
    return ((proxy.get("metadata") or {}).get("labels") or {}).get(_proxies.ADDON_LABEL, "").replace("-", "_")


class Plan(object):
    """What one cluster's proxies need: ``apply`` [(desired, live, dry-run outcome)], ``delete`` [live]."""

    def __init__(self, apply, delete, warnings=()):
        self.apply, self.delete, self.warnings = apply, delete, list(warnings)


class ClusterAddons(object):
    """The proxies of the clusters one ``WorkloadClusters`` run covers."""

    def __init__(self, client, repository_url=DEFAULT_REPOSITORY_URL, check_mode=False, force_conflicts=False,
                 catalog=None, schemas=None):
        self.client = client
        self.repository_url = repository_url
        self.check_mode = check_mode
        self.force_conflicts = force_conflicts
        self.catalog = catalog if catalog is not None else _catalog.CATALOG
        self.resource = client.resource(_proxies.API_VERSION, _proxies.KIND)
        self.schemas = schemas or _schema.ValuesSchemas(repository_url)
        self._live = {}
        self._lock = threading.Lock()

    def _live_in(self, namespace):
        """``{name: proxy}`` of ours in ``namespace``, or None when the kind is not served (one LIST)."""
        with self._lock:
            if namespace not in self._live:
                selector = "%s=%s" % (_proxies.MANAGED_BY_LABEL, _proxies.MANAGED_BY)
                try:
                    items = self.client.list(self.resource, namespace, label_selector=selector).get("items", [])
                    self._live[namespace] = dict(((i.get("metadata") or {}).get("name"), i) for i in items)
                except KubeError as exc:
                    if exc.status != 404:
                        raise
                    self._live[namespace] = None
            return self._live[namespace]

    def desired(self, spec):
        """The proxies of a normalised spec, in install order ([] when ``addons`` is None)."""
        if spec.get("addons") is None:
            return []
        return _proxies.desired_proxies(self.catalog, {spec["name"]: spec["addons"]}, spec["namespace"],
                                        self.repository_url)

    def _stale(self, spec, desired):
        """Ours to delete: not desired, and not already being deleted (CAAPH is uninstalling those)."""
        live = self._live_in(spec["namespace"]) or {}
        return [proxy for proxy in _proxies.stale(list(live.values()), desired, spec["namespace"], [spec["name"]])
                if not _deleting(proxy)]

    def plan(self, spec, dry_run=True):
        """Read and dry-run; returns (:class:`Plan`, problems). Writes nothing. Without ``dry_run`` (the
        namespace does not exist yet, so the server cannot dry-run) every desired proxy counts as new."""
        desired = self.desired(spec)
        live = self._live_in(spec["namespace"])
        if live is None:
            if desired:
                return None, [NOT_SERVED % ("%ss" % _proxies.KIND, _proxies.API_VERSION)]
            return Plan([], []), []
        steps, problems = [], []
        for proxy in desired:
            current = live.get(proxy["metadata"]["name"])
            if current is not None and _deleting(current):
                problems.append("%s: its HelmChartProxy %s is still being deleted (CAAPH uninstalls the release "
                                "first); switch it on again once that proxy is gone"
                                % (_addon_of(proxy), proxy["metadata"]["name"]))
                continue
            if dry_run:
                outcome = kube_apply.reconcile(self.client, proxy, current, check_mode=True,
                                               force_conflicts=self.force_conflicts)
            else:
                outcome = {"changed": True}
            steps.append((proxy, current, outcome))
        warnings = []
        for proxy, _current, outcome in steps:
            if outcome["changed"]:
                problems += self._schema_problems(spec, proxy, warnings)
        if problems:
            return None, problems
        return Plan(steps, self._stale(spec, desired), warnings), []

    def _schema_problems(self, spec, proxy, warnings):
        """What the chart's values schema says of the values a proxy about to be written installs (a proxy
        that does not change was checked when it was written)."""
        addon = _addon_of(proxy)
        var = "%s.addons.%s.values" % (spec.get("var_name") or "workload_cluster", addon)
        found, warning = self.schemas.check(proxy["spec"]["chartName"], proxy["spec"]["version"],
                                            spec["addons"][addon]["values"], var)
        if warning:
            warnings.append(warning)
        return found

    def apply(self, plan):
        """Write what ``plan`` needs (nothing in check mode); returns the result's ``addons`` part."""
        changed, removed, before, after = [], [], {}, {}
        for desired, current, outcome in plan.apply:
            addon = _addon_of(desired)
            if outcome["changed"] and not self.check_mode:
                outcome = kube_apply.reconcile(self.client, desired, current, force_conflicts=self.force_conflicts,
                                               planned=outcome)
            if outcome["changed"]:
                changed.append(addon)
            if current is not None:
                before[addon] = summary(current)
            after[addon] = summary(desired)
        for proxy in plan.delete:
            addon = _addon_of(proxy)
            removed.append(addon)
            before[addon] = summary(proxy)
            if not self.check_mode:
                meta = proxy["metadata"]
                self.client.delete(self.resource, meta["name"], meta["namespace"])
        return {"enabled": [_addon_of(desired) for desired, _current, _outcome in plan.apply],
                "changed": changed, "removed": removed, "before": before, "after": after}

    def remove(self, namespace, cluster):
        """Delete every proxy of ours for ``cluster`` (after its Cluster is gone); the names deleted."""
        spec = {"name": cluster, "namespace": namespace}
        gone = []
        for proxy in self._stale(spec, []):
            meta = proxy["metadata"]
            gone.append(_addon_of(proxy))
            if not self.check_mode:
                self.client.delete(self.resource, meta["name"], meta["namespace"])
        return gone
