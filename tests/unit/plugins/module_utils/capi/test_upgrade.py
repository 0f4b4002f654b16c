# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Unit tests of the version rules between the inventory and a live Cluster (no cluster)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.scs.kaas.plugins.module_utils import versions
from ansible_collections.scs.kaas.plugins.module_utils.capi import upgrade

PINNED = ("v1.34.4", "v1.35.4", "v1.36.5")


def _spec(version):
    return {"name": "demo-1", "namespace": "team-a", "var_name": "workload_cluster", "kubernetes_version": version}


def _live(version):
    return {"spec": {"topology": {"version": version}}}


@pytest.mark.parametrize("running, wanted", [
    ("v1.34.4", "v1.34.4"),   # unchanged
    ("v1.34.2", "v1.34.4"),   # patch forward
    ("v1.34.4", "v1.35.4"),   # one minor
])
def test_allowed_steps_give_no_error(running, wanted):
    assert upgrade.version_step_errors(_spec(wanted), _live(running)) == []


def test_no_live_cluster_or_no_version_is_no_step():
    assert upgrade.version_step_errors(_spec("v1.36.5"), None) == []
    assert upgrade.version_step_errors(_spec("v1.36.5"), {"spec": {}}) == []


@pytest.mark.parametrize("running, wanted, valid", [
    ("v1.35.4", "v1.34.4", "v1.35.4, v1.36.5"),
    ("v1.36.5", "v1.35.4", "v1.36.5"),
    ("v1.35.7", "v1.35.4", "v1.35.7, v1.36.5"),   # a patch down
])
def test_downgrade_names_variable_running_version_and_valid_values(running, wanted, valid):
    errors = upgrade.version_step_errors(_spec(wanted), _live(running))
    assert len(errors) == 1
    message = errors[0]
    assert message.startswith("workload_cluster.kubernetes_version: '%s' -> '%s' is a downgrade; "
                              "Kubernetes versions never go down (Cluster team-a/demo-1 runs %s)" % (running, wanted, running))
    assert "set workload_cluster.kubernetes_version to %s (keep it) or a newer version" % running in message
    assert message.endswith("valid: %s" % valid)


def test_several_minors_ahead_points_to_the_upgrade_playbook():
    errors = upgrade.version_step_errors(_spec("v1.36.5"), _live("v1.34.4"))
    assert len(errors) == 1
    assert errors[0].startswith("workload_cluster.kubernetes_version: 'v1.34.4' -> 'v1.36.5' skips 1 minor version(s)")
    assert "a 1.35.x version" in errors[0]
    assert errors[0].endswith("run playbooks/upgrade.yml, which walks Cluster team-a/demo-1 there one minor at a time")


def test_a_major_change_is_refused():
    errors = upgrade.version_step_errors(_spec("v1.35.4"), _live("v2.0.0"))
    assert len(errors) == 1 and "downgrade" in errors[0]


def test_a_live_version_that_does_not_parse_is_reported():
    errors = upgrade.version_step_errors(_spec("v1.35.4"), _live("latest"))
    assert len(errors) == 1 and "running on Cluster team-a/demo-1" in errors[0]


@pytest.mark.parametrize("current, expected", [
    ("v1.34.4", ["v1.34.4", "v1.35.4", "v1.36.5"]),
    ("v1.34.1", ["v1.34.1", "v1.34.4", "v1.35.4", "v1.36.5"]),
    ("v1.36.5", ["v1.36.5"]),
    ("v1.37.0", ["v1.37.0"]),
])
def test_valid_targets_are_the_running_version_and_newer_pins(current, expected):
    assert upgrade.valid_targets(current, PINNED) == expected


def test_minor_steps_downgrade_lists_valid_values():
    with pytest.raises(versions.VersionError) as exc:
        versions.minor_steps("v1.35.4", "v1.34.4", PINNED, "workload_cluster.kubernetes_version")
    assert str(exc.value).endswith("set workload_cluster.kubernetes_version to v1.35.4 or a newer version; "
                                   "valid: v1.35.4, v1.36.5")
