# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Reconcile many workload clusters in one process (used by the workload_cluster module).

Order for every batch: pure validation of every spec; read-only reads (one LIST of Clusters and
one LIST of ClusterClasses per namespace, the Secrets the specs refer to); cluster-dependent
validation; server-side dry runs of every cluster that needs a write (webhook errors are mapped
back to the inventory variable); then, only when all of that passed for EVERY cluster of the
batch (or the operator opted into partial runs), concurrently (threads): apply, wait and write
kubeconfigs. A batch is all or nothing: one invalid spec and no cluster is written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.scs.kaas.plugins.module_utils import files
from ansible_collections.scs.kaas.plugins.module_utils.addons import reconcile as addon_proxies
from ansible_collections.scs.kaas.plugins.module_utils.capi import cloud_refs, field_paths, topology, validation
from ansible_collections.scs.kaas.plugins.module_utils.kube import admission
from ansible_collections.scs.kaas.plugins.module_utils.kube import apply as kube_apply
from ansible_collections.scs.kaas.plugins.module_utils.kube import wait as kube_wait
from ansible_collections.scs.kaas.plugins.module_utils.kube.client import KubeError

OWNED_KINDS = (
    ("cluster.x-k8s.io", "Machine"),
    ("cluster.x-k8s.io", "MachineSet"),
    ("cluster.x-k8s.io", "MachineDeployment"),
    ("cluster.x-k8s.io", "MachinePool"),
    ("controlplane.cluster.x-k8s.io", "KubeadmControlPlane"),
)


class ClusterResult(object):
    """Outcome for one cluster (one inventory host)."""

    def __init__(self, key, var_name):
        self.key = key
        self.var_name = var_name
        self.changed = False
        self.failed = False
        self.msg = ""
        self.errors = []
        self.summary = None
        self.problems = []
        self.diff = None
        self.stale_fields = []
        self.blockers = []
        self.kubeconfig_path = None
        self.action = "none"
        self.warnings = []
        self.addons = None

    def fail(self, msg, errors=None):
        self.failed = True
        self.errors = list(errors or [msg])
        self.msg = msg

    def as_dict(self, compact=False):
        """Result for the module; ``compact`` leaves conditions and node groups out of the summary
        (batch runs: the result is registered for every host of the play, so size matters)."""
        summary = self.summary
        if compact and summary:
            summary = dict((k, v) for k, v in summary.items() if k not in ("conditions", "node_groups"))
        out = {
            "changed": self.changed, "failed": self.failed, "msg": self.msg, "errors": self.errors,
            "action": self.action, "cluster": summary, "problems": self.problems,
            "stale_fields": self.stale_fields,
        }
        if self.diff is not None:
            out["diff"] = self.diff
        if self.blockers:
            out["blockers"] = self.blockers
        if self.kubeconfig_path:
            out["kubeconfig_path"] = self.kubeconfig_path
        if self.warnings:
            out["warnings"] = self.warnings
        if self.addons is not None:
            out["addons"] = dict((k, v) for k, v in self.addons.items() if k not in ("before", "after"))
        return out


class WorkloadClusters(object):
    """Reconcile a batch of cluster specs against one management cluster."""

    def __init__(self, client, check_mode=False, diff=False, wait=True, wait_timeout=900,
                 force_delete_protected=False, kubeconfig_dir=None, parallel=8, partial=False,
                 force_conflicts=False, addons_repository_url=None):
        self.client = client
        self.check_mode = check_mode
        self.want_diff = diff
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.force = force_delete_protected
        self.force_conflicts = force_conflicts
        self.kubeconfig_dir = kubeconfig_dir
        self.parallel = max(1, parallel)
        self.partial = partial
        self.clusters = client.resource("cluster.x-k8s.io/v1beta2", "Cluster")
        self.classes_res = client.resource("cluster.x-k8s.io/v1beta2", "ClusterClass")
        self._live = {}
        self._classes = {}
        self._namespaces = {}
        self._namespace_lock = threading.Lock()
        self.addons = addon_proxies.ClusterAddons(client, addons_repository_url or addon_proxies.DEFAULT_REPOSITORY_URL,
                                                  check_mode=check_mode, force_conflicts=force_conflicts)

    # -- reads --------------------------------------------------------------------------------

    def _live_clusters(self, namespace):
        if namespace not in self._live:
            items = self.client.list(self.clusters, namespace).get("items", [])
            self._live[namespace] = {i["metadata"]["name"]: i for i in items}
        return self._live[namespace]

    def _cluster_classes(self, namespace):
        if namespace not in self._classes:
            items = self.client.list(self.classes_res, namespace).get("items", [])
            self._classes[namespace] = {i["metadata"]["name"]: i for i in items}
        return self._classes[namespace]

    # -- batch -----------------------------------------------------------------------------

    def run(self, entries, state="present"):
        """entries: list of (key, raw_spec, var_name). Returns list of ClusterResult in order."""
        results, work = [], []
        for key, raw, var_name in entries:
            res = ClusterResult(key, var_name)
            results.append(res)
            if state == "present":
                spec, errors = validation.normalize_spec(raw, var_name, default_name=None)
            else:
                spec, errors = self._absent_spec(raw, var_name)
            if errors:
                res.fail("invalid workload cluster spec: %s" % "; ".join(errors), errors)
                continue
            res.key = key or "%s/%s" % (spec["namespace"], spec["name"])
            if state == "present":
                res.warnings = validation.risks(spec)
            work.append((res, spec))
        # names must be unique in the batch
        seen = {}
        for res, spec in list(work):
            ident = (spec["namespace"], spec["name"])
            if ident in seen:
                res.fail("%s.name: '%s' is used by %s too; each cluster needs its own name in a namespace"
                         % (res.var_name, spec["name"], seen[ident]))
                work.remove((res, spec))
            else:
                seen[ident] = res.key
        ready = []
        for res, spec in work:
            try:
                live = self._live_clusters(spec["namespace"]).get(spec["name"])
                if state == "present":
                    errors = self._check_cluster_dependent(res, spec, live)
                else:
                    errors = self._check_deletable(spec, live)
                if errors:
                    res.fail("invalid workload cluster spec: %s" % "; ".join(errors), errors)
                    continue
                ready.append((res, spec, live))
            except KubeError as exc:
                res.fail("reading the management cluster failed: %s" % exc)
        if state == "present":
            # server-side dry runs of the whole batch before its first write
            plans = self._map(self._plan, ready, self.parallel)
            ready = [(res, spec, plan) for (res, spec, _live), plan in zip(ready, plans)
                     if plan is not None and not res.failed]
            if not self._batch_may_write(results):
                return results
            # apply with `parallel` threads, then wait for all at once (waits are idle watches)
            applied = self._map(self._apply, ready, self.parallel)
            pending = [(res, spec, obj) for (res, spec, _plan), obj in zip(ready, applied)
                       if obj is not None and not res.failed]
            self._map(self._finish, pending, 64)
        else:
            if not self._batch_may_write(results):
                return results
            self._map(self._absent, ready, self.parallel)
        return results

    def _batch_may_write(self, results):
        """All or nothing: one failed cluster holds back the writes of all (unless partial)."""
        failed = [r.key or r.var_name for r in results if r.failed]
        if not failed or self.partial:
            return True
        for res in results:
            if not res.failed:
                res.fail("not applied: the batch is all or nothing and %d cluster(s) failed their checks (%s); "
                         "fix them, or set partial: true (role variable workload_cluster_partial) to apply "
                         "the valid ones" % (len(failed), ", ".join(sorted(failed))))
                res.changed = False
                res.action = "none"
        return False

    def _map(self, handler, items, workers):
        if len(items) <= 1 or workers <= 1:
            return [self._guard(handler, *item) for item in items]
        with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
            return list(pool.map(lambda item: self._guard(handler, *item), items))

    def _guard(self, handler, res, spec, obj):
        try:
            return handler(res, spec, obj)
        except KubeError as exc:
            # Whichever request met it (a dry run, an apply, a namespace), a webhook that did not
            # answer is named with the component behind it.
            unavailable = admission.explain_unavailable_webhook(self.client, exc)
            if unavailable:
                res.fail("%s/%s was not applied: %s" % (spec["namespace"], spec["name"], unavailable))
            else:
                res.fail("Kubernetes API error for %s/%s: %s" % (spec["namespace"], spec["name"], exc))
        except (OSError, IOError) as exc:
            res.fail("local error for %s/%s: %s" % (spec["namespace"], spec["name"], exc))
        return None

    @staticmethod
    def _absent_spec(raw, var_name):
        errors = validation._Errors()  # pylint: disable=protected-access
        if not isinstance(raw, dict):
            return None, ["%s: %r is not a mapping" % (var_name, raw)]
        name, namespace = raw.get("name"), raw.get("namespace", "default")
        validation.check_rfc1123_label(errors, var_name + ".name", name, "cluster name")
        validation.check_rfc1123_label(errors, var_name + ".namespace", namespace, "namespace")
        return {"name": name, "namespace": namespace, "var_name": var_name}, errors.messages

    def _check_cluster_dependent(self, res, spec, live):
        class_ns = spec.get("class_namespace") or spec["namespace"]
        available = self._cluster_classes(class_ns)
        errors = validation.check_against_class(spec, available.get(spec["class"]), available.keys())
        errors += validation.check_against_live(spec, live)
        secrets = dict((name, self.client.get(self.client.resource("v1", "Secret"), name, spec["namespace"]))
                       for name in validation.referenced_secrets(spec))
        errors += validation.check_references(spec, secrets)
        refs = cloud_refs.references(spec)
        if refs and not errors:
            cloud_name, cloud_entry = validation.identity_cloud(spec, secrets)
            cloud_errors, warnings = cloud_refs.check(refs, cloud_name, cloud_entry,
                                                      ca_pem=cloud_refs.identity_ca(secrets))
            errors += cloud_errors
            res.warnings += warnings
        if live is not None and (live.get("metadata") or {}).get("deletionTimestamp"):
            errors.append("%s.name: '%s' is being deleted on the management cluster; wait until it is gone "
                          "before creating it again" % (spec["var_name"], spec["name"]))
        return errors

    def _check_deletable(self, spec, live):
        if live is not None and topology.is_protected(live) and not self.force:
            return ["cluster %s/%s is protected (annotation %s=\"true\", set by %s.protected); not deleting it. "
                    "Set protected: false and apply, or pass force_delete_protected: true"
                    % (spec["namespace"], spec["name"], topology.PROTECTED_ANNOTATION, spec["var_name"])]
        return []

    # -- present ---------------------------------------------------------------------------

    def _namespace_exists(self, namespace):
        """Whether the namespace exists (read once per run, whatever the threads)."""
        with self._namespace_lock:
            if namespace not in self._namespaces:
                resource = self.client.resource("v1", "Namespace")
                self._namespaces[namespace] = self.client.get(resource, namespace) is not None
            return self._namespaces[namespace]

    def _create_namespace(self, namespace):
        with self._namespace_lock:
            if not self._namespaces.get(namespace):
                self.client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
                self._namespaces[namespace] = True

    def _plan(self, res, spec, live):
        """Server-side dry run where a write is needed; returns (desired, live, outcome) or None.

        A new Cluster in a namespace that does not exist yet cannot be dry-run: its plan has no
        outcome, and ``_apply`` creates the namespace first (after the batch passed its checks).
        """
        desired = topology.build_cluster(spec)
        namespace_exists = live is not None or self._namespace_exists(spec["namespace"])
        addon_plan, problems = self.addons.plan(spec, dry_run=namespace_exists)
        if problems:
            res.fail("%s.addons: %s; nothing written" % (res.var_name, "; ".join(problems)))
            return None
        res.warnings += addon_plan.warnings
        if not namespace_exists:
            if self.check_mode:
                res.changed, res.action = True, "create"
                res.summary = topology.summarize(desired)
                res.addons = self.addons.apply(addon_plan)
                if self.want_diff:
                    res.diff = {"before": {}, "after": self._with_addons(desired, res.addons["after"])}
                return None
            return desired, live, None, addon_plan
        try:
            outcome = kube_apply.reconcile(self.client, desired, live, check_mode=True,
                                           force_conflicts=self.force_conflicts)
        except kube_apply.ApplyConflict as exc:
            res.fail("%s/%s: another field manager owns what the inventory sets, nothing written: %s. Change it "
                     "back or remove that manager's value, or pass force_conflicts: true (role: "
                     "workload_cluster_force_conflicts) to take the fields over"
                     % (spec["namespace"], spec["name"], field_paths.describe_conflicts(spec, desired, exc.conflicts)))
            return None
        except KubeError as exc:
            if exc.status in (400, 403, 409, 422):
                explained = field_paths.explain(spec, desired, exc.message, (exc.details or {}).get("causes"))
                res.fail("the management cluster rejected %s/%s (server-side dry run, nothing written): %s"
                         % (spec["namespace"], spec["name"], explained))
                return None
            raise
        return desired, live, outcome, addon_plan

    @staticmethod
    def _with_addons(view, addons):
        """A diff view with the add-ons' summaries (no values) when there are any."""
        return dict(view, addons=addons) if addons else view

    def _apply(self, res, spec, plan):
        """Apply if needed; return the object to wait for, or None when done (or failed)."""
        desired, live, outcome, addon_plan = plan
        if outcome is None:
            self._create_namespace(spec["namespace"])
            outcome = kube_apply.reconcile(self.client, desired, live, force_conflicts=self.force_conflicts)
        elif outcome["changed"] and not self.check_mode:
            outcome = kube_apply.reconcile(self.client, desired, live, force_conflicts=self.force_conflicts,
                                           planned=outcome)
        res.addons = self.addons.apply(addon_plan)
        res.changed = outcome["changed"] or bool(res.addons["changed"] or res.addons["removed"])
        res.stale_fields = outcome["stale_fields"]
        res.action = ("create" if live is None else "update") if res.changed else "none"
        if self.want_diff:
            res.diff = {"before": self._with_addons(outcome["before"] if live is not None else {}, res.addons["before"]),
                        "after": self._with_addons(outcome["after"], res.addons["after"])}
        obj = outcome["object"]
        res.summary = topology.summarize(obj or desired)
        if self.check_mode or obj is None:
            return None
        return obj

    def _finish(self, res, spec, obj):
        """Write the kubeconfig as soon as its Secret exists (if asked), then wait (if asked)."""
        if self.kubeconfig_dir:
            self._write_kubeconfig(res, spec)
            if res.failed:
                return
        if self.wait and not spec.get("paused"):
            ok, obj, problems = kube_wait.wait_for(
                self.client, self.clusters, spec["name"], spec["namespace"],
                topology.convergence_problems, self.wait_timeout, initial=obj)
            res.problems = problems
            if not ok:
                res.summary = topology.summarize(obj) if obj else None
                res.fail("cluster %s/%s did not converge within %ss: %s" % (
                    spec["namespace"], spec["name"], self.wait_timeout,
                    "; ".join("%s=%s (%s) %s" % (p["type"], p["status"], p["reason"], p["message"]) for p in problems)))
                return
        else:
            res.problems = topology.convergence_problems(obj)
        res.summary = topology.summarize(obj)

    def _write_kubeconfig(self, res, spec):
        """Copy Secret <name>-kubeconfig to the kubeconfig directory (mode 0600, atomic rename).

        The Secret appears once the control plane endpoint is known, long before the Cluster
        converged, so this waits for the Secret only (also with ``wait: false``); a paused Cluster
        creates none, so it is not waited for. The content never reaches the result.
        """
        name, namespace = spec["name"], spec["namespace"]
        timeout = 0 if spec.get("paused") else self.wait_timeout
        secret = kube_wait.wait_present(self.client, self.client.resource("v1", "Secret"), "%s-kubeconfig" % name,
                                        namespace, lambda s: bool((s.get("data") or {}).get("value")), timeout)
        if secret is None:
            res.fail("Secret %s/%s-kubeconfig with the cluster's kubeconfig did not appear within %ss%s"
                     % (namespace, name, timeout, " (the cluster is paused)" if spec.get("paused") else ""))
            return
        content = base64.b64decode(secret["data"]["value"])
        path = kubeconfig_path(self.kubeconfig_dir, namespace, name)
        res.kubeconfig_path = path
        if _same_private_file(path, content):
            return
        if not os.path.isdir(self.kubeconfig_dir):
            os.makedirs(self.kubeconfig_dir, 0o700)
        try:
            files.write_atomic(path, content, 0o600)
        except files.UnsafeDestination as exc:
            res.fail("workload_cluster_kubeconfig_dir: %s" % exc)
            return
        res.changed = True

    # -- absent ----------------------------------------------------------------------------

    def _absent(self, res, spec, live):
        name, namespace = spec["name"], spec["namespace"]
        if live is None:
            res.summary = None
            self._remove_addons(res, spec)
            return
        if topology.is_protected(live) and not self.force:
            res.summary = topology.summarize(live)
            res.fail("cluster %s/%s is protected (annotation %s=\"true\", set by %s.protected); not deleting it. "
                     "Set protected: false and apply, or pass force_delete_protected: true"
                     % (namespace, name, topology.PROTECTED_ANNOTATION, spec["var_name"]))
            return
        res.changed = True
        res.action = "delete"
        if self.want_diff:
            res.diff = {"before": kube_apply.project(live, {"metadata": {"name": 1, "namespace": 1}, "spec": live.get("spec")}),
                        "after": {}}
        if self.check_mode:
            self.client.delete(self.clusters, name, namespace, dry_run=True)
            res.summary = topology.summarize(live)
            self._remove_addons(res, spec)
            return
        self.client.delete(self.clusters, name, namespace)
        if not self.wait:
            return
        deadline = time.monotonic() + self.wait_timeout
        gone, last = kube_wait.wait_gone(self.client, self.clusters, name, namespace, self.wait_timeout)
        if not gone:
            res.summary = topology.summarize(last)
            res.blockers = self._deletion_blockers(last, name, namespace)
            res.fail("cluster %s/%s was not deleted within %ss; blocked by: %s"
                     % (namespace, name, self.wait_timeout, "; ".join(res.blockers) or "unknown"))
            return
        left = []
        selector = "%s=%s" % (topology.CLUSTER_NAME_LABEL, name)
        for group, kind in OWNED_KINDS:
            try:
                resource = self.client.resource(group, kind)
                rest = kube_wait.wait_none_left(self.client, resource, namespace, selector,
                                                max(1, deadline - time.monotonic()))
            except KubeError as exc:
                if exc.status != 404:
                    raise
                continue  # kind not served (e.g. MachinePool without its feature gate)
            left += ["%s %s" % (kind, n) for n in rest]
        infra = (live.get("spec") or {}).get("infrastructureRef") or {}
        if infra.get("kind"):
            try:
                resource = self.client.resource(infra.get("apiGroup", ""), infra["kind"])
                ok, _obj = kube_wait.wait_gone(self.client, resource, infra["name"], namespace,
                                               max(1, deadline - time.monotonic()))
                if not ok:
                    left.append("%s %s" % (infra["kind"], infra["name"]))
            except KubeError as exc:
                if exc.status != 404:
                    raise
        ok, _obj = kube_wait.wait_gone(self.client, self.client.resource("v1", "Secret"), "%s-kubeconfig" % name,
                                       namespace, max(1, deadline - time.monotonic()))
        if not ok:
            left.append("Secret %s-kubeconfig" % name)
        if left:
            res.blockers = left
            res.fail("cluster %s/%s is gone but owned objects remain after %ss: %s"
                     % (namespace, name, self.wait_timeout, ", ".join(left)))
            return
        self._remove_addons(res, spec)

    def _remove_addons(self, res, spec):
        """Delete the cluster's HelmChartProxies once its Cluster is gone: removing them first would make
        CAAPH uninstall the cloud controller and CSI while the cluster still has load balancers and volumes."""
        removed = self.addons.remove(spec["namespace"], spec["name"])
        if removed:
            res.addons = {"enabled": [], "changed": [], "removed": removed}
            res.changed = True

    def _deletion_blockers(self, cluster, name, namespace):
        out = []
        meta = cluster.get("metadata") or {}
        if meta.get("finalizers"):
            out.append("Cluster finalizers %s" % ", ".join(meta["finalizers"]))
        deleting = topology.conditions_of(cluster).get("Deleting") or {}
        if deleting.get("message"):
            out.append("Deleting: %s" % deleting["message"].replace("\n", " "))
        selector = "%s=%s" % (topology.CLUSTER_NAME_LABEL, name)
        for group, kind in OWNED_KINDS:
            try:
                items = self.client.list(self.client.resource(group, kind), namespace, label_selector=selector).get("items", [])
            except KubeError:
                continue
            for item in items:
                imeta = item.get("metadata") or {}
                note = "%s %s" % (kind, imeta.get("name"))
                if imeta.get("finalizers"):
                    note += " (finalizers: %s)" % ", ".join(imeta["finalizers"])
                out.append(note)
        return out


def kubeconfig_path(directory, namespace, name):
    """Where the kubeconfig of Cluster namespace/name is written."""
    return os.path.join(directory, "%s-%s.kubeconfig" % (namespace, name))


def _same_private_file(path, content):
    try:
        with open(path, "rb") as handle:
            return handle.read() == content and (os.stat(path).st_mode & 0o777) == 0o600
    except (IOError, OSError):
        return False
