# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Reads from (and the few writes to) a management cluster for the provider lifecycle.

Uses the shared client (``kube/client.py``); every request carries its user agent.

``read_inventory(client) -> list``       clusterctl Provider objects (empty when the CRD is absent)
``server_version(client) -> str``        ``gitVersion`` of ``/version``
``check_version(git_version, minor_range) -> dict``
``check_permissions(client, checks) -> list``   SelfSubjectAccessReview per (verb, group, resource)
``controller_gates(client, entries, required) -> list``   feature gates of provider Deployments
``apply_gate_patches(client, findings, check_mode) -> list``
``apply_manifests(client, documents, check_mode) -> dict``  server-side apply with no-op detection
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.kube.client import KubeError, Resource
from ansible_collections.scs.kaas.plugins.module_utils.kube import apply as kube_apply
from ansible_collections.scs.kaas.plugins.module_utils.providers import catalog, decision

PROVIDER_RESOURCE = Resource("clusterctl.cluster.x-k8s.io", "v1alpha3", "Provider", "providers", True)
DEPLOYMENT_RESOURCE = Resource("apps", "v1", "Deployment", "deployments", True)

# What clusterctl init/upgrade/move need (cluster-scoped objects, CRDs, RBAC, webhooks, and
# reading/writing every CAPI object). Checked with SelfSubjectAccessReview before acting.
REQUIRED_PERMISSIONS = [
    ("create", "apiextensions.k8s.io", "customresourcedefinitions"),
    ("patch", "apiextensions.k8s.io", "customresourcedefinitions"),
    ("create", "", "namespaces"),
    ("create", "rbac.authorization.k8s.io", "clusterroles"),
    ("create", "rbac.authorization.k8s.io", "clusterrolebindings"),
    ("create", "admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("create", "admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("create", "apps", "deployments"),
    ("list", "clusterctl.cluster.x-k8s.io", "providers"),
    ("create", "clusterctl.cluster.x-k8s.io", "providers"),
    ("list", "cluster.x-k8s.io", "clusters"),
    ("create", "cluster.x-k8s.io", "clusters"),
    ("patch", "cluster.x-k8s.io", "clusters"),
    ("list", "", "secrets"),
    ("create", "", "secrets"),
]


def read_inventory(client):
    """All clusterctl Provider objects; [] when the Provider CRD is not installed."""
    try:
        return client.request("GET", PROVIDER_RESOURCE.path()).get("items") or []
    except KubeError as exc:
        if exc.status == 404:
            return []
        raise


def server_version(client):
    return client.request("GET", "/version").get("gitVersion")


def check_version(git_version, minor_range):
    """``{"version", "minor", "in_range", "range", "message"}`` for the management cluster."""
    lo, hi = [tuple(int(x) for x in m.split(".")) for m in minor_range]
    try:
        major, minor = [int(x) for x in str(git_version).lstrip("v").split(".")[:2]]
    except ValueError:
        return {"version": git_version, "minor": None, "in_range": False, "range": list(minor_range),
                "message": "cannot parse the server version %r" % (git_version,)}
    ok = lo <= (major, minor) <= hi
    return {
        "version": git_version,
        "minor": "%d.%d" % (major, minor),
        "in_range": ok,
        "range": list(minor_range),
        "message": "Kubernetes %s is %s the range %s..%s the pinned Cluster API supports for "
                   "management clusters" % (git_version, "inside" if ok else "OUTSIDE",
                                            minor_range[0], minor_range[1]),
    }


def check_permissions(client, checks=None):
    """SelfSubjectAccessReviews (not persisted by the API server, but POST requests)."""
    results = []
    for verb, group, resource in checks or REQUIRED_PERMISSIONS:
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource}},
        }
        out = client.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)
        status = out.get("status") or {}
        results.append({"verb": verb, "group": group, "resource": resource,
                        "allowed": bool(status.get("allowed")), "reason": status.get("reason", "")})
    return results


def controller_gates(client, keys, required=None):
    """For each provider Deployment that must carry a feature gate: its state and the patch.

    Returns a list of ``{"key", "namespace", "deployment", "found", "container", "args",
    "new_args"}``; ``new_args`` is None when nothing needs to change.
    """
    required = required if required is not None else catalog.REQUIRED_FEATURE_GATES
    per_key = {}
    for gate, owners in required.items():
        for key in owners:
            per_key.setdefault(key, {})[gate] = True
    findings = []
    for key in keys:
        if key not in per_key:
            continue
        entry = catalog.PROVIDERS[key]
        name, ns = entry["deployment"], entry["namespace"]
        obj = client.get(DEPLOYMENT_RESOURCE, name, ns)
        finding = {"key": key, "namespace": ns, "deployment": name, "found": obj is not None,
                   "gates": per_key[key], "container": None, "args": None, "new_args": None}
        if obj is not None:
            containers = obj["spec"]["template"]["spec"].get("containers") or []
            manager = next((c for c in containers if c.get("name") == "manager"),
                           containers[0] if containers else None)
            if manager is not None:
                finding["container"] = manager.get("name")
                finding["args"] = manager.get("args") or []
                finding["new_args"] = decision.gate_args(finding["args"], per_key[key])
        findings.append(finding)
    return findings


def apply_gate_patches(client, findings, check_mode=False):
    """Re-apply our controller flags: a strategic merge patch of the manager's args."""
    patched = []
    for finding in findings:
        if not finding["found"] or finding["new_args"] is None:
            continue
        if not check_mode:
            body = {"spec": {"template": {"spec": {"containers": [
                {"name": finding["container"], "args": finding["new_args"]}]}}}}
            client.request("PATCH", DEPLOYMENT_RESOURCE.path(finding["namespace"], finding["deployment"]),
                           body=body, content_type="application/strategic-merge-patch+json")
        patched.append("%s/%s" % (finding["namespace"], finding["deployment"]))
    return patched


def apply_manifests(client, documents, check_mode=False):
    """Server-side apply of plain manifests (ORC, cluster-stack operator); no write when converged."""
    changed = []
    order = {"Namespace": 0, "CustomResourceDefinition": 1}
    documents = sorted(documents, key=lambda d: order.get(d.get("kind"), 2))
    for doc in documents:
        resource = client.resource(doc["apiVersion"], doc["kind"])
        meta = doc["metadata"]
        live = client.get(resource, meta["name"], meta.get("namespace") if resource.namespaced else None)
        # A provider's manifests are installed whole, the way clusterctl installs them: they take
        # their fields back from whoever changed them since.
        result = kube_apply.reconcile(client, doc, live, check_mode=check_mode, force_conflicts=True)
        if result["changed"]:
            changed.append("%s/%s" % (doc["kind"], meta["name"]))
    return {"changed": bool(changed), "objects": changed}
