# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""When the embedded cluster's objects are applied again (pure parts, no cluster)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.scs.kaas.plugins.module_utils.embedded import objects

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "clusters.cluster.x-k8s.io", "labels": {"cluster.x-k8s.io/provider": "cluster-api"}},
    "spec": {"group": "cluster.x-k8s.io", "conversion": {"strategy": "Webhook", "webhook": {
        "clientConfig": {"url": "https://127.0.0.1:16501/convert", "caBundle": "Q0E="}}}},
}
LIVE = {"uid": "u-1", "generation": 2, "resourceVersion": "77",
        "labels": {"cluster.x-k8s.io/provider": "cluster-api", "added-by-someone": "x"}}


def _record():
    return objects.record_of(CRD, {"metadata": {"uid": "u-1", "generation": 2}})


def test_digest_ignores_key_order_but_not_values():
    reordered = dict(reversed(list(CRD.items())))
    assert objects.digest(reordered) == objects.digest(CRD)
    moved = copy.deepcopy(CRD)
    moved["spec"]["conversion"]["webhook"]["clientConfig"]["url"] = "https://127.0.0.1:17001/convert"
    assert objects.digest(moved) != objects.digest(CRD)


def test_unchanged_only_when_uid_generation_labels_and_digest_agree():
    assert objects.unchanged(CRD, LIVE, _record())
    assert not objects.unchanged(CRD, None, _record())  # deleted
    assert not objects.unchanged(CRD, LIVE, None)  # never applied by us (or records lost)
    assert not objects.unchanged(CRD, dict(LIVE, uid="u-2"), _record())  # recreated (e.g. a new etcd)
    assert not objects.unchanged(CRD, dict(LIVE, generation=3), _record())  # spec edited by someone
    assert not objects.unchanged(CRD, dict(LIVE, labels={}), _record())  # our label removed
    new_ca = copy.deepcopy(CRD)
    new_ca["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"] = "TkVX"
    assert not objects.unchanged(new_ca, LIVE, _record())  # desired changed


def test_established():
    assert objects.established({"status": {"conditions": [{"type": "Established", "status": "True"}]}})
    assert not objects.established({"status": {"conditions": [{"type": "Established", "status": "False"}]}})
    assert not objects.established({})
