# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Pure builders of the node image, kubeadm's images and the baseline CNI; the node's start hooks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.nodes import (
    addon_images, cluster_images, cni_flannel, layered_build)


@pytest.fixture
def kind_dir(tmp_path):
    root = tmp_path / "kind" / cluster_images.KIND_BASE_FILES
    for relative, text in (("usr/local/bin/entrypoint", "#!/bin/bash\n"), ("kind/bin/undo-mount-hacks.sh", "x"),
                           ("etc/containerd/config.toml", "kind's"), ("etc/sysctl.d/10-network-magic.conf", "y"),
                           ("etc/systemd/system/containerd-fuse-overlayfs.service", "z")):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path / "kind")


def test_kind_files_keep_the_contract_and_leave_out_what_the_node_replaces(kind_dir):
    files = cluster_images.kind_files(kind_dir)
    assert sorted(files) == ["/etc/sysctl.d/10-network-magic.conf", "/kind/bin/undo-mount-hacks.sh",
                             "/usr/local/bin/entrypoint"]
    assert files["/usr/local/bin/entrypoint"]["mode"] == 0o755
    assert files["/etc/sysctl.d/10-network-magic.conf"]["mode"] == 0o644


def test_node_recipe_places_the_runtime_and_kubernetes_binaries(binaries, kind_dir):
    recipe = cluster_images.node_recipe("v1.36.5", binaries, kind_dir, {"process": {}}, "registry.k8s.io/pause:9")
    files = recipe["files"]
    assert files["/usr/local/sbin/runc"]["source"] == binaries["runc"]
    assert files["/usr/bin/kubelet"]["source"] == binaries["kubelet"]
    assert files["/opt/cni/bin/bridge"]["source"] == binaries["bridge"]
    assert 'sandbox_image = "registry.k8s.io/pause:9"' in files["/etc/containerd/config.toml"]["content"]
    assert "kube-apiserver" not in json.dumps(files), "control plane binaries live in their images"
    assert recipe["changes"][0] == 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]'


def test_content_key_follows_the_binaries_content(binaries, kind_dir):
    recipe = cluster_images.node_recipe("v1.36.5", binaries, kind_dir, {}, "p")
    digest = layered_build.file_digest
    before = cluster_images.content_key(recipe, digest)
    assert cluster_images.content_key(recipe, digest) == before
    with open(binaries["kubelet"], "ab") as handle:
        handle.write(b"rebuilt")
    assert cluster_images.content_key(recipe, digest) != before


def test_cri_base_spec_adds_kinds_hook_and_drops_rlimits():
    default = {"process": {"rlimits": [{"type": "RLIMIT_NOFILE"}]}, "hooks": {}}
    spec = cluster_images.cri_base_spec(default)
    assert spec["hooks"]["createContainer"] == [{"path": "/kind/bin/mount-product-files.sh"}]
    assert "rlimits" not in spec["process"]
    assert default["process"]["rlimits"], "the input is left alone"


def test_component_images_carry_kubeadms_names(binaries):
    recipes = cluster_images.component_recipes("v1.36.5", binaries, "3.6.16-0", "3.10.2", "v1.14.2")
    names = [cluster_images.upstream_reference(r) for r in recipes]
    assert names == ["registry.k8s.io/kube-apiserver:v1.36.5", "registry.k8s.io/kube-controller-manager:v1.36.5",
                     "registry.k8s.io/kube-scheduler:v1.36.5", "registry.k8s.io/kube-proxy:v1.36.5",
                     "registry.k8s.io/etcd:3.6.16-0", "registry.k8s.io/pause:3.10.2",
                     "registry.k8s.io/coredns/coredns:v1.14.2"]
    assert cluster_images.mirror_reference(recipes[0], "10.0.0.1:5000") == \
        "10.0.0.1:5000/registry.k8s.io/kube-apiserver:v1.36.5"
    etcd = [r for r in recipes if r["name"] == "etcd"][0]
    assert etcd["files"]["/usr/local/bin/etcd"]["source"] == binaries["etcd-server"]


def test_the_addon_images_come_with_the_cluster_images_under_their_charts_names(binaries):
    recipes = layered_build.cluster_image_recipes("v1.36.5", binaries)
    [metrics] = [r for r in recipes if r["name"] == "metrics-server/metrics-server"]
    assert cluster_images.upstream_reference(metrics) == (
        "registry.k8s.io/metrics-server/metrics-server:" + pins.METRICS_SERVER_IMAGE_VERSION)
    # static, on nothing, as nobody: upstream's distroless image
    assert metrics["base"] is None and "USER 65534:65534" in metrics["changes"]
    assert metrics["files"] == {"/metrics-server": {"source": binaries["metrics-server"], "mode": 0o755}}
    assert set(addon_images.CHART_IMAGES) == {"metrics_server"}


def test_dockerfile_copies_every_file_by_its_context_name(binaries):
    recipe = cluster_images.component_recipes("v1.36.5", binaries, "e", "p")[0]
    names = cluster_images.context_names(recipe)
    text = cluster_images.dockerfile(recipe, "base:1", names)
    assert text.splitlines() == ["FROM base:1", "COPY f000 /usr/local/bin/kube-apiserver", "ENTRYPOINT []", "CMD []"]
    pause = cluster_images.component_recipes("v1.36.5", binaries, "e", "p")[5]
    assert cluster_images.dockerfile(pause, None, cluster_images.context_names(pause)).startswith("FROM scratch\n")


def test_capability_adaptation_switches_only_without_cap_sys_resource(tmp_path):
    config = tmp_path / "config.toml"
    script = cluster_images.CONTAINERD_CAPABILITY_ADAPTATION.replace("/etc/containerd/config.toml", str(config))
    for bounding, expected in (("000001ffffffffff", "false"), ("000001fffeffffff", "true")):
        status = tmp_path / "status"
        status.write_text("Name:\tx\nCapBnd:\t%s\n" % bounding)
        config.write_text("  restrict_oom_score_adj = false\n")
        subprocess.run(["sh", "-c", script.replace("/proc/self/status", str(status))], check=True)
        assert config.read_text() == "  restrict_oom_score_adj = %s\n" % expected


def test_served_digest_asks_the_registry_for_the_manifest():
    asked = []

    def get(url, headers):
        asked.append(url)
        return (200, {"Docker-Content-Digest": "sha256:abc"}) if "kube-proxy" in url else (404, {})
    assert layered_build.served_digest(get, "127.0.0.1:5051/registry.k8s.io/kube-proxy:v1.36.5") == "sha256:abc"
    assert asked == ["http://127.0.0.1:5051/v2/registry.k8s.io/kube-proxy/manifests/v1.36.5"]
    assert layered_build.served_digest(get, "127.0.0.1:5051/x/y:1") is None
    assert layered_build.served_digest(lambda url, headers: None, "h:1/x:1") is None


def test_flannel_manifests_carry_the_pod_cidr_and_the_image():
    objects = cni_flannel.manifests("10.244.0.0/16", "ghcr.io/flannel-io/flannel:v9")
    kinds = [o["kind"] for o in objects]
    assert kinds == ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet"]
    config = json.loads(objects[4]["data"]["net-conf.json"])
    assert config["Network"] == "10.244.0.0/16" and config["Backend"] == {"Type": "host-gw"}
    containers = objects[5]["spec"]["template"]["spec"]["containers"]
    assert {c["image"] for c in containers} == {"ghcr.io/flannel-io/flannel:v9"}


def test_flannel_cni_writer_renders_the_bridge_config_from_the_lease(tmp_path):
    subnet_env = tmp_path / "subnet.env"
    subnet_env.write_text("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\n"
                          "FLANNEL_IPMASQ=true\n")
    target = tmp_path / "10-flannel.conflist"
    script = cni_flannel.CNI_CONFIG_WRITER.replace(cni_flannel.CNI_CONFIG, str(target)) \
        .replace("/run/flannel/subnet.env", str(subnet_env)).replace("time.sleep(2)", "break")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    config = json.loads(target.read_text())
    bridge = config["plugins"][0]
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.244.3.0/24"}]]
    assert ipaddress.ip_network(bridge["ipam"]["ranges"][0][0]["subnet"]).prefixlen == 24
    assert bridge["mtu"] == 1450 and bridge["isDefaultGateway"] is True and bridge["ipMasq"] is False
    assert not os.path.exists(str(target) + ".tmp")


def test_the_kubelet_creates_its_cgroup_roots_before_every_start(binaries, kind_dir):
    files = cluster_images.node_recipe("v1.36.5", binaries, kind_dir, {}, "registry.k8s.io/pause:3.10.2")["files"]
    drop_in = files["/etc/systemd/system/kubelet.service.d/20-scs-kaas.conf"]
    assert "ExecStartPre=/kind/bin/scs-kaas-kubelet-cgroups-v1.sh" in drop_in["content"]
    script = files["/kind/bin/scs-kaas-kubelet-cgroups-v1.sh"]
    assert script["mode"] == 0o755 and script["content"] == cluster_images.KUBELET_CGROUP_V1_ROOTS


def test_the_script_creates_both_roots_in_every_mounted_controller(tmp_path):
    controllers = [tmp_path / name for name in ("hugetlb", "perf_event", "net_cls,net_prio", "cpuset")]
    for controller in controllers:
        controller.mkdir()
    (tmp_path / "cpuset" / "cpuset.cpus").write_text("0-1\n")
    (tmp_path / "cpuset" / "cpuset.mems").write_text("0\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # findmnt as the node would answer it, listing the controllers above.
    (bin_dir / "findmnt").write_text("#!/bin/sh\nprintf '%s\\n' " + " ".join("'%s'" % c for c in controllers) + "\n")
    (bin_dir / "findmnt").chmod(0o755)
    script = tmp_path / "roots.sh"
    script.write_text(cluster_images.KUBELET_CGROUP_V1_ROOTS)
    env = dict(os.environ, PATH="%s:%s" % (bin_dir, os.environ["PATH"]))
    subprocess.run(["sh", str(script), str(tmp_path)], env=env, check=True)
    for controller in controllers:
        assert {"kubelet", "kubelet.slice"} <= set(os.listdir(str(controller)))
    # cpuset: a child without cpus and mems would refuse every process (ENOSPC), as kind notes
    assert (tmp_path / "cpuset" / "kubelet.slice" / "cpuset.cpus").read_text() == "0-1\n"
    assert (tmp_path / "cpuset" / "kubelet" / "cpuset.mems").read_text() == "0\n"
    subprocess.run(["sh", str(script), str(tmp_path)], env=env, check=True)  # every start: existing roots are fine


def test_the_script_leaves_a_cgroup_v2_node_alone(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    script = tmp_path / "roots.sh"
    script.write_text(cluster_images.KUBELET_CGROUP_V1_ROOTS)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "findmnt").write_text("#!/bin/sh\ntouch '%s'\n" % (tmp_path / "asked"))
    (bin_dir / "findmnt").chmod(0o755)
    env = dict(os.environ, PATH="%s:%s" % (bin_dir, os.environ["PATH"]))
    subprocess.run(["sh", str(script), str(tmp_path)], env=env, check=True)
    assert not (tmp_path / "asked").exists()
