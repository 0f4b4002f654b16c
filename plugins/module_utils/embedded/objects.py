# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Install the embedded cluster's objects: namespaces, CRDs, webhook configurations, inventory.

The objects come from ``manifests.py`` for the providers of the registry's components and are
server-side applied through ``kube/client`` (field manager ``scs.kaas-embedded``).

Skipping unchanged objects without reading them: after each apply the object's uid, generation
and the digest of what was applied are recorded in ``<state_dir>/applied.json``. On the next
start one metadata-only LIST per kind (no multi-MB CRD bodies; ``resourceVersion=0``: no wait
for the watch cache of a just started API server) shows uid, generation and labels;
an object whose uid and generation are the recorded ones, whose labels still hold ours and
whose desired digest is unchanged is not sent. Anything else (a new etcd, a changed port or CA,
an edited spec, a missing record) is applied again.

CRDs are waited for by a watch on the CRD collection, from the oldest resourceVersion the
applies returned, until every applied CRD is Established.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.scs.kaas.plugins.module_utils.errors import EmbeddedError
from ansible_collections.scs.kaas.plugins.module_utils.files import write_atomic
from ansible_collections.scs.kaas.plugins.module_utils.kube.client import KubeError
from ansible_collections.scs.kaas.plugins.module_utils.embedded import manifests as _manifests

CRD_KIND = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
# Kinds an earlier start applied that are deleted once no running provider wants them (a provider
# switched off): its webhooks would refuse every request for its kinds, its inventory entry would
# claim it is installed. CRDs and namespaces stay: deleting them deletes the objects in them.
PRUNED_KINDS = {
    "MutatingWebhookConfiguration": "admissionregistration.k8s.io/v1",
    "ValidatingWebhookConfiguration": "admissionregistration.k8s.io/v1",
    "Provider": _manifests.CLUSTERCTL_API_VERSION,
}


def digest(obj):
    """Hash of an object as it is applied (key order does not matter)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def key(obj):
    meta = obj["metadata"]
    return "%s/%s/%s" % (obj["kind"], meta.get("namespace") or "", meta["name"])


def unchanged(desired, live_meta, record):
    """True when the live object (metadata only) is what we applied last and still wanted."""
    if not live_meta or not record:
        return False
    labels = live_meta.get("labels") or {}
    wanted = desired["metadata"].get("labels") or {}
    return (record.get("uid") == live_meta.get("uid")
            and record.get("generation") == live_meta.get("generation")
            and record.get("digest") == digest(desired)
            and all(labels.get(k) == v for k, v in wanted.items()))


def record_of(desired, applied):
    meta = applied.get("metadata") or {}
    return {"uid": meta.get("uid"), "generation": meta.get("generation"), "digest": digest(desired)}


def established(crd):
    conds = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conds)


def desired_objects(module_dirs, webhook_ports, webhook_ca_pem, components=None):
    """(namespaces + CRDs + webhook configurations, inventory, warnings) from the manifests of
    the providers installed when ``components`` (default: the default ones) run."""
    try:
        crds, warnings = _manifests.crds(module_dirs, webhook_ports, webhook_ca_pem, components)
        crds.append(_manifests.clusterctl_crd(module_dirs))
        webhooks = _manifests.webhook_configurations(module_dirs, webhook_ports, webhook_ca_pem, components)
        inventory = _manifests.inventory(module_dirs, components)
    except _manifests.ManifestError as exc:
        raise EmbeddedError("cannot build the embedded cluster's manifests: %s" % exc)
    return _manifests.namespaces(components) + crds + webhooks, inventory, warnings


class ObjectInstaller(object):
    """Applies what changed; ``records_path`` is the JSON file of the last applies."""

    def __init__(self, client, records_path, workers=8):
        self.client = client
        self.records_path = records_path
        self.workers = workers
        try:
            with open(records_path, "r") as handle:
                self.records = json.load(handle)
        except (IOError, OSError, ValueError):
            self.records = {}

    def live(self, objs):
        """Metadata of the live objects of the kinds in ``objs``, by :func:`key` (one LIST per kind,
        in parallel; a kind whose CRD is not installed yet has none)."""
        kinds = sorted(set((o["apiVersion"], o["kind"]) for o in objs))

        def listing(kind):
            resource = self.client.resource(*kind)
            try:
                items = self.client.list(resource, metadata_only=True, resource_version="0").get("items") or []
            except KubeError as exc:
                if exc.status == 404:  # the kind's CRD is not installed yet
                    return []
                raise
            return [(kind[1], i["metadata"]) for i in items]

        live = {}
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for items in pool.map(listing, kinds):
                for kind, meta in items:
                    live["%s/%s/%s" % (kind, meta.get("namespace") or "", meta["name"])] = meta
        return live

    def ensure(self, objs, live=None):
        """Apply every object of ``objs`` that is not :func:`unchanged` (``live``: a :meth:`live`
        read covering their kinds, else one is made); return the (desired, applied) pairs."""
        if not objs:
            return []
        live = self.live(objs) if live is None else live
        todo = [o for o in objs if not unchanged(o, live.get(key(o)), self.records.get(key(o)))]
        if not todo:
            return []
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            try:
                # The runtime installs these objects as clusterctl installs a provider: its
                # manifests win over whatever edited them since (a component needs its own CRDs).
                results = list(pool.map(lambda obj: self.client.apply(obj, force=True), todo))
            except KubeError as exc:
                raise EmbeddedError("server-side apply failed: %s" % exc)
        for obj, applied in zip(todo, results):
            self.records[key(obj)] = record_of(obj, applied)
        write_atomic(self.records_path, json.dumps(self.records, indent=1, sort_keys=True) + "\n", 0o600)
        return list(zip(todo, results))

    def prune(self, desired):
        """Delete what an earlier start applied of the ``PRUNED_KINDS`` and ``desired`` lacks;
        return the keys deleted."""
        wanted = set(key(o) for o in desired)
        gone = sorted(k for k in self.records if k.split("/", 1)[0] in PRUNED_KINDS and k not in wanted)
        for record_key in gone:
            kind, namespace, name = record_key.split("/", 2)
            try:
                self.client.delete(self.client.resource(PRUNED_KINDS[kind], kind), name, namespace or None)
            except KubeError as exc:
                raise EmbeddedError("cannot delete %s, which no running provider wants: %s" % (record_key, exc))
            del self.records[record_key]
        if gone:
            write_atomic(self.records_path, json.dumps(self.records, indent=1, sort_keys=True) + "\n", 0o600)
        return gone

    def wait_established(self, applied, timeout):
        """Watch until every CRD among the ``applied`` (desired, result) pairs is Established."""
        pending = set(r["metadata"]["name"] for o, r in applied
                      if (o["apiVersion"], o["kind"]) == CRD_KIND and not established(r))
        if not pending:
            return
        versions = [r["metadata"].get("resourceVersion") or "" for o, r in applied if r["metadata"]["name"] in pending]
        rv = min(versions, key=lambda v: int(v) if v.isdigit() else 0)
        resource = self.client.resource(*CRD_KIND)
        deadline = time.monotonic() + timeout
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EmbeddedError("timed out after %ds waiting for CRDs to be Established: %s"
                                    % (timeout, ", ".join(sorted(pending))))
            try:
                for event in self.client.watch(resource, resource_version=rv, timeout_seconds=remaining):
                    obj = event["object"] or {}
                    rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                    if event["type"] in ("ADDED", "MODIFIED") and established(obj):
                        pending.discard(obj["metadata"]["name"])
                    if not pending:
                        return
            except KubeError as exc:
                if exc.status not in (410, 0, 500, 504):
                    raise
                # Expired resourceVersion or dropped stream: one full read, then watch on.
                listing = self.client.list(resource)
                pending -= set(c["metadata"]["name"] for c in listing.get("items") or [] if established(c))
                rv = (listing.get("metadata") or {}).get("resourceVersion")
