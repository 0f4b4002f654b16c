# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Unit tests of the owned-field comparison behind write-free idempotence (pure functions)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.scs.kaas.plugins.module_utils.kube import apply
from ansible_collections.scs.kaas.plugins.module_utils.kube.client import KubeError

DESIRED = {
    "apiVersion": "cluster.x-k8s.io/v1beta2",
    "kind": "Cluster",
    "metadata": {"name": "c", "namespace": "default", "labels": {"a": "1"}},
    "spec": {
        "paused": False,
        "topology": {
            "version": "v1.34.4",
            "variables": [{"name": "certSANs", "value": ["x"]}],
            "workers": {"machineDeployments": [
                {"name": "md-0", "class": "default-worker", "replicas": 2,
                 "variables": {"overrides": [{"name": "nodeTaints", "value": [{"key": "k", "effect": "NoSchedule"}]}]}},
            ]},
        },
    },
}

# what the API server returns for it: defaults, fields of other managers, other list entries
LIVE = copy.deepcopy(DESIRED)
LIVE["metadata"].update({"resourceVersion": "7", "generation": 2, "labels": {"a": "1", "cluster.x-k8s.io/cluster-name": "c"},
                         "managedFields": [{
                             "manager": "scs.kaas", "operation": "Apply", "apiVersion": "cluster.x-k8s.io/v1beta2",
                             "fieldsType": "FieldsV1",
                             "fieldsV1": {
                                 "f:metadata": {"f:labels": {"f:a": {}}},
                                 "f:spec": {"f:paused": {}, "f:topology": {
                                     "f:version": {},
                                     "f:variables": {'k:{"name":"certSANs"}': {".": {}, "f:name": {}, "f:value": {}}},
                                     "f:workers": {"f:machineDeployments": {'k:{"name":"md-0"}': {
                                         ".": {}, "f:class": {}, "f:name": {}, "f:replicas": {},
                                         "f:variables": {"f:overrides": {'k:{"name":"nodeTaints"}': {
                                             ".": {}, "f:name": {}, "f:value": {}}}}}}}}},
                             }}]})
LIVE["spec"]["controlPlaneRef"] = {"apiGroup": "controlplane.cluster.x-k8s.io", "kind": "KubeadmControlPlane", "name": "c-x"}
LIVE["spec"]["topology"]["variables"].append({"name": "other", "value": 1})
LIVE["status"] = {"phase": "Provisioned"}


def test_live_object_with_extra_fields_matches():
    needed, stale = apply.needs_apply(DESIRED, LIVE)
    assert (needed, stale) == (False, [])


def test_changed_scalar_needs_apply():
    desired = copy.deepcopy(DESIRED)
    desired["spec"]["topology"]["workers"]["machineDeployments"][0]["replicas"] = 3
    assert apply.needs_apply(desired, LIVE)[0] is True


def test_atomic_list_inside_a_variable_value_is_compared_whole():
    live = copy.deepcopy(LIVE)
    live["spec"]["topology"]["workers"]["machineDeployments"][0]["variables"]["overrides"][0]["value"].append(
        {"key": "k2", "effect": "NoExecute"})
    assert apply.needs_apply(DESIRED, live)[0] is True


def test_bool_and_int_are_not_equal():
    live = copy.deepcopy(LIVE)
    live["spec"]["paused"] = 0
    assert apply.needs_apply(DESIRED, live)[0] is True


def test_dropped_field_we_owned_is_stale():
    desired = copy.deepcopy(DESIRED)
    del desired["spec"]["topology"]["variables"]
    del desired["metadata"]["labels"]["a"]
    needed, stale = apply.needs_apply(desired, LIVE)
    assert needed is True
    assert sorted(stale) == ["metadata.labels.a", "spec.topology.variables"]


def test_dropped_list_map_entry_we_owned_is_stale():
    desired = copy.deepcopy(DESIRED)
    desired["spec"]["topology"]["workers"]["machineDeployments"][0]["variables"]["overrides"] = [
        {"name": "nodeLabels", "value": {"a": "b"}}]
    stale = apply.stale_fields(apply.owned_fields(LIVE), desired)
    assert stale == ["spec.topology.workers.machineDeployments[name=md-0].variables.overrides[name=nodeTaints]"]


def test_fields_of_other_managers_are_not_stale():
    live = copy.deepcopy(LIVE)
    live["metadata"]["managedFields"].append({"manager": "capi-topology", "operation": "Apply",
                                              "fieldsV1": {"f:spec": {"f:controlPlaneRef": {}}}})
    assert apply.stale_fields(apply.owned_fields(live), DESIRED) == []


def test_new_object_needs_apply():
    assert apply.needs_apply(DESIRED, None) == (True, [])


def test_project_keeps_only_desired_paths():
    view = apply.project(LIVE, DESIRED)
    assert "status" not in view and "controlPlaneRef" not in view["spec"]
    assert view["spec"]["topology"]["variables"] == [{"name": "certSANs", "value": ["x"]}]


def test_strip_server_fields():
    stripped = apply.strip_server_fields(LIVE)
    assert "resourceVersion" not in stripped["metadata"] and "managedFields" not in stripped["metadata"]
    assert LIVE["metadata"]["resourceVersion"] == "7"


class _RecordingClient(object):
    """Counts apply calls; answers a dry run with the live object changed as the server would."""

    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def apply(self, obj, dry_run=False, force=False):
        self.calls.append(dry_run)
        return copy.deepcopy(self.answer)


def test_reconcile_sends_nothing_when_converged():
    client = _RecordingClient(LIVE)
    result = apply.reconcile(client, DESIRED, LIVE)
    assert result["changed"] is False and client.calls == []


def test_reconcile_dry_run_equal_to_live_means_no_write():
    desired = copy.deepcopy(DESIRED)
    desired["spec"]["topology"]["version"] = "1.34.4"   # a value the server would normalise
    client = _RecordingClient(LIVE)
    result = apply.reconcile(client, desired, LIVE)
    assert result["changed"] is False and client.calls == [True]


def _version_change():
    """(desired, the server's answer) for a new Kubernetes version of LIVE."""
    desired = copy.deepcopy(DESIRED)
    desired["spec"]["topology"]["version"] = "v1.35.4"
    answer = copy.deepcopy(LIVE)
    answer["spec"]["topology"]["version"] = "v1.35.4"
    return desired, answer


def test_reconcile_change_is_dry_run_then_one_write_and_check_mode_writes_nothing():
    desired, answer = _version_change()
    client = _RecordingClient(answer)
    result = apply.reconcile(client, desired, LIVE)
    assert result["changed"] is True and client.calls == [True, False]
    assert result["before"]["spec"]["topology"]["version"] == "v1.34.4"
    assert result["after"]["spec"]["topology"]["version"] == "v1.35.4"
    client = _RecordingClient(answer)
    assert apply.reconcile(client, desired, LIVE, check_mode=True)["changed"] is True
    assert client.calls == [True]


# The answer of a v1.36 API server to a server-side apply that meets another manager's field.
CONFLICT_DETAILS = {
    "name": "c", "group": "cluster.x-k8s.io", "kind": "clusters",
    "causes": [{"reason": "FieldManagerConflict", "message": 'conflict with "kubectl-edit" using cluster.x-k8s.io/v1beta2',
                "field": ".spec.topology.version"}],
}
CONFLICT_MESSAGE = ('Apply failed with 1 conflict: conflict with "kubectl-edit" using cluster.x-k8s.io/v1beta2: '
                    '.spec.topology.version')


class _ConflictingClient(_RecordingClient):
    """Refuses every apply that does not force, the way the API server answers a conflict."""

    def apply(self, obj, dry_run=False, force=False):
        self.calls.append((dry_run, force))
        if not force:
            raise KubeError(409, "Conflict", CONFLICT_MESSAGE, CONFLICT_DETAILS)
        return copy.deepcopy(self.answer)


def test_conflicts_are_read_from_the_causes_and_from_the_message_alone():
    expected = [{"manager": "kubectl-edit", "field": "spec.topology.version"}]
    assert apply.conflicts(KubeError(409, "Conflict", CONFLICT_MESSAGE, CONFLICT_DETAILS)) == expected
    assert apply.conflicts(KubeError(409, "Conflict", CONFLICT_MESSAGE)) == expected
    assert apply.conflicts(KubeError(409, "Conflict", 'Apply failed with 1 conflict: conflict with "a": .data.x')) == [
        {"manager": "a", "field": "data.x"}]
    assert apply.conflicts(KubeError(409, "AlreadyExists", "object exists")) == []
    assert apply.conflicts(KubeError(422, "Invalid", CONFLICT_MESSAGE)) == []


def test_reconcile_stops_at_a_conflict_before_any_write_unless_forced():
    desired, answer = _version_change()
    client = _ConflictingClient(answer)
    try:
        apply.reconcile(client, desired, LIVE)
    except apply.ApplyConflict as exc:
        assert exc.status == 409
        assert exc.conflicts == [{"manager": "kubectl-edit", "field": "spec.topology.version"}]
        assert 'Cluster default/c: field spec.topology.version is owned by field manager "kubectl-edit"' in str(exc)
        assert "nothing was written" in str(exc)
    else:
        raise AssertionError("a conflict must stop the apply")
    assert client.calls == [(True, False)]
    client = _ConflictingClient(answer)
    assert apply.reconcile(client, desired, LIVE, force_conflicts=True)["changed"] is True
    assert client.calls == [(True, True), (False, True)]
