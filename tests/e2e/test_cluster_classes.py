# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Shipped cluster classes against the real embedded management cluster.

- the newest revision of every class (each infrastructure, each minor) is installed by the role, admitted by the
  ClusterClass webhook and reconciled by the ClusterClass controller (VariablesReady,
  RefVersionsUpToDate); re-running the role sends zero writes;
- a Cluster of the in-memory class with every common variable becomes Available and CAPI
  renders the variables into the KubeadmControlPlane and the worker KubeadmConfigTemplate;
- a Cluster of the openstack class with inventory-like values for every variable makes CAPI
  render OpenStackCluster, KubeadmControlPlane, MachineDeployment and machine templates carrying
  them (no CAPO controller runs here and nothing stands in for it: the OpenStackCluster stays
  unprovisioned; CAPO against real services is test_openstack_clusters.py);
- a changed class under the same name is refused (bump the revision), a second revision is
  installed beside the first, and a class in use is not deleted (module and webhook).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import helpers

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.capi import class_apply
from ansible_collections.scs.kaas.plugins.module_utils.capi import class_dev
from ansible_collections.scs.kaas.plugins.module_utils.capi import classes
from ansible_collections.scs.kaas.plugins.module_utils.kube import client as kube_client

NAMESPACE = "e2e-classes"
OUR_AGENT = "scs.kaas/"
MINORS = classes.shipped_minors()
VERSIONS = {v.lstrip("v").rsplit(".", 1)[0]: v for v in pins.WORKLOAD_KUBERNETES_VERSIONS}

PEM = ("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ0FfdGVzdF9vbmx5X25vdF9hX3JlYWxfY2VydDAKBggq\n"
       "-----END CERTIFICATE-----\n")


# -- helpers --------------------------------------------------------------------------------------

def run_module(env, args, check=False, diff=False, expect_failure=False):
    """Run scs.kaas.cluster_class once (ad hoc); return the module result."""
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-i", "localhost,",
           "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
           "-m", "scs.kaas.cluster_class", "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, env=dict(env, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal"),
                          capture_output=True, text=True, timeout=300, check=False)
    # minimal callback: any diff first, then "localhost | STATUS => {json over several lines}"
    start = proc.stdout.rfind("localhost | ")
    if start < 0 or " => " not in proc.stdout[start:]:
        pytest.fail("ansible run failed (rc %s): %s\n%s" % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    status, body = proc.stdout[start + len("localhost | "):].split(" => ", 1)
    result = json.loads(body)
    result["_failed"] = status.startswith("FAILED")
    result["_stdout"] = proc.stdout
    assert result["_failed"] == expect_failure, proc.stdout[-3000:]
    return result


def run_role(env, tmp_path, **role_vars):
    playbook = tmp_path / "classes.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles:\n    - role: scs.kaas.cluster_classes\n"
        "      vars: %s\n" % json.dumps(role_vars))
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", "ansible_python_interpreter=%s" % sys.executable, str(playbook)],
        env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost")][-1]
    return proc.stdout, recap


def resource_of(obj):
    """kubectl resource name of an object: <kind>.<group>."""
    return "%s.%s" % (obj["kind"].lower(), obj["apiVersion"].split("/", maxsplit=1)[0])


def get(mc, kind, name, namespace=NAMESPACE):
    proc = mc.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def list_for_cluster(mc, kind, cluster):
    return mc.kubectl_json("get", kind, "-n", NAMESPACE, "-l", "cluster.x-k8s.io/cluster-name=%s" % cluster,
                           "-o", "json")["items"]


def wait_items(mc, kind, cluster, what, timeout=120, count=1):
    items = []

    def check():
        items[:] = list_for_cluster(mc, kind, cluster)
        return len(items) >= count
    helpers.wait_for(what, check, timeout)
    return items


def args_of(items):
    return {a["name"]: a["value"] for a in items or []}


def apply_cluster(mc, cluster):
    mc.kubectl("apply", "-f", "-", input=json.dumps(cluster))


def delete_cluster(mc, name):
    mc.kubectl("delete", "cluster.cluster.x-k8s.io", name, "-n", NAMESPACE, "--wait=false", check=False)
    helpers.wait_for("cluster %s deleted" % name,
                     lambda: get(mc, "cluster.cluster.x-k8s.io", name) is None, 240)


def topology_cluster(name, class_name, version, variables, worker_variables=None, replicas=1):
    worker = {"class": "default-worker", "name": "md-0", "replicas": replicas}
    if worker_variables:
        worker["variables"] = {"overrides": [{"name": k, "value": v} for k, v in worker_variables.items()]}
    cluster = {
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Cluster",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]},
                               "services": {"cidrBlocks": ["10.128.0.0/12"]}},
            "topology": {
                "classRef": {"name": class_name},
                "version": version,
                "controlPlane": {"replicas": 1},
                "workers": {"machineDeployments": [worker]},
            },
        },
    }
    if variables:
        cluster["spec"]["topology"]["variables"] = [{"name": k, "value": v} for k, v in variables.items()]
    return cluster


@pytest.fixture(scope="module")
def installed(management_cluster, ansible_env, tmp_path_factory):
    """Every shipped class installed by the role; returns the first run's output and timings."""
    tmp = tmp_path_factory.mktemp("classes")
    start = time.monotonic()
    out, recap = run_role(ansible_env, tmp, cluster_classes_infrastructures=list(classes.INFRASTRUCTURES),
                          cluster_classes_namespace=NAMESPACE,
                          cluster_classes_kubeconfig=management_cluster.kubeconfig)
    return {"recap": recap, "seconds": time.monotonic() - start, "tmp": tmp}


# -- tests ---------------------------------------------------------------------------------------

def test_role_installs_every_class_admitted_and_reconciled(management_cluster, installed, ansible_env):
    mc = management_cluster
    assert "failed=0" in installed["recap"] and "changed=1" in installed["recap"], installed["recap"]
    # The role installs the newest revision of each (infrastructure, minor); older ones stay only
    # where they are already installed and in use.
    newest = [entry for entry in classes.available_classes()
              if entry["revision"] == classes.latest_revision(entry["infrastructure"], entry["minor"])]
    print("role: installed %d classes in %.1fs" % (len(newest), installed["seconds"]))
    for entry in newest:
        name = entry["name"]
        bundle = classes.class_bundle(entry["infrastructure"], entry["minor"], entry["revision"], NAMESPACE)
        for obj in bundle:
            live = get(mc, resource_of(obj), obj["metadata"]["name"])
            assert live, "%s %s missing" % (obj["kind"], obj["metadata"]["name"])
            assert live["metadata"]["annotations"][classes.ANNOTATION_HASH] == \
                bundle[0]["metadata"]["annotations"][classes.ANNOTATION_HASH]
        state = {}

        def reconciled():
            cc = get(mc, "clusterclass.cluster.x-k8s.io", name)
            state["cc"] = cc
            status = cc.get("status") or {}
            ok = status.get("observedGeneration") == cc["metadata"]["generation"]
            for ctype in ("VariablesReady", "RefVersionsUpToDate"):
                cond = helpers.condition(cc, ctype)
                ok = ok and cond is not None and cond.get("status") == "True"
            return ok
        helpers.wait_for("ClusterClass %s reconciled" % name, reconciled, 120,
                         on_timeout=lambda: json.dumps(state.get("cc", {}).get("status"), indent=1))
        status_vars = {v["name"] for v in state["cc"]["status"]["variables"]}
        assert status_vars == {v["name"] for v in bundle[0]["spec"]["variables"]}

    # A second run of the whole role: nothing to do, and not one mutating request.
    marker = mc.mark()
    start = time.monotonic()
    _out, recap = run_role(ansible_env, installed["tmp"], cluster_classes_infrastructures=list(classes.INFRASTRUCTURES),
                           cluster_classes_namespace=NAMESPACE, cluster_classes_kubeconfig=mc.kubeconfig)
    print("role: second run %.1fs" % (time.monotonic() - start))
    assert "changed=0" in recap and "failed=0" in recap, recap
    assert mc.count_writes(OUR_AGENT, since=marker) == 0, mc.writes(OUR_AGENT, since=marker)


def test_module_check_mode_and_diff_write_nothing(management_cluster, ansible_env):
    mc = management_cluster
    marker = mc.mark()
    result = run_module(ansible_env, {"kubeconfig": mc.kubeconfig, "infrastructure": "inmemory",
                                      "kubernetes_minor": MINORS[0], "namespace": "e2e-classes-check"},
                        check=True, diff=True)
    assert result["changed"] is True
    assert {o["action"] for o in result["objects"]} == {"created"}
    assert "ClusterClass/%s" % result["class_name"] in result["_stdout"]  # the diff
    assert mc.count_writes(OUR_AGENT, since=marker) == 0
    assert mc.kubectl("get", "namespace", "e2e-classes-check", check=False).returncode != 0

    # installed class, check mode: unchanged
    result = run_module(ansible_env, {"kubeconfig": mc.kubeconfig, "infrastructure": "openstack",
                                      "kubernetes_minor": MINORS[-1], "namespace": NAMESPACE}, check=True, diff=True)
    assert result["changed"] is False and {o["action"] for o in result["objects"]} == {"unchanged"}
    assert mc.count_writes(OUR_AGENT, since=marker) == 0


def test_inmemory_class_renders_common_variables_and_cluster_becomes_available(management_cluster, installed):
    mc = management_cluster
    minor = MINORS[0]
    name = "cc-inmemory"
    variables = {
        "certSANs": ["api.example.com", "192.0.2.10"],
        "oidc": {"issuerURL": "https://issuer.example.com", "clientID": "kubernetes",
                 "usernameClaim": "email", "groupsClaim": "groups", "groupsPrefix": "oidc:"},
        "nodeLabels": {"tier": "general"},
        "nodeTaints": [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}],
    }
    start = time.monotonic()
    apply_cluster(mc, topology_cluster(name, classes.class_name("inmemory", minor, 1), VERSIONS[minor], variables,
                                       worker_variables={"nodeLabels": {"pool": "md-0", "tier": "batch"}}))
    try:
        kcp = wait_items(mc, "kubeadmcontrolplane", name, "KubeadmControlPlane of %s" % name)[0]
        spec = kcp["spec"]["kubeadmConfigSpec"]
        api = spec["clusterConfiguration"]["apiServer"]
        assert api["certSANs"] == ["localhost", "127.0.0.1", "api.example.com", "192.0.2.10"]
        assert args_of(api["extraArgs"]) == {"oidc-issuer-url": "https://issuer.example.com",
                                             "oidc-client-id": "kubernetes", "oidc-username-claim": "email",
                                             "oidc-groups-claim": "groups", "oidc-groups-prefix": "oidc:"}
        for section in ("initConfiguration", "joinConfiguration"):
            assert args_of(spec[section]["nodeRegistration"]["kubeletExtraArgs"])["node-labels"] == "tier=general"

        md = wait_items(mc, "machinedeployment", name, "MachineDeployment of %s" % name, timeout=240)[0]
        ref = md["spec"]["template"]["spec"]["bootstrap"]["configRef"]
        kct = get(mc, "kubeadmconfigtemplate.bootstrap.cluster.x-k8s.io", ref["name"])
        reg = kct["spec"]["template"]["spec"]["joinConfiguration"]["nodeRegistration"]
        assert args_of(reg["kubeletExtraArgs"])["node-labels"] == "pool=md-0,tier=batch"  # node group override
        assert reg["taints"] == [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]

        state = {}

        def available():
            state["cluster"] = get(mc, "cluster.cluster.x-k8s.io", name)
            cond = helpers.condition(state["cluster"], "Available")
            return cond is not None and cond.get("status") == "True"
        helpers.wait_for("cluster %s Available" % name, available, 300,
                         on_timeout=lambda: json.dumps(state["cluster"].get("status"), indent=1))
        print("in-memory cluster of %s Available after %.1fs" % (classes.class_name("inmemory", minor, 1),
                                                                 time.monotonic() - start))
    finally:
        delete_cluster(mc, name)


def test_openstack_class_renders_every_variable(management_cluster, installed):
    """CAPI renders the openstack class with every variable set.

    No CAPO controller runs here. The topology controller creates the MachineDeployments only
    after the control plane has a Machine, and KCP creates one only when the infrastructure
    cluster is provisioned, so this test stands in for CAPO at exactly one point: it marks the
    rendered OpenStackCluster ready with an API endpoint (what CAPO reports after creating
    network and load balancer). Everything asserted below is rendered by Cluster API.
    """
    mc = management_cluster
    minor = MINORS[1]
    name = "cc-openstack"
    class_name = classes.class_name("openstack", minor, classes.latest_revision("openstack", minor))
    rule = {"name": "node-exporter", "description": "metrics", "direction": "ingress", "etherType": "IPv4",
            "protocol": "tcp", "portRangeMin": 9100, "portRangeMax": 9100, "remoteManagedGroups": ["controlplane"]}
    variables = {
        "identityRef": {"name": "cc-openstack-cloud", "cloudName": "prod"},
        "controlPlaneFlavor": "SCS-4V-8-50s",
        "workerFlavor": "SCS-8V-16",
        "controlPlaneRootVolume": {"sizeGiB": 50, "type": "ssd"},
        "workerRootVolume": {"sizeGiB": 100},
        "image": {"orcImageName": "ubuntu-2404-kube"},
        "externalNetworkName": "public",
        "nodeCIDR": "10.20.0.0/20",
        "dnsNameservers": ["9.9.9.9", "149.112.112.112"],
        "networkMTU": 1450,
        "apiServerLoadBalancer": "ovn",
        "apiServerAllowedCIDRs": ["198.51.100.0/24", "203.0.113.7/32"],
        "managementClusterEgressCIDR": "192.0.2.1/32",
        "controlPlaneServerGroupID": "11111111-2222-4333-8444-555555555555",
        "workerServerGroupID": "66666666-7777-4888-9999-000000000000",
        "securityGroups": {"allowAllInClusterTraffic": False, "allNodesRules": [rule]},
        "controlPlaneAvailabilityZones": ["az1", "az2", "az3"],
        "sshKeyName": "ops",
        "registryMirrors": [{"registry": "docker.io", "endpoints": ["https://mirror.example.com"]}],
        "customCAs": [{"name": "corp-root", "pem": PEM}],
        "certSANs": ["k8s.example.com"],
        "oidc": {"issuerURL": "https://id.example.com", "clientID": "k8s"},
        "nodeLabels": {"tier": "general"},
        "nodeTaints": [{"key": "gpu", "effect": "NoExecute"}],
    }
    # every variable of the class (external network by name; externalNetworkID is the alternative)
    assert set(variables) | {"externalNetworkID"} == {
        v["name"] for v in classes.class_bundle("openstack", minor)[0]["spec"]["variables"]}
    assert classes.validate_variables(class_name, variables) == []
    assert classes.required_secrets(class_name, variables) == ["cc-openstack-cloud"]
    apply_cluster(mc, topology_cluster(name, class_name, VERSIONS[minor], variables,
                                       worker_variables={"workerFlavor": "SCS-16V-32", "image": {"name": "custom"}}))
    try:
        osc = wait_items(mc, "openstackcluster", name, "OpenStackCluster of %s" % name)[0]
        spec = osc["spec"]
        assert spec["identityRef"] == {"type": "Secret", "name": "cc-openstack-cloud", "cloudName": "prod"}
        assert spec["externalNetwork"] == {"filter": {"name": "public"}}
        assert spec["managedSubnets"] == [{"cidr": "10.20.0.0/20", "dnsNameservers": ["9.9.9.9", "149.112.112.112"]}]
        assert spec["networkMTU"] == 1450
        assert spec["apiServerLoadBalancer"] == {
            "enabled": True, "provider": "ovn",
            "allowedCIDRs": ["198.51.100.0/24", "203.0.113.7/32", "192.0.2.1/32"]}
        sgs = spec["managedSecurityGroups"]
        assert sgs["allowAllInClusterTraffic"] is False
        assert [r["name"] for r in sgs["allNodesSecurityGroupRules"]] == \
            ["cilium-vxlan", "cilium-health", "cilium-health-icmp", "hubble-peer", "node-exporter"]
        assert sgs["allNodesSecurityGroupRules"][-1] == rule
        assert spec["controlPlaneAvailabilityZones"] == ["az1", "az2", "az3"]

        kcp = wait_items(mc, "kubeadmcontrolplane", name, "KubeadmControlPlane of %s" % name)[0]
        kspec = kcp["spec"]["kubeadmConfigSpec"]
        assert kspec["clusterConfiguration"]["apiServer"]["certSANs"] == ["localhost", "127.0.0.1", "k8s.example.com"]
        assert args_of(kspec["clusterConfiguration"]["apiServer"]["extraArgs"]) == {
            "oidc-issuer-url": "https://id.example.com", "oidc-client-id": "k8s"}
        files = {f["path"]: f for f in kspec["files"]}
        assert files["/etc/containerd/certs.d/docker.io/hosts.toml"]["content"] == \
            '[host."https://mirror.example.com"]\n  capabilities = ["pull", "resolve"]\n'
        assert files["/usr/local/share/ca-certificates/corp-root.crt"]["content"] == PEM
        assert kspec["preKubeadmCommands"] == ["update-ca-certificates", "systemctl restart containerd"]
        init_args = args_of(kspec["initConfiguration"]["nodeRegistration"]["kubeletExtraArgs"])
        assert init_args["node-labels"] == "tier=general" and init_args["cloud-provider"] == "external"

        cp_ref = kcp["spec"]["machineTemplate"]["spec"]["infrastructureRef"]
        cp_tpl = get(mc, "openstackmachinetemplate.infrastructure.cluster.x-k8s.io", cp_ref["name"])
        cp = cp_tpl["spec"]["template"]["spec"]
        assert cp["flavor"] == "SCS-4V-8-50s"
        assert cp["image"] == {"imageRef": {"name": "ubuntu-2404-kube"}}
        assert cp["rootVolume"] == {"sizeGiB": 50, "type": "ssd"}
        assert cp["serverGroup"] == {"id": "11111111-2222-4333-8444-555555555555"}
        assert cp["sshKeyName"] == "ops"

        # No CAPO runs here and nothing stands in for it: the OpenStackCluster stays unprovisioned, so KCP
        # makes no Machine, but the topology controller renders the MachineDeployment and its templates
        # regardless. CAPO reconciling this class against real services: test_openstack_clusters.py.
        md = wait_items(mc, "machinedeployment", name, "MachineDeployment of %s" % name, timeout=240)[0]
        tspec = md["spec"]["template"]["spec"]
        assert tspec["version"] == VERSIONS[minor]
        kct = get(mc, "kubeadmconfigtemplate.bootstrap.cluster.x-k8s.io", tspec["bootstrap"]["configRef"]["name"])
        kct_spec = kct["spec"]["template"]["spec"]
        reg = kct_spec["joinConfiguration"]["nodeRegistration"]
        assert reg["taints"] == [{"key": "gpu", "effect": "NoExecute"}]
        assert args_of(reg["kubeletExtraArgs"])["node-labels"] == "tier=general"
        assert {f["path"] for f in kct_spec["files"]} == set(files)
        assert kct_spec["preKubeadmCommands"] == ["update-ca-certificates", "systemctl restart containerd"]
        worker_tpl = get(mc, "openstackmachinetemplate.infrastructure.cluster.x-k8s.io",
                         tspec["infrastructureRef"]["name"])
        worker = worker_tpl["spec"]["template"]["spec"]
        assert worker["flavor"] == "SCS-16V-32"  # node group override
        assert worker["image"] == {"filter": {"name": "custom"}}  # node group override
        assert worker["rootVolume"] == {"sizeGiB": 100}
        assert worker["serverGroup"] == {"id": "66666666-7777-4888-9999-000000000000"}
        assert worker["sshKeyName"] == "ops"

    finally:
        delete_cluster(mc, name)


def test_openstack_default_image_follows_the_kubernetes_version(management_cluster, installed):
    mc = management_cluster
    minor = MINORS[0]
    name = "cc-openstack-defaults"
    apply_cluster(mc, topology_cluster(name, classes.class_name("openstack", minor,
                                                                classes.latest_revision("openstack", minor)),
                                       VERSIONS[minor],
                                       {"identityRef": {"name": "cloud"}}))
    try:
        osc = wait_items(mc, "openstackcluster", name, "OpenStackCluster of %s" % name)[0]
        assert osc["spec"]["identityRef"] == {"type": "Secret", "name": "cloud", "cloudName": "openstack"}
        assert osc["spec"]["apiServerLoadBalancer"] == {"enabled": True, "provider": "amphora"}
        assert osc["spec"]["managedSubnets"] == [{"cidr": "10.8.0.0/20"}]
        assert "externalNetwork" not in osc["spec"]
        kcp = wait_items(mc, "kubeadmcontrolplane", name, "KubeadmControlPlane of %s" % name)[0]
        cp_ref = kcp["spec"]["machineTemplate"]["spec"]["infrastructureRef"]
        cp = get(mc, "openstackmachinetemplate.infrastructure.cluster.x-k8s.io", cp_ref["name"])["spec"]["template"]["spec"]
        assert cp["image"] == {"filter": {"name": "ubuntu-capi-image-%s" % VERSIONS[minor]}}
        assert cp["flavor"] == "SCS-2V-4-20s" and "rootVolume" not in cp
        assert "files" not in kcp["spec"]["kubeadmConfigSpec"]
        # the Cluster webhook added no variable the owner did not set (no schema defaults)
        cluster = get(mc, "cluster.cluster.x-k8s.io", name)
        assert [v["name"] for v in cluster["spec"]["topology"]["variables"]] == ["identityRef"]
    finally:
        delete_cluster(mc, name)


def _modified_v1(name, minor):
    objects = class_dev.build_inmemory_v1(name, minor)
    for obj in objects:
        if obj["kind"] == "DevMachineTemplate":
            obj["spec"]["template"]["spec"]["backend"]["inMemory"]["vm"]["provisioning"]["startupDuration"] = "5s"
    return objects


def test_revisions_immutability_and_in_use_protection(management_cluster, installed, ansible_env, monkeypatch):
    mc = management_cluster
    minor = MINORS[-1]
    v1 = classes.class_name("inmemory", minor, 1)
    v1_bundle = classes.class_bundle("inmemory", minor, 1, NAMESPACE)
    v1_versions = {o["metadata"]["name"]: get(mc, resource_of(o), o["metadata"]["name"])["metadata"]["resourceVersion"]
                   for o in v1_bundle}

    # 1. A changed class under an existing name is refused before any write (module, real cluster).
    marker = mc.mark()
    mc.kubectl("annotate", "--overwrite", "clusterclass.cluster.x-k8s.io", v1, "-n", NAMESPACE,
               "%s=%s" % (classes.ANNOTATION_HASH, "0" * 64))
    result = run_module(ansible_env, {"kubeconfig": mc.kubeconfig, "infrastructure": "inmemory",
                                      "kubernetes_minor": minor, "namespace": NAMESPACE}, expect_failure=True)
    assert "bump the revision" in result["msg"] and "0" * 64 in result["msg"], result["msg"]
    assert mc.count_writes(OUR_AGENT, since=marker) == 0
    mc.kubectl("annotate", "--overwrite", "clusterclass.cluster.x-k8s.io", v1, "-n", NAMESPACE,
               "%s=%s" % (classes.ANNOTATION_HASH, v1_bundle[0]["metadata"]["annotations"][classes.ANNOTATION_HASH]))
    v1_versions[v1] = get(mc, "clusterclass.cluster.x-k8s.io", v1)["metadata"]["resourceVersion"]

    # The same refusal in-process for changed content (a v1 builder that differs from the shipped one).
    monkeypatch.setitem(classes.REVISIONS["inmemory"], 1, _modified_v1)
    changed = classes.class_bundle("inmemory", minor, 1, NAMESPACE)
    client = kube_client.KubeClient(mc.kubeconfig)
    try:
        with pytest.raises(class_apply.ClassConflict) as err:
            class_apply.ensure_present(client, changed)
        assert "bump the revision" in str(err.value)

        # 2. A second revision installs beside the first; the first is not touched.
        monkeypatch.setitem(classes.REVISIONS["inmemory"], 2, _modified_v1)
        monkeypatch.setitem(classes.REVISIONS["inmemory"], 1, class_dev.build_inmemory_v1)
        v2_bundle = classes.class_bundle("inmemory", minor, 2, NAMESPACE)
        assert v2_bundle[0]["metadata"]["name"] == classes.class_name("inmemory", minor, 2)
        marker = mc.mark()
        result = class_apply.ensure_present(client, v2_bundle)
        assert result["changed"] and {o["action"] for o in result["objects"]} == {"created"}
        assert mc.count_writes(OUR_AGENT, since=marker) == len(v2_bundle)
        for obj in v1_bundle:
            live = get(mc, resource_of(obj), obj["metadata"]["name"])
            assert live["metadata"]["resourceVersion"] == v1_versions[obj["metadata"]["name"]], obj["metadata"]["name"]
        marker = mc.mark()
        assert class_apply.ensure_present(client, v2_bundle)["changed"] is False
        assert mc.count_writes(OUR_AGENT, since=marker) == 0

        # 3. A class in use is not deleted: the module names the Cluster, the webhook refuses too.
        user = "cc-user"
        apply_cluster(mc, topology_cluster(user, v1, VERSIONS[minor], {}, replicas=0))
        try:
            marker = mc.mark()
            result = run_module(ansible_env, {"kubeconfig": mc.kubeconfig, "infrastructure": "inmemory",
                                              "kubernetes_minor": minor, "revision": 1, "namespace": NAMESPACE,
                                              "state": "absent"}, expect_failure=True)
            assert "%s/%s" % (NAMESPACE, user) in result["msg"] and "used by" in result["msg"], result["msg"]
            assert mc.count_writes(OUR_AGENT, since=marker) == 0
            denied = mc.kubectl("delete", "clusterclass.cluster.x-k8s.io", v1, "-n", NAMESPACE, "--dry-run=server",
                                check=False)
            assert denied.returncode != 0 and "used by Cluster" in denied.stderr, denied.stderr
        finally:
            delete_cluster(mc, user)

        # 4. An unused revision is removed (ClusterClass and templates), then absent is a no-op.
        result = class_apply.ensure_absent(client, v2_bundle)
        assert result["changed"] and {o["action"] for o in result["objects"]} == {"deleted"}
        for obj in v2_bundle:
            assert get(mc, resource_of(obj), obj["metadata"]["name"]) is None
        marker = mc.mark()
        assert class_apply.ensure_absent(client, v2_bundle)["changed"] is False
        assert mc.count_writes(OUR_AGENT, since=marker) == 0
    finally:
        client.close()
