# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""A docker-class cluster (1 control plane, 1 worker) created by Cluster API's development
provider (docker backend) on the node and load balancer images built here, against an engine the
collection starts, every image through the registry mirror."""

from __future__ import annotations

import base64
import json
import os
import time

import pytest
import yaml

import helpers
import real_nodes
import workload_helpers as wh

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.nodes import (
    cluster_images, cni_flannel, image_recipes, layered_build)

VERSION = pins.KUBERNETES_MANAGEMENT_VERSION
REGISTRY_PORT = 5052
# The development provider puts every node and load balancer on this network; it does not create it.
NETWORK = "kind"
POD_CIDR = "10.244.0.0/16"
MIRRORED = ("registry.k8s.io", "ghcr.io", "docker.io")
HOST = "real-1"
NAMESPACE = "default"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    yield from real_nodes.engine_fixture(tmp_path_factory)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    yield from real_nodes.node_registry_fixture(tmp_path_factory, REGISTRY_PORT)


@pytest.fixture(scope="module")
def images(engine, registry):
    built = real_nodes.cluster_images(engine, VERSION, "127.0.0.1:%d" % REGISTRY_PORT)
    load_balancer = engine.ensure_image(image_recipes.LOAD_BALANCER)["image"]
    web = cluster_images.mirror_reference(real_nodes.WEB_RECIPE, "127.0.0.1:%d" % REGISTRY_PORT)
    layered_build.ensure_layered_image(real_nodes.WEB_RECIPE, web, engine.ensure_image(image_recipes.NODE_BASE)["image"],
                                       real_nodes.DOCKER_CLI, engine.docker_host, helpers.runner())
    layered_build.ensure_pushed(web, web, real_nodes.DOCKER_CLI, engine.docker_host, helpers.runner(),
                                real_nodes.registry_head)
    return {"node_image": built["node_image"], "load_balancer": load_balancer}


@pytest.fixture(scope="module")
def gateway(engine):
    engine.docker("network", "create", NETWORK)
    return json.loads(engine.docker("network", "inspect", NETWORK).stdout)[0]["IPAM"]["Config"][0]["Gateway"]


@pytest.fixture(scope="module")
def capd_management_cluster(tmp_path_factory, embedded_build, engine, management_cluster):
    """An embedded management cluster whose development provider talks to our engine. The
    session cluster is stopped for that time (same fixed ports) and started again afterwards.

    CAPD gets the engine through the runtime's ``docker_host`` option."""
    management_cluster.stop()
    mc = helpers.ManagementCluster(str(tmp_path_factory.mktemp("embedded-capd")), embedded_build,
                                   docker_host=engine.docker_host)
    try:
        mc.start()
        capd = mc.cluster.processes.running("capd-manager")
        assert capd["docker_host"] == engine.docker_host
        with open("/proc/%d/environ" % capd["pid"], "rb") as handle:
            assert ("DOCKER_HOST=%s" % engine.docker_host).encode() in handle.read().split(b"\0")
        yield mc
    finally:
        mc.stop()
        left = mc.leftover_processes()
        management_cluster.start()
        assert not left, "processes left after stop: %r" % left


def _spec(images, gateway):
    repository_name, _sep, tag = images["load_balancer"].rpartition(":")
    mirror = "http://%s:%d" % (gateway, REGISTRY_PORT)
    return {
        "kubernetes_version": VERSION,
        "control_plane": {"replicas": 1},
        "node_groups": [{"name": "md-0", "replicas": 1}],
        "network": {"pods": [POD_CIDR], "services": ["10.96.0.0/16"]},
        "variables": {
            "image": {"name": images["node_image"]},
            "loadBalancerImage": {"repository": repository_name.rpartition("/haproxy")[0], "tag": tag},
            "registryMirrors": [{"registry": upstream, "endpoints": ["%s/v2/%s" % (mirror, upstream)],
                                 "overridePath": True} for upstream in MIRRORED],
            "etcdImageTag": pins.ETCD_VERSION.lstrip("v") + "-0",
            "cgroupV1": not os.path.exists("/sys/fs/cgroup/cgroup.controllers"),
        },
    }


def _snapshot(mc, engine):
    containers = engine.docker("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout.strip().splitlines()
    kcp = mc.kubectl_json("get", "kubeadmcontrolplane", "-n", NAMESPACE)
    machines = mc.kubectl_json("get", "devmachines", "-n", NAMESPACE)["items"]
    state = {"containers": containers,
             "kcp": [{c["type"]: c["status"] for c in k.get("status", {}).get("conditions", [])}
                     for k in kcp["items"]],
             "devmachines": {m["metadata"]["name"]: {c["type"]: "%s/%s" % (c["status"], c.get("reason"))
                                                     for c in m.get("status", {}).get("conditions", [])}
                             for m in machines}}
    return state


def test_docker_class_cluster_comes_up(capd_management_cluster, ansible_env, engine, registry, images, gateway,
                                       tmp_path_factory):
    mc = capd_management_cluster
    directory = tmp_path_factory.mktemp("inventory")
    inventory = wh.write_inventory(str(directory / "hosts.yml"), mc.kubeconfig, {HOST: _spec(images, gateway)},
                                   {"infrastructure": "docker", "namespace": NAMESPACE, "protected": False},
                                   group="docker")
    classes_playbook = str(directory / "classes.yml")
    with open(classes_playbook, "w") as handle:
        role_vars = {"cluster_classes_infrastructures": ["docker"], "cluster_classes_kubernetes_minors": ["1.36"]}
        yaml.safe_dump([{"name": "classes", "hosts": "localhost", "gather_facts": False,
                         "roles": [{"role": "scs.kaas.cluster_classes", "vars": role_vars}]}], handle)
    proc, _recap = wh.run_playbook(ansible_env, inventory, classes_playbook)
    assert proc.returncode == 0, proc.stdout[-5000:]
    begin = time.monotonic()
    # No wait: the Cluster becomes Available only when its Nodes are Ready, which needs the CNI
    # this test applies once the workload cluster's API answers.
    proc, _recap = wh.run_playbook(ansible_env, inventory, "clusters.yml", {"workload_cluster_wait": False})
    print("clusters.yml: rc %d after %.1fs\n%s" % (proc.returncode, time.monotonic() - begin, proc.stdout[-3000:]))
    assert proc.returncode == 0, proc.stdout[-5000:]
    last = None
    deadline = time.monotonic() + float(os.environ.get("CAPD_WAIT", "900"))
    while time.monotonic() < deadline:
        state = _snapshot(mc, engine)
        if state != last:
            print("%6.1fs %s" % (time.monotonic() - begin, json.dumps(state, indent=1)), flush=True)
            last = state
        if state["kcp"] and state["kcp"][0].get("Available") == "True" and len(state["devmachines"]) == 2 and all(
                m.get("BootstrapCompleted", "").startswith("True") for m in state["devmachines"].values()):
            break
        time.sleep(5)
    log = os.path.join(mc.state_dir, "logs", "capd-manager.log")
    with open(log, encoding="utf-8", errors="replace") as handle:
        lines = handle.read().splitlines()
    print("capd log (errors, last 40):\n" + "\n".join([l for l in lines if '"error"' in l or "rror" in l][-40:]))
    assert last["kcp"] and last["kcp"][0].get("Available") == "True", json.dumps(last, indent=1)
    # The workload cluster: the CNI and the test application come through the mirror.
    secret = mc.kubectl_json("get", "secret", "-n", NAMESPACE, "%s-kubeconfig" % HOST)
    kubeconfig = str(directory / "workload.kubeconfig")
    with open(kubeconfig, "wb") as handle:
        handle.write(base64.b64decode(secret["data"]["value"]))
    os.chmod(kubeconfig, 0o600)

    def workload(*args, input=None, check=True):
        return mc.kubectl("--kubeconfig", kubeconfig, *args, input=input, check=check)
    manifests = {"apiVersion": "v1", "kind": "List",
                 "items": cni_flannel.manifests(POD_CIDR, "ghcr.io/flannel-io/flannel:%s" % pins.FLANNEL_VERSION)}
    workload("apply", "-f", "-", input=json.dumps(manifests))
    ready_begin = time.monotonic()

    def nodes_ready():
        items = json.loads(workload("get", "nodes", "-o", "json").stdout)["items"]
        ready = {i["metadata"]["name"]: [c["status"] for c in i["status"]["conditions"] if c["type"] == "Ready"][0]
                 for i in items}
        return ready if len(ready) == 2 and set(ready.values()) == {"True"} else None
    ready = helpers.wait_for("both nodes Ready", nodes_ready, 300, 2)
    print("nodes Ready %.1fs after the CNI: %s" % (time.monotonic() - ready_begin, ready))
    machines = mc.kubectl_json("get", "machines", "-n", NAMESPACE)["items"]
    roles = {m["status"]["nodeRef"]["name"]: ("cp" if "cluster.x-k8s.io/control-plane" in m["metadata"]["labels"]
                                              else "worker") for m in machines}
    assert set(roles) == set(ready)
    control_plane = [n for n, r in roles.items() if r == "cp"][0]
    worker = [n for n, r in roles.items() if r == "worker"][0]
    workload("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                  "items": real_nodes.web_objects(worker, control_plane)}))

    def client_done():
        phase = workload("get", "pod", "test-client", "-o", "jsonpath={.status.phase}").stdout
        return phase if phase in ("Succeeded", "Failed") else None
    phase = helpers.wait_for("the client pod to finish", client_done, 300, 2)
    answer = workload("logs", "test-client").stdout.strip().splitlines()
    print("client %s; last lines %s" % (phase, answer[-3:]))
    assert phase == "Succeeded"
    server = json.loads(workload("get", "pods", "-l", "app=test-web", "-o", "json").stdout)["items"]
    assert [p["spec"]["nodeName"] for p in server] == [worker]
    assert answer[-1] == server[0]["metadata"]["name"]
    coredns = json.loads(workload("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o",
                                  "json").stdout)["items"]
    assert coredns and all(p["status"]["phase"] == "Running" for p in coredns)
    # The provider ran the images built here: the load balancer and both nodes.
    containers = engine.docker("ps", "--filter", "label=io.x-k8s.kind.cluster=%s" % HOST,
                               "--format", "{{.Names}} {{.Image}}").stdout.split("\n")
    by_name = dict(line.split() for line in containers if line.strip())
    assert by_name == {"%s-lb" % HOST: images["load_balancer"], control_plane: images["node_image"],
                       worker: images["node_image"]}
    # Nothing pre-loaded: each node pulled what it runs through the mirror.
    addresses = {}
    for item in json.loads(workload("get", "nodes", "-o", "json").stdout)["items"]:
        addresses[item["metadata"]["name"]] = [a["address"] for a in item["status"]["addresses"]
                                               if a["type"] == "InternalIP"][0]
    pulls = real_nodes.manifest_pulls(registry.access_log)
    print("pulls by node: %s" % json.dumps({k: sorted(v) for k, v in pulls.items()}, indent=1))
    everywhere = {"registry.k8s.io/pause", "registry.k8s.io/kube-proxy", "ghcr.io/flannel-io/flannel",
                  "docker.io/scs-kaas/test-web"}
    control_plane_only = {"registry.k8s.io/kube-apiserver", "registry.k8s.io/kube-controller-manager",
                          "registry.k8s.io/kube-scheduler", "registry.k8s.io/etcd"}
    assert everywhere | control_plane_only <= pulls.get(addresses[control_plane], set())
    assert everywhere <= pulls.get(addresses[worker], set())
    assert not control_plane_only & pulls.get(addresses[worker], set())
