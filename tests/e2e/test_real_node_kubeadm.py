# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Real kubelets: the node image built here boots, kubeadm initializes a control plane on it and
joins a worker, and every image the nodes run comes through their registry mirror.

The nodes are started the way the development provider's docker backend starts them (privileged,
private cgroup namespace, systemd behind kind's entrypoint, /var a volume); kubeadm runs through
``docker exec`` as that provider runs it. Nothing is pre-loaded: the registry's access log shows
each node pulling kubeadm's images, the CNI and the test application.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest

import helpers
import real_nodes

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.nodes import (
    cluster_images, cni_flannel, image_recipes, layered_build)

VERSION = pins.KUBERNETES_MANAGEMENT_VERSION
REGISTRY_PORT = 5051
NETWORK = "scs-kaas-nodes"
POD_CIDR = "10.244.0.0/16"
MIRRORED = ("registry.k8s.io", "ghcr.io", "docker.io")
ADMIN = "/etc/kubernetes/admin.conf"


def _kubeadm_config(address):
    """What the docker class's KubeadmConfig carries on this host: the systemd cgroup driver
    (kind's node contract), failCgroupV1 false only on a cgroup v1 host, disk eviction off (the
    nodes share the host's disk), conntrack sizing left to the host (kube-proxy cannot set it in a
    container)."""
    cgroup_v1 = not os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    kubelet = {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
               "cgroupDriver": "systemd",
               "evictionHard": {"nodefs.available": "0%", "nodefs.inodesFree": "0%", "imagefs.available": "0%"}}
    if cgroup_v1:
        kubelet["failCgroupV1"] = False
    documents = [
        {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration",
         "nodeRegistration": {"criSocket": "unix:///run/containerd/containerd.sock"}},
        {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration", "kubernetesVersion": VERSION,
         "controlPlaneEndpoint": "%s:6443" % address,
         "networking": {"podSubnet": POD_CIDR, "serviceSubnet": "10.96.0.0/16"},
         "etcd": {"local": {"imageTag": pins.ETCD_VERSION.lstrip("v") + "-0"}}},
        kubelet,
        {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
         "conntrack": {"maxPerCore": 0}},
    ]
    return "\n---\n".join(json.dumps(d) for d in documents) + "\n"


class Node:
    def __init__(self, engine, name):
        self.engine, self.name = engine, name

    def sh(self, script, check=True, input=None, timeout=300):
        return self.engine.docker("exec", "-i", self.name, "sh", "-c", script, check=check, input=input,
                                  timeout=timeout)

    def kubectl(self, *args, check=True, input=None):
        return self.engine.docker(*(["exec", "-i", self.name, "kubectl", "--kubeconfig", ADMIN] + list(args)),
                                  check=check, input=input)

    def address(self):
        return self.engine.docker("inspect", "-f", "{{ (index .NetworkSettings.Networks \"%s\").IPAddress }}" % NETWORK,
                                  self.name).stdout.strip()


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    yield from real_nodes.engine_fixture(tmp_path_factory)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    yield from real_nodes.node_registry_fixture(tmp_path_factory, REGISTRY_PORT)


@pytest.fixture(scope="module")
def images(engine, registry):
    mirror = "127.0.0.1:%d" % REGISTRY_PORT
    first = real_nodes.cluster_images(engine, VERSION, mirror)
    print("cluster images, first run: %ss, built %d, pushed %d" % (
        first["seconds"], len(first["built"]), len(first["pushed"])))
    second = real_nodes.cluster_images(engine, VERSION, mirror, log=lambda message: None)
    print("cluster images, second run: %ss" % second["seconds"])
    web = cluster_images.mirror_reference(real_nodes.WEB_RECIPE, mirror)
    node_config = json.loads(engine.docker("image", "inspect", second["node_image"]).stdout)[0]["Config"]
    layered_build.ensure_layered_image(real_nodes.WEB_RECIPE, web, engine.ensure_image(image_recipes.NODE_BASE)["image"],
                                       real_nodes.DOCKER_CLI, engine.docker_host, helpers.runner())
    layered_build.ensure_pushed(web, web, real_nodes.DOCKER_CLI, engine.docker_host, helpers.runner(),
                                real_nodes.registry_head)
    return {"first": first, "second": second, "node_config": node_config}


@pytest.fixture(scope="module")
def network(engine):
    engine.docker("network", "create", NETWORK)
    gateway = json.loads(engine.docker("network", "inspect", NETWORK).stdout)[0]["IPAM"]["Config"][0]["Gateway"]
    return gateway


def _start_node(engine, image, gateway, role):
    """A node the way the docker backend starts one, with the registry mirror an operator sets."""
    name = "%s-%s" % (role, uuid.uuid4().hex[:6])
    engine.docker("run", "-d", "--name", name, "--hostname", name, "--privileged",
                  "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
                  "--tmpfs", "/tmp", "--tmpfs", "/run", "--volume", "/var", "--volume", "/lib/modules:/lib/modules:ro",
                  "--network", NETWORK, "--cgroupns", "private", image)
    node = Node(engine, name)
    helpers.wait_for("containerd in %s" % name,
                     lambda: node.sh("systemctl is-active containerd", check=False).stdout.strip() == "active", 120, 0.3)
    for upstream in MIRRORED:
        node.sh("mkdir -p /etc/containerd/certs.d/%s && cat > /etc/containerd/certs.d/%s/hosts.toml"
                % (upstream, upstream),
                input=cluster_images.mirror_hosts_toml(upstream, "http://%s:%d" % (gateway, REGISTRY_PORT)))
    return node


@pytest.fixture(scope="module")
def cluster(engine, images, network):
    timings = {}
    begin = time.monotonic()
    control_plane = _start_node(engine, images["second"]["node_image"], network, "cp")
    worker = _start_node(engine, images["second"]["node_image"], network, "worker")
    timings["boot"] = round(time.monotonic() - begin, 1)
    address = control_plane.address()
    control_plane.sh("cat > /kind/kubeadm.yaml", input=_kubeadm_config(address))
    begin = time.monotonic()
    init = control_plane.sh("kubeadm init --config /kind/kubeadm.yaml --skip-token-print "
                            "--ignore-preflight-errors=SystemVerification,FileContent--proc-sys-net-ipv4-ip_forward"
                            " 2>&1", check=False, timeout=600)
    timings["kubeadm init"] = round(time.monotonic() - begin, 1)
    assert init.returncode == 0, init.stdout[-3000:]
    manifests = {"apiVersion": "v1", "kind": "List",
                 "items": cni_flannel.manifests(POD_CIDR, "ghcr.io/flannel-io/flannel:%s" % pins.FLANNEL_VERSION)}
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(manifests))
    join = control_plane.sh("kubeadm token create --print-join-command").stdout.strip()
    begin = time.monotonic()
    joined = worker.sh(join + " --ignore-preflight-errors=SystemVerification,FileContent--proc-sys-net-ipv4-ip_forward"
                       " 2>&1", check=False, timeout=600)
    timings["kubeadm join"] = round(time.monotonic() - begin, 1)
    assert joined.returncode == 0, joined.stdout[-3000:]
    yield {"control_plane": control_plane, "worker": worker, "timings": timings}
    for node in (control_plane, worker):
        engine.docker("rm", "-f", "-v", node.name, check=False)


def _nodes_ready(node):
    listing = json.loads(node.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    ready = {item["metadata"]["name"]: [c["status"] for c in item["status"]["conditions"] if c["type"] == "Ready"][0]
             for item in listing}
    return ready if len(ready) == 2 and set(ready.values()) == {"True"} else None


def test_nodes_become_ready_with_the_kubelet_built_here(cluster, images):
    begin = time.monotonic()
    control_plane = cluster["control_plane"]
    ready = helpers.wait_for("both nodes Ready", lambda: _nodes_ready(control_plane), 300, 1)
    print("timings: %s, Ready %.1fs after the join" % (cluster["timings"], time.monotonic() - begin))
    nodes = json.loads(control_plane.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    for node in nodes:
        info = node["status"]["nodeInfo"]
        assert info["kubeletVersion"] == VERSION
        assert info["containerRuntimeVersion"] == "containerd://%s" % pins.CONTAINERD_VERSION.lstrip("v")
    assert set(ready) == {cluster["control_plane"].name, cluster["worker"].name}
    for node in (cluster["control_plane"], cluster["worker"]):
        # The node's own cgroup (private cgroup namespace): everything the node runs, pods included.
        usage = node.sh("cat /sys/fs/cgroup/memory/memory.usage_in_bytes 2>/dev/null"
                        " || cat /sys/fs/cgroup/memory.current").stdout.strip()
        print("memory of %s: %.0f MiB" % (node.name, int(usage) / 2 ** 20))
    # The second image run found everything under its content keys and in the registry.
    assert images["second"]["built"] == [] and images["second"]["pushed"] == []
    assert images["node_config"]["Entrypoint"] == ["/usr/local/bin/entrypoint", "/sbin/init"]
    assert images["node_config"]["StopSignal"] == "SIGRTMIN+3"


@pytest.fixture(scope="module")
def web(cluster):
    """The test application on the worker and a client pod on the control plane that asks it."""
    control_plane, worker = cluster["control_plane"], cluster["worker"]
    helpers.wait_for("both nodes Ready", lambda: _nodes_ready(control_plane), 300, 1)
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": real_nodes.web_objects(worker.name, control_plane.name)}))

    def client_done():
        phase = control_plane.kubectl("get", "pod", "test-client", "-o", "jsonpath={.status.phase}").stdout
        return phase if phase in ("Succeeded", "Failed") else None
    begin = time.monotonic()
    phase = helpers.wait_for("the client pod to finish", client_done, 300, 1)
    answer = control_plane.kubectl("logs", "test-client").stdout.strip().splitlines()
    print("client: %s after %.1fs; last lines %s" % (phase, time.monotonic() - begin, answer[-3:]))
    return {"phase": phase, "answer": answer}


def test_a_service_on_the_worker_answers_a_pod_on_the_control_plane(cluster, web):
    control_plane, worker = cluster["control_plane"], cluster["worker"]
    phase, answer = web["phase"], web["answer"]
    assert phase == "Succeeded"
    server = json.loads(control_plane.kubectl("get", "pods", "-l", "app=test-web", "-o", "json").stdout)["items"]
    assert [p["spec"]["nodeName"] for p in server] == [worker.name]
    assert answer[-1] == server[0]["metadata"]["name"], "the answer names the pod on the worker"
    coredns = json.loads(control_plane.kubectl("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns",
                                               "-o", "json").stdout)["items"]
    assert coredns and all(p["status"]["phase"] == "Running" for p in coredns)


def test_the_nodes_pulled_every_image_through_the_mirror(cluster, registry, web):
    control_plane, worker = cluster["control_plane"], cluster["worker"]
    pulls = real_nodes.manifest_pulls(registry.access_log)
    print("pulls by node: %s" % json.dumps({k: sorted(v) for k, v in pulls.items()}, indent=1))
    everywhere = {"registry.k8s.io/pause", "registry.k8s.io/kube-proxy", "ghcr.io/flannel-io/flannel"}
    control_plane_only = {"registry.k8s.io/kube-apiserver", "registry.k8s.io/kube-controller-manager",
                          "registry.k8s.io/kube-scheduler", "registry.k8s.io/etcd"}
    assert everywhere | control_plane_only <= pulls.get(control_plane.address(), set())
    assert everywhere <= pulls.get(worker.address(), set())
    assert not control_plane_only & pulls.get(worker.address(), set())
    # The application and its client each came to their node through the mirror, too.
    assert "docker.io/scs-kaas/test-web" in pulls[worker.address()]
    assert "docker.io/scs-kaas/test-web" in pulls[control_plane.address()]
