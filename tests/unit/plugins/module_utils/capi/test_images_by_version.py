# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""image.nameByVersion of the openstack classes (revision 2): schema, patch and validation (pure)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.capi import classes, validation

RAW = {"name": "prod-1", "infrastructure": "openstack", "kubernetes_version": "v1.35.4",
       "control_plane": {"replicas": 1}, "node_groups": [{"name": "md-0", "replicas": 1}],
       "variables": {"identityRef": {"name": "prod-1-cloud"},
                     "image": {"nameByVersion": {"v1.34.4": "node-1.34", "v1.35.4": "node-1.35"}}}}


def _image_variable(revision, minor="1.35"):
    cc = classes.class_bundle("openstack", minor, revision)[0]
    return [v for v in cc["spec"]["variables"] if v["name"] == "image"][0]["schema"]["openAPIV3Schema"]


def _image_patch(revision, minor="1.35"):
    cc = classes.class_bundle("openstack", minor, revision)[0]
    return [p for p in cc["spec"]["patches"] if p["name"] == "image"][0]


def test_revision_2_adds_name_by_version_and_keeps_exactly_one_form():
    schema = _image_variable(2)
    assert set(schema["properties"]) == {"name", "orcImageName", "id", "nameByVersion"}
    assert schema["minProperties"] == schema["maxProperties"] == 1
    by_version = schema["properties"]["nameByVersion"]
    assert by_version["type"] == "object" and by_version["minProperties"] == 1
    assert by_version["additionalProperties"]["type"] == "string"
    # revision 1 is shipped and stays as it was
    assert set(_image_variable(1)["properties"]) == {"name", "orcImageName", "id"}
    assert all("nameByVersion" not in d["jsonPatches"][0]["valueFrom"]["template"]
               for d in _image_patch(1)["definitions"])


def test_each_role_looks_its_image_up_with_its_own_version():
    """The control plane with the control plane's version, each MachineDeployment with its own, so
    an upgrade rolls each machine once, onto the image of the version it moves to."""
    by_selector = {}
    for definition in _image_patch(2)["definitions"]:
        selector = definition["selector"]
        role = "control plane" if selector["matchResources"].get("controlPlane") else "workers"
        by_selector[role] = definition["jsonPatches"][0]["valueFrom"]["template"]
    assert "index $img.nameByVersion .builtin.controlPlane.version" in by_selector["control plane"]
    assert "index $img.nameByVersion .builtin.machineDeployment.version" in by_selector["workers"]
    assert ".builtin.machineDeployment" not in by_selector["control plane"]
    assert ".builtin.controlPlane" not in by_selector["workers"]


def _errors(raw):
    spec, errors = validation.normalize_spec(raw, "workload_cluster")
    assert spec is not None
    return errors


def test_a_cluster_whose_version_has_an_image_passes():
    assert _errors(RAW) == []
    assert validation.normalize_spec(RAW)[0]["class"] == "scs-openstack-1-35-v2"


def test_a_version_without_an_image_is_refused_naming_the_variable_and_the_versions_it_has():
    raw = dict(copy.deepcopy(RAW), kubernetes_version="v1.36.5")
    assert _errors(raw) == [
        "workload_cluster.variables.image.nameByVersion: has no image for kubernetes_version v1.36.5 (it has "
        "images for v1.34.4, v1.35.4); add v1.36.5: <Glance image name> so the nodes of this version get their image"]


def test_node_group_level_name_by_version_is_checked_too():
    raw = copy.deepcopy(RAW)
    raw["node_groups"][0]["variables"] = {"image": {"nameByVersion": {"v1.34.4": "old"}}}
    (error,) = _errors(raw)
    assert error.startswith("workload_cluster.node_groups[0].variables.image.nameByVersion: has no image for "
                            "kubernetes_version v1.35.4 (it has images for v1.34.4)")


@pytest.mark.parametrize("key", ["1.35.4", "v1.35", "latest", "v1.35.4-rc.1"])
def test_keys_must_be_versions(key):
    raw = copy.deepcopy(RAW)
    raw["variables"]["image"]["nameByVersion"][key] = "x"
    assert _errors(raw) == ["workload_cluster.variables.image.nameByVersion: key %r is not a Kubernetes version; "
                            "use vX.Y.Z, e.g. v1.35.4" % key]


def test_revision_1_refuses_name_by_version():
    raw = dict(copy.deepcopy(RAW), class_revision=1)
    assert _errors(raw) == [
        "workload_cluster.variables.image.nameByVersion: class scs-openstack-1-35-v1 does not know it (revision 1); "
        "use revision 2 or later (drop class_revision, or class scs-openstack-1-35-v2)"]


def test_an_upgrade_step_is_checked_with_the_steps_version():
    """upgrade.yml passes each step's version as kubernetes_version: the same check refuses a step
    whose version has no image."""
    raw = dict(copy.deepcopy(RAW), kubernetes_version="v1.35.4")
    raw["variables"]["image"]["nameByVersion"] = {"v1.34.4": "node-1.34"}
    assert "has no image for kubernetes_version v1.35.4" in _errors(raw)[0]
