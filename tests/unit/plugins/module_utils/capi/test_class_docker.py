# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Revisions 2 and 3 of the docker classes: node and load balancer images, registry mirrors, cgroup v1,
the bootstrap timeout (pure; the patches are proven against Cluster API in the e2e tests)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.capi import classes, validation

NEW_VARIABLES = {"image", "loadBalancerImage", "registryMirrors", "etcdImageTag", "cgroupV1", "corednsLocalOnly",
                 "corednsImageTagByVersion"}


def _class(revision, minor="1.36"):
    return classes.class_bundle("docker", minor, revision)


def _by_kind(objects):
    return dict((o["kind"], o) for o in objects[1:] if o["kind"] not in ("DevMachineTemplate",))


def _patch(name, revision=2):
    return [p for p in _class(revision)[0]["spec"]["patches"] if p["name"] == name][0]


def test_revision_3_is_the_newest_and_older_revisions_keep_their_variables():
    assert classes.latest_revision("docker", "1.36") == 3
    assert classes.class_bundle("docker", "1.36")[0]["metadata"]["name"] == "scs-docker-1-36-v3"
    v1 = {v["name"] for v in _class(1)[0]["spec"]["variables"]}
    v2 = {v["name"] for v in _class(2)[0]["spec"]["variables"]}
    v3 = {v["name"] for v in _class(3)[0]["spec"]["variables"]}
    assert not NEW_VARIABLES & v1
    assert v2 - v1 == NEW_VARIABLES
    assert v3 - v2 == {"bootstrapTimeout"}


def _machine_templates(revision):
    return [o for o in _class(revision)[1:] if o["kind"] == "DevMachineTemplate"]


def test_revision_3_gives_every_machine_twenty_minutes_to_bootstrap_and_revision_2_the_providers_five():
    assert [t["spec"]["template"]["spec"]["backend"]["docker"]["bootstrapTimeout"] for t in _machine_templates(3)] == [
        "20m", "20m"]
    assert all("bootstrapTimeout" not in t["spec"]["template"]["spec"]["backend"]["docker"]
               for t in _machine_templates(2))


def test_the_bootstrap_timeout_variable_patches_both_machine_templates():
    patch = _patch("bootstrapTimeout", revision=3)
    assert patch["enabledIf"] == "{{ if .bootstrapTimeout }}true{{ end }}"
    roles = sorted(next(iter(d["selector"]["matchResources"])) for d in patch["definitions"])
    assert roles == ["controlPlane", "machineDeploymentClass"]
    for definition in patch["definitions"]:
        assert definition["selector"]["kind"] == "DevMachineTemplate"
        assert definition["jsonPatches"] == [{"op": "add", "path": "/spec/template/spec/backend/docker/bootstrapTimeout",
                                              "valueFrom": {"variable": "bootstrapTimeout"}}]
    [variable] = [v for v in _class(3)[0]["spec"]["variables"] if v["name"] == "bootstrapTimeout"]
    pattern = re.compile(variable["schema"]["openAPIV3Schema"]["pattern"])
    assert all(pattern.match(value) for value in ("20m", "1h", "1h30m", "90s", "2.5m"))
    assert not any(pattern.match(value) for value in ("", "20", "twenty minutes", "-5m", "20 m"))


def test_every_template_of_revision_2_is_named_after_it():
    objects = _class(2)
    refs = objects[0]["spec"]
    names = {o["metadata"]["name"] for o in objects[1:]}
    assert all(name.startswith("scs-docker-1-36-v2-") for name in names)
    assert refs["infrastructure"]["templateRef"]["name"] in names
    assert refs["controlPlane"]["templateRef"]["name"] in names


def test_ip_forwarding_is_turned_on_before_kubeadm_on_every_node():
    templates = _by_kind(_class(2))
    kcp = templates["KubeadmControlPlaneTemplate"]["spec"]["template"]["spec"]["kubeadmConfigSpec"]
    worker = templates["KubeadmConfigTemplate"]["spec"]["template"]["spec"]
    assert kcp["preKubeadmCommands"] == ["sysctl -w net.ipv4.ip_forward=1"]
    assert worker["preKubeadmCommands"] == ["sysctl -w net.ipv4.ip_forward=1"]
    old = _by_kind(_class(1))
    assert "preKubeadmCommands" not in old["KubeadmConfigTemplate"]["spec"]["template"]["spec"]


def test_each_role_takes_the_node_image_of_its_own_version():
    by_role = {}
    for definition in _patch("image")["definitions"]:
        operation = definition["jsonPatches"][0]
        assert definition["selector"]["kind"] == "DevMachineTemplate"
        assert operation["path"] == "/spec/template/spec/backend/docker/customImage"
        role = "cp" if definition["selector"]["matchResources"].get("controlPlane") else "workers"
        by_role[role] = operation["valueFrom"]["template"]
    assert "index .image.nameByVersion .builtin.controlPlane.version" in by_role["cp"]
    assert "index .image.nameByVersion .builtin.machineDeployment.version" in by_role["workers"]
    assert ".builtin.machineDeployment" not in by_role["cp"]


def test_load_balancer_image_goes_to_the_dev_cluster_template():
    definition = _patch("loadBalancerImage")["definitions"][0]
    assert definition["selector"]["kind"] == "DevClusterTemplate"
    operation = definition["jsonPatches"][0]
    assert operation["path"] == "/spec/template/spec/backend/docker/loadBalancer"
    assert "imageRepository: {{ .loadBalancerImage.repository | toJson }}" in operation["valueFrom"]["template"]
    assert "imageTag: {{ .loadBalancerImage.tag | toJson }}" in operation["valueFrom"]["template"]


def test_etcd_image_tag_goes_to_the_cluster_configuration():
    definition = _patch("etcdImageTag")["definitions"][0]
    assert definition["selector"]["kind"] == "KubeadmControlPlaneTemplate"
    operation = definition["jsonPatches"][0]
    assert operation["path"] == "/spec/template/spec/kubeadmConfigSpec/clusterConfiguration/etcd"
    assert operation["valueFrom"]["template"] == "local:\n  imageTag: {{ .etcdImageTag | toJson }}\n"


def test_cgroup_v1_sets_the_kubelet_flag_on_every_node_only_when_asked():
    patch = _patch("cgroupV1")
    assert patch["enabledIf"] == "{{ if .cgroupV1 }}true{{ end }}"
    paths = sorted(op["path"] for d in patch["definitions"] for op in d["jsonPatches"])
    assert paths == [
        "/spec/template/spec/joinConfiguration/nodeRegistration/kubeletExtraArgs/-",
        "/spec/template/spec/kubeadmConfigSpec/initConfiguration/nodeRegistration/kubeletExtraArgs/-",
        "/spec/template/spec/kubeadmConfigSpec/joinConfiguration/nodeRegistration/kubeletExtraArgs/-",
    ]
    assert all(op["valueFrom"]["template"] == 'name: fail-cgroupv1\nvalue: "false"\n'
               for d in patch["definitions"] for op in d["jsonPatches"])


def test_coredns_local_only_edits_the_corefile_on_control_planes_only_when_asked():
    patch = _patch("corednsLocalOnly")
    assert patch["enabledIf"] == "{{ if .corednsLocalOnly }}true{{ end }}"
    [definition] = patch["definitions"]
    assert definition["selector"]["kind"] == "KubeadmControlPlaneTemplate"
    [operation] = definition["jsonPatches"]
    assert operation["path"] == "/spec/template/spec/kubeadmConfigSpec/postKubeadmCommands"
    # Revision 2 has no other post-kubeadm command this patch could replace.
    kcpt = _by_kind(_class(2))["KubeadmControlPlaneTemplate"]
    assert "postKubeadmCommands" not in kcpt["spec"]["template"]["spec"]["kubeadmConfigSpec"]
    [command] = operation["value"]
    assert "get configmap coredns" in command and command.endswith("replace -f -")


def test_coredns_image_tag_follows_the_control_plane_version_only_when_asked():
    patch = _patch("corednsImageTagByVersion")
    assert patch["enabledIf"] == "{{ if .corednsImageTagByVersion }}true{{ end }}"
    [definition] = patch["definitions"]
    assert definition["selector"]["kind"] == "KubeadmControlPlaneTemplate"
    [operation] = definition["jsonPatches"]
    assert operation["path"] == "/spec/template/spec/kubeadmConfigSpec/clusterConfiguration/dns"
    template = operation["valueFrom"]["template"]
    # The control plane's own version picks the tag: it changes in the same write as the version.
    assert "index .corednsImageTagByVersion .builtin.controlPlane.version" in template
    assert ".builtin.machineDeployment" not in template
    # A version the map lacks renders an empty dns (the provider keeps the running CoreDNS).
    assert "{{- else }}{}" in template


def test_registry_mirrors_write_hosts_toml_on_every_node():
    patch = _patch("registryMirrors")
    assert sorted(d["selector"]["kind"] for d in patch["definitions"]) == [
        "KubeadmConfigTemplate", "KubeadmControlPlaneTemplate"]
    template = patch["definitions"][0]["jsonPatches"][0]["valueFrom"]["template"]
    assert '/etc/containerd/certs.d/%s/hosts.toml' in template
    assert "override_path = true" in template
    # mirrorOnly: the last endpoint is the root server (no fallback to https://<registry>).
    assert "{{- if .mirrorOnly }}{{ $hosts = initial .endpoints }}{{ $server = last .endpoints }}" in template
    schema = [v for v in _class(2)[0]["spec"]["variables"] if v["name"] == "registryMirrors"][0]
    item = schema["schema"]["openAPIV3Schema"]["items"]
    assert item["properties"]["overridePath"]["type"] == "boolean"
    assert item["properties"]["mirrorOnly"]["type"] == "boolean"


RAW = {"name": "real-1", "infrastructure": "docker", "kubernetes_version": "v1.36.5",
       "control_plane": {"replicas": 1}, "node_groups": [{"name": "md-0", "replicas": 1}]}


@pytest.mark.parametrize("variables, message", [
    ({"image": {"nameByVersion": {"v1.35.4": "scs-kaas/node:v1.35.4-x"}}},
     "workload_cluster.variables.image.nameByVersion: has no image for kubernetes_version v1.36.5"),
    ({"registryMirrors": [{"registry": "docker.io", "endpoints": ["http://"]}]},
     "workload_cluster.variables.registryMirrors[0].endpoints[0]"),
])
def test_docker_variables_are_checked_before_any_write(variables, message):
    raw = dict(RAW, variables=variables)
    _spec, errors = validation.normalize_spec(raw, "workload_cluster")
    assert any(message in error for error in errors), errors


def test_a_complete_docker_spec_passes():
    raw = dict(RAW, variables={"image": {"nameByVersion": {"v1.36.5": "scs-kaas/node:v1.36.5-abc"}},
                               "loadBalancerImage": {"repository": "scs-kaas", "tag": "bookworm-abc"},
                               "registryMirrors": [{"registry": "registry.k8s.io", "overridePath": True,
                                                    "endpoints": ["http://172.18.0.1:5000/v2/registry.k8s.io"]}],
                               "cgroupV1": True, "corednsImageTagByVersion": {"v1.36.5": "v1.14.2"}})
    spec, errors = validation.normalize_spec(raw, "workload_cluster")
    assert errors == []
    assert spec["class"] == "scs-docker-1-36-v3"
