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
# The development provider puts every node and load balancer on this network; it does not create it
# (scs.kaas.docker_engine does, option networks).
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
    engine.product.ensure_networks([NETWORK])
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
            # Isolation by configuration: no upstream resolver for outside names.
            "corednsLocalOnly": True,
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


@pytest.fixture(scope="module")
def lab(capd_management_cluster, ansible_env, engine, registry, images, gateway, tmp_path_factory):
    """What the tests of this module share, in file order: each later test works on the cluster
    the first one created."""
    directory = tmp_path_factory.mktemp("inventory")
    return {"mc": capd_management_cluster, "env": ansible_env, "engine": engine, "registry": registry,
            "images": images, "gateway": gateway, "dir": directory, "timings": {},
            # What the engine holds before the cluster: the delete must come back to exactly this.
            "baseline": _engine_objects(engine)}


def _inventory(lab, workers):
    spec = dict(_spec(lab["images"], lab["gateway"]), node_groups=[{"name": "md-0", "replicas": workers}])
    return wh.write_inventory(str(lab["dir"] / "hosts.yml"), lab["mc"].kubeconfig, {HOST: spec},
                              {"infrastructure": "docker", "namespace": NAMESPACE, "protected": False},
                              group="docker")


def _engine_objects(engine):
    listed = {}
    for kind, args in (("containers", ("ps", "-a", "--format", "{{.Names}}")),
                       ("volumes", ("volume", "ls", "--format", "{{.Name}}")),
                       ("networks", ("network", "ls", "--format", "{{.Name}}"))):
        listed[kind] = sorted(engine.docker(*args).stdout.split())
    return listed


def _workload(lab, *args, input=None, check=True):
    return lab["mc"].kubectl("--kubeconfig", lab["kubeconfig"], *args, input=input, check=check)


def _nodes_ready(lab, count):
    items = json.loads(_workload(lab, "get", "nodes", "-o", "json").stdout)["items"]
    ready = {i["metadata"]["name"]: [c["status"] for c in i["status"]["conditions"] if c["type"] == "Ready"][0]
             for i in items}
    return ready if len(ready) == count and set(ready.values()) == {"True"} else None


def test_docker_class_cluster_comes_up(lab):
    mc, engine, registry, images, directory = lab["mc"], lab["engine"], lab["registry"], lab["images"], lab["dir"]
    ansible_env = lab["env"]
    inventory = _inventory(lab, 1)
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
    lab["kubeconfig"] = kubeconfig

    def workload(*args, input=None, check=True):
        return _workload(lab, *args, input=input, check=check)
    manifests = {"apiVersion": "v1", "kind": "List",
                 "items": cni_flannel.manifests(POD_CIDR, "ghcr.io/flannel-io/flannel:%s" % pins.FLANNEL_VERSION)}
    workload("apply", "-f", "-", input=json.dumps(manifests))
    ready_begin = time.monotonic()
    ready = helpers.wait_for("both nodes Ready", lambda: _nodes_ready(lab, 2), 300, 2)
    lab["timings"]["create"] = round(time.monotonic() - begin, 1)
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
    corefile = json.loads(workload("-n", "kube-system", "get", "configmap", "coredns", "-o", "json").stdout)
    print("Corefile:\n" + corefile["data"]["Corefile"])
    assert "kubernetes cluster.local" in corefile["data"]["Corefile"]
    assert "forward" not in corefile["data"]["Corefile"]
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


def test_a_second_run_waits_for_the_real_cluster_and_sends_no_write(lab):
    mc = lab["mc"]
    marker = mc.mark()
    started = time.monotonic()
    # With the wait on: the module's wait now rests on real Nodes, not the in-memory backend.
    proc, recap = wh.run_playbook(lab["env"], _inventory(lab, 1), "clusters.yml")
    lab["timings"]["no-op"] = round(time.monotonic() - started, 1)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert recap[HOST]["changed"] == 0, proc.stdout[-5000:]
    assert mc.writes(wh.OUR_AGENT, marker) == []


def _info(lab):
    playbook = str(lab["dir"] / "info.yml")
    capture = str(lab["dir"] / "info.json")
    with open(playbook, "w") as handle:
        yaml.safe_dump([{"name": "info", "hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "read", "register": "info",
             "scs.kaas.workload_cluster_info": {"kubeconfig": lab["mc"].kubeconfig, "namespace": NAMESPACE,
                                                "name": HOST}},
            {"name": "save", "ansible.builtin.copy": {"content": "{{ info | to_json }}", "dest": capture,
                                                      "mode": "0600"}}]}], handle)
    proc, _recap = wh.run_playbook(lab["env"], str(lab["dir"] / "hosts.yml"), playbook)
    assert proc.returncode == 0, proc.stdout[-4000:]
    with open(capture) as handle:
        return json.load(handle)["clusters"]


def test_clusterctl_the_nodes_and_workload_cluster_info_agree(lab):
    mc = lab["mc"]
    [info] = _info(lab)
    nodes = json.loads(_workload(lab, "get", "nodes", "-o", "json").stdout)["items"]
    machines = mc.kubectl_json("get", "machines", "-n", NAMESPACE)["items"]
    described = mc.clusterctl("describe", "cluster", HOST, "-n", NAMESPACE, "--grouping=false").stdout
    print(described)
    cluster_line = [line for line in described.splitlines() if line.startswith("Cluster ")]
    assert info["available"] is True and cluster_line and " True " in cluster_line[0], described
    assert info["kubernetes_version"] == VERSION
    kubelets = sorted(n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes)
    assert info["machines"]["versions"] == {VERSION: len(nodes)} and kubelets == [VERSION] * len(nodes)
    assert (info["machines"]["control_plane"], info["machines"]["workers"]) == (1, 1)
    node_roles = sorted("control-plane" if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"]
                        else "worker" for n in nodes)
    assert node_roles == ["control-plane", "worker"]
    # clusterctl lists every Machine (ungrouped), and each one's Node is a Node the cluster reports.
    for machine in machines:
        assert machine["metadata"]["name"] in described, described
    assert sorted(m["status"]["nodeRef"]["name"] for m in machines) == sorted(n["metadata"]["name"] for n in nodes)


def test_scale_workers_to_two(lab):
    mc, engine = lab["mc"], lab["engine"]
    before = {m["metadata"]["name"] for m in mc.kubectl_json("get", "machines", "-n", NAMESPACE)["items"]}
    started = time.monotonic()
    proc, recap = wh.run_playbook(lab["env"], _inventory(lab, 2), "clusters.yml")
    print("clusters.yml with 2 workers: %.1fs" % (time.monotonic() - started))
    assert proc.returncode == 0 and recap[HOST]["changed"] >= 1, proc.stdout[-5000:]
    ready = helpers.wait_for("three nodes Ready", lambda: _nodes_ready(lab, 3), 300, 2)
    lab["timings"]["scale"] = round(time.monotonic() - started, 1)
    machines = mc.kubectl_json("get", "machines", "-n", NAMESPACE)["items"]
    # The scale adds one Machine and replaces none.
    assert before < {m["metadata"]["name"] for m in machines} and len(machines) == 3
    [new] = [m for m in machines if m["metadata"]["name"] not in before]
    new_node = new["status"]["nodeRef"]["name"]
    assert new_node in ready
    node = json.loads(_workload(lab, "get", "node", new_node, "-o", "json").stdout)
    address = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"][0]
    pulls = real_nodes.manifest_pulls(lab["registry"].access_log).get(address, set())
    assert {"registry.k8s.io/pause", "registry.k8s.io/kube-proxy", "ghcr.io/flannel-io/flannel"} <= pulls, pulls
    assert engine.docker("inspect", "--format", "{{.Config.Image}}", new_node).stdout.strip() == lab["images"]["node_image"]


def test_delete_leaves_no_container_volume_or_network(lab):
    mc, engine = lab["mc"], lab["engine"]
    started = time.monotonic()
    proc, _recap = wh.run_playbook(lab["env"], _inventory(lab, 2), "delete.yml")
    lab["timings"]["delete"] = round(time.monotonic() - started, 1)
    print("timings (s): %s" % json.dumps(lab["timings"]))
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert mc.kubectl("get", "cluster", HOST, "-n", NAMESPACE, check=False).returncode != 0
    assert _engine_objects(engine) == lab["baseline"]
