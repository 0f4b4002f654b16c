# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Server group plans (pure)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.openstack import server_groups

UID = "prod-1-0123456789"
POLICIES = {"control_plane": "anti-affinity", "workers": "soft-anti-affinity"}


def _group(role, policy, members=()):
    return {"id": role + "-id", "name": server_groups.group_name(UID, role), "policy": policy,
            "members": list(members)}


def test_nothing_yet_creates_both():
    assert server_groups.plan(UID, POLICIES, []) == ([("create", "control_plane", None),
                                                      ("create", "workers", None)], [])


def test_matching_groups_are_kept():
    existing = [_group("control_plane", "anti-affinity"), _group("workers", "soft-anti-affinity")]
    actions, errors = server_groups.plan(UID, POLICIES, existing)
    assert errors == [] and [a[0] for a in actions] == ["keep", "keep"]


def test_other_policy_is_replaced_when_empty_refused_when_used():
    existing = [_group("control_plane", "soft-anti-affinity"), _group("workers", "affinity", ["s1"])]
    actions, errors = server_groups.plan(UID, POLICIES, existing)
    assert actions == [("replace", "control_plane", existing[0])]
    assert errors == ["server group %s has policy affinity and 1 servers; Nova cannot change the policy of a "
                      "group in use (wanted soft-anti-affinity)" % server_groups.group_name(UID, "workers")]


def test_duplicates_are_refused():
    existing = [_group("workers", "soft-anti-affinity"), _group("workers", "soft-anti-affinity")]
    assert server_groups.plan(UID, POLICIES, existing)[1] == [
        "2 server groups are named %s-workers; delete all but one" % UID]


def test_names_are_per_cluster_uid():
    assert server_groups.group_name(UID, "control_plane") == UID + "-control-plane"
    assert set(v[1] for v in server_groups.ROLES.values()) == {"controlPlaneServerGroupID", "workerServerGroupID"}
