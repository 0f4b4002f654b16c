# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Install and remove shipped cluster class bundles on a management cluster.

``ensure_present(client, bundle, check_mode)``: every object of the bundle is read first; if
one exists with a different content hash (or is not one of ours) nothing is written and
``ClassConflict`` tells to bump the revision. Otherwise missing or drifted objects are applied
(templates before the ClusterClass) with ``kube.apply.reconcile``, which sends no mutating
request when the live object already holds what we set.

``ensure_absent(client, bundle, check_mode)``: refuses while any Cluster uses the class (naming
them), else deletes the ClusterClass, then its templates.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.capi import classes
from ansible_collections.scs.kaas.plugins.module_utils.kube import apply as kube_apply


class ClassConflict(Exception):
    """A live object differs from the shipped class, or the class is in use."""


def _key(obj):
    return "%s/%s" % (obj["kind"], obj["metadata"]["name"])


def _read(client, bundle):
    live = []
    for obj in bundle:
        resource = client.resource(obj["apiVersion"], obj["kind"])
        live.append(client.get(resource, obj["metadata"]["name"], obj["metadata"]["namespace"]))
    return live


_BUMP = "shipped classes are immutable - bump the revision (a new class name) instead of changing it"
_NOT_OURS = "refusing to delete an object that is not this class"


def check_conflicts(bundle, live_objects, state="present"):
    """Error messages for live objects whose content hash differs from the bundle's."""
    want = bundle[0]["metadata"]["annotations"][classes.ANNOTATION_HASH]
    errors = []
    for obj, live in zip(bundle, live_objects):
        if live is None:
            continue
        meta = live.get("metadata") or {}
        have = (meta.get("annotations") or {}).get(classes.ANNOTATION_HASH)
        if have != want:
            errors.append(
                "%s in namespace %s exists with content hash %s, but this collection ships %s for revision %s; %s"
                % (_key(obj), obj["metadata"]["namespace"], have or "(none: not installed by scs.kaas)", want,
                   obj["metadata"]["labels"][classes.LABEL_REVISION], _BUMP if state == "present" else _NOT_OURS))
    return errors


def preflight(client, bundle, state="present"):
    """Errors that stop ``state`` for this bundle, read without writing (for several bundles at once)."""
    if state == "absent":
        users = clusters_using(client, bundle[0]["metadata"]["name"], bundle[0]["metadata"]["namespace"])
        if users:
            return [_in_use(bundle, users)]
    if client.get(client.resource("v1", "Namespace"), bundle[0]["metadata"]["namespace"]) is None:
        return []
    return check_conflicts(bundle, _read(client, bundle), state)


def _in_use(bundle, users):
    return ("ClusterClass %s in namespace %s is used by Cluster(s) %s; classes in use are never deleted - move "
            "those clusters to another class or delete them first"
            % (bundle[0]["metadata"]["name"], bundle[0]["metadata"]["namespace"], ", ".join(users)))


def ensure_present(client, bundle, check_mode=False, diff=False):
    """Returns dict(changed, objects=[{kind, name, action}], diff={before, after})."""
    namespace = bundle[0]["metadata"]["namespace"]
    ns_resource = client.resource("v1", "Namespace")
    ns_missing = client.get(ns_resource, namespace) is None
    live_objects = [None] * len(bundle) if ns_missing else _read(client, bundle)
    errors = check_conflicts(bundle, live_objects)
    if errors:
        raise ClassConflict("; ".join(errors))
    result = {"changed": False, "objects": [], "diff": {"before": {}, "after": {}}}
    if ns_missing:
        result["changed"] = True
        result["objects"].append({"kind": "Namespace", "name": namespace, "action": "created"})
        if not check_mode:
            client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    # Templates first: the ClusterClass controller resolves its references when it sees the class.
    order = list(range(1, len(bundle))) + [0]
    for index in order:
        desired, live = bundle[index], live_objects[index]
        if ns_missing and check_mode:
            outcome = {"changed": True, "before": {}, "after": desired}
        else:
            outcome = kube_apply.reconcile(client, desired, live, check_mode=check_mode)
        action = "unchanged"
        if outcome["changed"]:
            action = "created" if live is None else "updated"
            result["changed"] = True
        result["objects"].append({"kind": desired["kind"], "name": desired["metadata"]["name"], "action": action})
        if diff and outcome["changed"]:
            result["diff"]["before"][_key(desired)] = outcome.get("before") or {}
            result["diff"]["after"][_key(desired)] = outcome.get("after") or {}
    return result


def clusters_using(client, name, namespace):
    """'<namespace>/<name>' of every Cluster whose topology uses the class."""
    resource = client.resource("cluster.x-k8s.io/v1beta2", "Cluster")
    users = []
    for cluster in client.list(resource).get("items", []):
        ref = ((cluster.get("spec") or {}).get("topology") or {}).get("classRef") or {}
        meta = cluster.get("metadata") or {}
        if ref.get("name") == name and (ref.get("namespace") or meta.get("namespace")) == namespace:
            users.append("%s/%s" % (meta.get("namespace"), meta.get("name")))
    return sorted(users)


def ensure_absent(client, bundle, check_mode=False, diff=False):
    users = clusters_using(client, bundle[0]["metadata"]["name"], bundle[0]["metadata"]["namespace"])
    if users:
        raise ClassConflict(_in_use(bundle, users))
    live_objects = _read(client, bundle)
    errors = check_conflicts(bundle, live_objects, "absent")
    if errors:
        raise ClassConflict("; ".join(errors))
    result = {"changed": False, "objects": [], "diff": {"before": {}, "after": {}}}
    for obj, live in zip(bundle, live_objects):
        action = "absent"
        if live is not None:
            action = "deleted"
            result["changed"] = True
            if diff:
                result["diff"]["before"][_key(obj)] = kube_apply.project(live, obj)
                result["diff"]["after"][_key(obj)] = {}
            if not check_mode:
                client.delete(client.resource(obj["apiVersion"], obj["kind"]), obj["metadata"]["name"],
                              obj["metadata"]["namespace"])
        result["objects"].append({"kind": obj["kind"], "name": obj["metadata"]["name"], "action": action})
    return result
