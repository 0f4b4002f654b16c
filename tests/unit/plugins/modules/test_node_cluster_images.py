# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""scs.kaas.node_cluster_images in-process: every input is checked before anything is read or
built, and the result carries what a docker-class cluster on these images needs (building them
is for the e2e tests and `make demo-real-nodes`)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.capi import validation
from ansible_collections.scs.kaas.plugins.module_utils.nodes import cluster_images, layered_build, node_binaries
from ansible_collections.scs.kaas.plugins.modules import node_cluster_images

VERSION = pins.KUBERNETES_MANAGEMENT_VERSION
GOOD = {"version": VERSION, "docker_host": "unix:///nonexistent/docker.sock", "mirror": "127.0.0.1:5000",
        "source_dir": "/nonexistent/embedded"}


def run_module(capsys, **args):
    with patch_module_args(dict(GOOD, **args)):
        with pytest.raises(SystemExit) as exit_info:
            node_cluster_images.main()
    result = json.loads(capsys.readouterr().out)
    result["_rc"] = exit_info.value.code
    return result


def test_the_documented_versions_are_the_versions_node_binaries_are_built_for():
    documented = yaml.safe_load(node_cluster_images.DOCUMENTATION)["options"]["version"]["choices"]
    assert documented == list(pins.NODE_KUBERNETES_VERSIONS)


def test_a_version_without_node_binaries_fails_naming_the_valid_ones(capsys):
    result = run_module(capsys, version="v1.34.4")
    assert result["failed"] is True
    assert "version" in result["msg"] and "v1.34.4" in result["msg"]
    assert all(version in result["msg"] for version in pins.NODE_KUBERNETES_VERSIONS), result["msg"]


@pytest.mark.parametrize("option, value, start", [
    ("mirror", "172.18.0.1:5000", "mirror: '172.18.0.1:5000' is not a loopback address"),
    ("mirror", "registry.example.com:5000", "mirror: 'registry.example.com:5000' is not a loopback address"),
    ("mirror", "http://127.0.0.1:5000", "mirror: 'http://127.0.0.1:5000' is not a listen address"),
    ("pod_cidr", "10.244.0.1/16", "pod_cidr: '10.244.0.1/16' is not an IPv4 network"),
    ("pod_cidr", "fd00:10:244::/56", "pod_cidr: 'fd00:10:244::/56' is not an IPv4 network"),
    ("nodes_mirror_url", "172.18.0.1:5000", "nodes_mirror_url: '172.18.0.1:5000' is not a registry URL"),
    ("nodes_mirror_url", "http://172.18.0.1:5000/v2/registry.k8s.io",
     "nodes_mirror_url: 'http://172.18.0.1:5000/v2/registry.k8s.io' is not a registry URL"),
])
def test_a_bad_input_fails_naming_option_and_value_before_anything_is_read(capsys, option, value, start):
    # source_dir does not exist: the check comes before the binaries are looked for.
    result = run_module(capsys, **{option: value})
    assert result["failed"] is True
    assert result["msg"].startswith(start), result["msg"]
    assert "e.g." in result["msg"], "the message shows a valid value"


@pytest.mark.parametrize("mirror", ["127.0.0.1:5000", "127.0.0.2:5050", "localhost:5000", "[::1]:5000"])
def test_loopback_mirrors_pass(mirror):
    assert node_cluster_images.check_mirror(mirror) == mirror


def _outcome(mirror="127.0.0.1:5000"):
    """What layered_build reports for the images of VERSION: the real recipes, names only."""
    binaries = dict((name, "/cache/%s" % name) for name in node_binaries.records(VERSION))
    images = dict((cluster_images.upstream_reference(recipe), cluster_images.mirror_reference(recipe, mirror))
                  for recipe in layered_build.cluster_image_recipes(VERSION, binaries))
    return {"node_image": "scs-kaas/node:%s-0123456789abcdef" % VERSION, "images": images,
            "sboms": {"scs-kaas/node:%s-0123456789abcdef" % VERSION: "/cache/nodes/images/node.cdx.json"},
            "built": [], "pushed": sorted(images.values()), "changed": True, "seconds": 12.5}


def test_the_result_carries_what_a_docker_class_cluster_needs():
    outcome = _outcome()
    result = node_cluster_images.images_result(outcome, "10.244.0.0/16", "http://172.18.0.1:5000")
    for key in ("node_image", "images", "sboms", "built", "pushed", "changed", "seconds"):
        assert result[key] == outcome[key], key
    assert result["registries"] == ["ghcr.io", "registry.k8s.io"]
    assert result["etcd_image_tag"] == pins.ETCD_VERSION.lstrip("v") + "-0"
    assert result["cni_image"] == "ghcr.io/flannel-io/flannel:" + pins.FLANNEL_VERSION
    assert result["registry_mirrors"] == [
        {"registry": registry, "endpoints": ["http://172.18.0.1:5000/v2/" + registry], "overridePath": True,
         "mirrorOnly": True} for registry in ("ghcr.io", "registry.k8s.io")]
    # The CNI runs the image the nodes pull through the mirror, on the pod network asked for.
    kinds = [manifest["kind"] for manifest in result["cni_manifests"]]
    assert kinds[0] == "Namespace" and kinds[-1] == "DaemonSet"
    config = [m for m in result["cni_manifests"] if m["kind"] == "ConfigMap"][0]
    assert json.loads(config["data"]["net-conf.json"])["Network"] == "10.244.0.0/16"
    containers = result["cni_manifests"][-1]["spec"]["template"]["spec"]["containers"]
    assert {c["image"] for c in containers} == {result["cni_image"]}
    assert result["cni_image"] in outcome["images"]


def test_without_the_nodes_mirror_url_there_are_no_mirror_entries():
    result = node_cluster_images.images_result(_outcome(), "192.168.0.0/16")
    assert result["registry_mirrors"] == []
    assert result["registries"] == ["ghcr.io", "registry.k8s.io"]


def test_the_docker_class_takes_the_results_as_they_are():
    """The values the result names for class variables pass the class's own checks."""
    result = node_cluster_images.images_result(_outcome(), "10.244.0.0/16", "http://172.18.0.1:5000/")
    raw = {"name": "real-1", "infrastructure": "docker", "kubernetes_version": VERSION,
           "control_plane": {"replicas": 1}, "node_groups": [{"name": "md-0", "replicas": 1}],
           "network": {"pods": ["10.244.0.0/16"], "services": ["10.96.0.0/16"]},
           "variables": {"image": {"name": result["node_image"]}, "registryMirrors": result["registry_mirrors"],
                         "etcdImageTag": result["etcd_image_tag"]}}
    spec, errors = validation.normalize_spec(raw, "workload_cluster")
    assert errors == []
    assert spec["class"] == "scs-docker-%s-v3" % VERSION.lstrip("v").rsplit(".", 1)[0].replace(".", "-")
    assert result["registry_mirrors"][0]["endpoints"] == ["http://172.18.0.1:5000/v2/ghcr.io"]


def test_the_mirror_entries_point_where_the_images_were_pushed():
    """Each entry's path prefix is the one cluster_images.mirror_reference pushed under."""
    outcome = _outcome("127.0.0.1:5000")
    for entry in cluster_images.registry_mirrors_variable(sorted(outcome["images"]), "http://gw:5000"):
        prefix = entry["endpoints"][0][len("http://gw:5000/v2/"):]
        assert prefix == entry["registry"]
        assert any(target.startswith("127.0.0.1:5000/%s/" % prefix) for target in outcome["images"].values())


def test_binaries_that_cannot_be_found_fail_naming_make_binaries_and_build_nothing(capsys, tmp_path):
    # No wrapper modules where source_dir points: the binaries' keys cannot be computed, and the
    # module names the command that builds and fetches what they need instead of building.
    cache = tmp_path / "cache"
    result = run_module(capsys, cache_dir=str(cache))
    assert result["failed"] is True
    assert result["msg"].startswith("node binaries of %s: " % VERSION), result["msg"]
    assert "/nonexistent/embedded" in result["msg"] and "`make binaries`" in result["msg"]
    assert not cache.exists()
