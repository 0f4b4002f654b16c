# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The server groups of a workload cluster: ``<cluster uid>-control-plane`` and
``<cluster uid>-workers``, whose IDs go to the class variables ``controlPlaneServerGroupID`` and
``workerServerGroupID``. Nova cannot change a group's policy: a group with another policy is
replaced while it has no members, and refused otherwise."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.openstack import cloud

POLICIES = ("anti-affinity", "soft-anti-affinity", "affinity", "soft-affinity")
# role -> (name suffix, class variable)
ROLES = {"control_plane": ("control-plane", "controlPlaneServerGroupID"),
         "workers": ("workers", "workerServerGroupID")}


def group_name(uid, role):
    return "%s-%s" % (uid, ROLES[role][0])


def group_view(group):
    policy = getattr(group, "policy", None) or (list(getattr(group, "policies", None) or []) or [None])[0]
    return {"id": group.id, "name": group.name, "policy": policy,
            "members": list(getattr(group, "member_ids", None) or [])}


def plan(uid, policies, existing):
    """(actions, errors) to reach one group per role with its policy; ``existing``: group views of
    the project. Actions: (``create`` | ``replace`` | ``keep``, role, view or None)."""
    actions, errors = [], []
    for role in sorted(ROLES):
        name = group_name(uid, role)
        found = [g for g in existing if g["name"] == name]
        if len(found) > 1:
            errors.append("%d server groups are named %s; delete all but one" % (len(found), name))
        elif not found:
            actions.append(("create", role, None))
        elif found[0]["policy"] == policies[role]:
            actions.append(("keep", role, found[0]))
        elif found[0]["members"]:
            errors.append("server group %s has policy %s and %d servers; Nova cannot change the policy of a group "
                          "in use (wanted %s)" % (name, found[0]["policy"], len(found[0]["members"]), policies[role]))
        else:
            actions.append(("replace", role, found[0]))
    return actions, errors


def cluster_groups(conn, uid):
    names = set(group_name(uid, role) for role in ROLES)
    return [group_view(g) for g in conn.compute.server_groups() if g.name in names]


def create(conn, uid, role, policy):
    return group_view(conn.compute.create_server_group(name=group_name(uid, role), policy=policy))


def delete(conn, group_id):
    try:
        conn.compute.delete_server_group(group_id, ignore_missing=False)
    except Exception as exc:  # pylint: disable=broad-except
        if cloud.is_not_found(exc):
            return False
        raise
    return True
