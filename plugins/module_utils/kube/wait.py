# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Watch-based waits (no sleep-polling).

``wait_for(client, resource, name, namespace, problems_of, timeout)`` watches one object until
``problems_of(obj)`` returns an empty list. ``problems_of`` decides what "ready" means; for
Clusters it is :func:`topology.convergence_problems`, which first requires
``status.observedGeneration`` to have caught up with ``metadata.generation``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.scs.kaas.plugins.module_utils.kube.client import KubeError


def _rv(obj):
    return ((obj or {}).get("metadata") or {}).get("resourceVersion")


def wait_for(client, resource, name, namespace, problems_of, timeout, initial=None):
    """Return (ok, obj, problems). obj is None when the object disappeared."""
    deadline = time.monotonic() + max(0, timeout)
    obj = initial if initial is not None else client.get(resource, name, namespace)
    if obj is None:
        return False, None, [{"type": "Exists", "status": "False", "reason": "NotFound",
                              "message": "%s %s/%s does not exist" % (resource.kind, namespace, name)}]
    problems = problems_of(obj)
    while problems:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            for event in client.watch(resource, namespace, name=name, resource_version=_rv(obj),
                                      timeout_seconds=min(remaining, 300)):
                etype, eobj = event["type"], event["object"]
                if etype == "BOOKMARK":
                    obj.setdefault("metadata", {})["resourceVersion"] = _rv(eobj)
                    continue
                if etype == "DELETED":
                    return False, None, [{"type": "Exists", "status": "False", "reason": "Deleted",
                                          "message": "%s %s/%s was deleted while waiting" % (resource.kind, namespace, name)}]
                obj = eobj
                problems = problems_of(obj)
                if not problems or time.monotonic() >= deadline:
                    break
        except KubeError as exc:
            if exc.status not in (410, 0, 500, 504):
                raise
            # expired resource version or dropped stream: re-read and resume watching
            fresh = client.get(resource, name, namespace)
            if fresh is None:
                return False, None, [{"type": "Exists", "status": "False", "reason": "Deleted",
                                      "message": "%s %s/%s disappeared" % (resource.kind, namespace, name)}]
            obj = fresh
            problems = problems_of(obj)
    return not problems, obj, problems


def wait_gone(client, resource, name, namespace, timeout):
    """Watch until the object is deleted; return (gone, last_seen_object)."""
    deadline = time.monotonic() + max(0, timeout)
    obj = client.get(resource, name, namespace)
    while obj is not None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False, obj
        try:
            for event in client.watch(resource, namespace, name=name, resource_version=_rv(obj),
                                      timeout_seconds=min(remaining, 300)):
                if event["type"] == "DELETED":
                    return True, None
                if event["type"] == "BOOKMARK":
                    obj.setdefault("metadata", {})["resourceVersion"] = _rv(event["object"])
                    continue
                obj = event["object"]
                if time.monotonic() >= deadline:
                    break
        except KubeError as exc:
            if exc.status not in (410, 0, 500, 504):
                raise
        obj = client.get(resource, name, namespace) if obj is not None else None
    return True, None


def wait_none_left(client, resource, namespace, label_selector, timeout):
    """Watch a labelled collection until it is empty; return the names still there."""
    deadline = time.monotonic() + max(0, timeout)
    listing = client.list(resource, namespace, label_selector=label_selector)
    names = {i["metadata"]["name"] for i in listing.get("items", [])}
    rv = (listing.get("metadata") or {}).get("resourceVersion")
    while names:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            for event in client.watch(resource, namespace, label_selector=label_selector,
                                      resource_version=rv, timeout_seconds=min(remaining, 300)):
                meta = (event["object"] or {}).get("metadata") or {}
                rv = meta.get("resourceVersion") or rv
                if event["type"] == "DELETED":
                    names.discard(meta.get("name"))
                elif event["type"] == "ADDED":
                    names.add(meta.get("name"))
                if not names or time.monotonic() >= deadline:
                    break
        except KubeError as exc:
            if exc.status not in (410, 0, 500, 504):
                raise
            listing = client.list(resource, namespace, label_selector=label_selector)
            names = {i["metadata"]["name"] for i in listing.get("items", [])}
            rv = (listing.get("metadata") or {}).get("resourceVersion")
    return sorted(names)


def wait_present(client, resource, name, namespace, ready, timeout):
    """Watch until the object exists and ``ready(obj)`` is true; return the object or None.

    Unlike :func:`wait_for`, a missing object is waited for (e.g. a Secret a controller creates).
    """
    deadline = time.monotonic() + max(0, timeout)
    while True:
        listing = client.list(resource, namespace, field_selector="metadata.name=%s" % name)
        found = [i for i in listing.get("items", []) if ready(i)]
        if found:
            return found[0]
        rv = (listing.get("metadata") or {}).get("resourceVersion")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            for event in client.watch(resource, namespace, name=name, resource_version=rv,
                                      timeout_seconds=min(remaining, 300)):
                if event["type"] in ("ADDED", "MODIFIED") and ready(event["object"] or {}):
                    return event["object"]
                if time.monotonic() >= deadline:
                    break
        except KubeError as exc:
            if exc.status not in (410, 0, 500, 504):
                raise
        if time.monotonic() >= deadline:
            return None
