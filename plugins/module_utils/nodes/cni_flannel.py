# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The baseline CNI of real nodes: flannel (``flanneld`` built here from its Go module) with the
reference ``bridge`` and ``host-local`` plugins of the node image.

flannel's own CNI plugin (``github.com/flannel-io/cni-plugin``) is not served by the Go module
proxy, so the DaemonSet renders, from the ``subnet.env`` flanneld writes, the same ``bridge``
configuration that plugin would hand to ``bridge`` at every call. Everything here is pure.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.scs.kaas.plugins.module_utils.nodes import image_recipes

NAMESPACE = "kube-flannel"
UPSTREAM_IMAGE = "ghcr.io/flannel-io/flannel"
CNI_CONFIG = "/etc/cni/net.d/10-flannel.conflist"

# Runs beside flanneld: waits for its lease (subnet.env), writes the conflist atomically, and
# rewrites it whenever the lease changes. The bridge is the pods' gateway; flanneld masquerades
# (--ip-masq), so the plugin does not.
CNI_CONFIG_WRITER = r"""
import ipaddress, json, os, time
path, last = "%(config)s", None
while True:
    try:
        env = dict(line.strip().split("=", 1) for line in open("/run/flannel/subnet.env") if "=" in line)
    except OSError:
        env = {}
    if env.get("FLANNEL_SUBNET") and env != last:
        subnet = str(ipaddress.ip_interface(env["FLANNEL_SUBNET"]).network)
        config = {"cniVersion": "1.0.0", "name": "cbr0", "plugins": [
            {"type": "bridge", "bridge": "cni0", "isGateway": True, "isDefaultGateway": True, "ipMasq": False,
             "hairpinMode": True,
             "mtu": int(env.get("FLANNEL_MTU", "1500")),
             "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                      "routes": [{"dst": env["FLANNEL_NETWORK"]}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}}]}
        with open(path + ".tmp", "w") as handle:
            json.dump(config, handle)
        os.rename(path + ".tmp", path)
        print("wrote %%s for %%s" %% (path, subnet), flush=True)
        last = env
    time.sleep(2)
""" % {"config": CNI_CONFIG}


def image_recipe(version, binaries):
    """flanneld on ``node-base`` (it needs iptables; the writer needs python3)."""
    return {"name": "flannel-io/flannel", "tag": version, "registry": "ghcr.io", "base": image_recipes.NODE_BASE,
            "files": {"/opt/bin/flanneld": {"source": binaries["flanneld"], "mode": 0o755}},
            "run": [], "changes": ['ENTRYPOINT ["/opt/bin/flanneld"]', "CMD []"]}


def _host_path(name, path, kind=None):
    return {"name": name, "hostPath": dict({"path": path}, **({"type": kind} if kind else {}))}


def manifests(pod_cidr, image, backend="host-gw"):
    """The objects that run flannel on every node: namespace, RBAC, its network config and the
    DaemonSet. ``host-gw`` routes pod subnets through the nodes' own addresses (all nodes share
    one L2 network), so no kernel tunnel module is needed."""
    labels = {"app": "flannel", "k8s-app": "flannel"}
    net_conf = {"Network": pod_cidr, "EnableNFTables": False, "Backend": {"Type": backend}}
    daemonset = {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "kube-flannel-ds", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app": "flannel"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "hostNetwork": True, "priorityClassName": "system-node-critical",
                    "serviceAccountName": "flannel",
                    "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                    "containers": [
                        {"name": "kube-flannel", "image": image, "command": ["/opt/bin/flanneld"],
                         "args": ["--ip-masq", "--kube-subnet-mgr"],
                         "resources": {"requests": {"cpu": "50m", "memory": "50Mi"}},
                         "securityContext": {"privileged": False,
                                             "capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
                         "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                 {"name": "POD_NAMESPACE",
                                  "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                                 {"name": "EVENT_QUEUE_DEPTH", "value": "5000"}],
                         "volumeMounts": [{"name": "run", "mountPath": "/run/flannel"},
                                          {"name": "flannel-cfg", "mountPath": "/etc/kube-flannel/"},
                                          {"name": "xtables-lock", "mountPath": "/run/xtables.lock"}]},
                        {"name": "cni-config", "image": image, "command": ["python3", "-c", CNI_CONFIG_WRITER],
                         "resources": {"requests": {"cpu": "5m", "memory": "16Mi"}},
                         "volumeMounts": [{"name": "run", "mountPath": "/run/flannel"},
                                          {"name": "cni", "mountPath": "/etc/cni/net.d"}]}],
                    "volumes": [_host_path("run", "/run/flannel"), _host_path("cni", "/etc/cni/net.d"),
                                {"name": "flannel-cfg", "configMap": {"name": "kube-flannel-cfg"}},
                                _host_path("xtables-lock", "/run/xtables.lock", "FileOrCreate")]}}}}
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "flannel", "namespace": NAMESPACE}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "flannel"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                   {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
                   {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "flannel"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "flannel"},
         "subjects": [{"kind": "ServiceAccount", "name": "flannel", "namespace": NAMESPACE}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-flannel-cfg", "namespace": NAMESPACE},
         "data": {"net-conf.json": json.dumps(net_conf, sort_keys=True)}},
        daemonset,
    ]
