# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Revision 2 of the ``docker`` classes: real nodes from images built here.

The development provider's docker backend starts ``kindest/node`` and ``kindest/haproxy`` unless
the templates name other images, and its nodes pull from the public registries. Revision 2 adds
what a node built by this collection and an offline registry need:

- ``image`` (``{name}`` or ``{nameByVersion}``, the shape of the openstack classes): the
  DevMachine ``customImage``; per version, each role takes the image of its own version, so an
  upgrade moves nodes to the new image;
- ``loadBalancerImage`` (``{repository, tag}``): the DevCluster load balancer image
  (``<repository>/haproxy:<tag>``);
- ``registryMirrors``: containerd ``hosts.toml`` files; ``overridePath`` for a mirror that serves
  an upstream under a path prefix (``http://mirror:5000/v2/registry.k8s.io``); ``mirrorOnly`` for
  no fallback to the upstream registry (containerd tries the root ``server`` after the mirrors);
- ``etcdImageTag``: the tag of kubeadm's etcd image when the registry holds another etcd than
  kubeadm's default (kubeadm v1.36.5 asks for 3.6.8-0; the etcd built here is the pinned one);
- ``cgroupV1``: the host runs cgroup v1, where kubelets from 1.35 on refuse to start unless
  ``--fail-cgroupv1=false`` is given. Set it only on such hosts;
- ``corednsLocalOnly``: CoreDNS answers only the cluster's own names. kubeadm writes a Corefile
  that forwards every other name to the node's resolver; nodes with no upstream (an offline engine)
  would then wait for that resolver's timeout on every outside name. The first control plane
  removes the ``forward`` block from the ``coredns`` ConfigMap right after ``kubeadm init``
  (CoreDNS's ``reload`` plugin picks it up); later control planes find it removed already;
- ``corednsImageTagByVersion``: Kubernetes version -> CoreDNS image tag, written to the control
  plane's ``clusterConfiguration.dns.imageTag`` for its own version. The control plane provider
  moves CoreDNS (Deployment image and Corefile migration) only when that field names a new tag;
  without it, CoreDNS stays at the tag ``kubeadm init`` deployed through every upgrade.

Every node turns IP forwarding on before kubeadm runs: a node container gets a new network
namespace with the kernel's default (off), and kubeadm's preflight refuses to run without it
(the provider ignores other preflight errors, not this one).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.capi import class_common as common
from ansible_collections.scs.kaas.plugins.module_utils.capi import class_dev

PRE_KUBEADM_COMMANDS = ["sysctl -w net.ipv4.ip_forward=1"]

# Paths into the variables whose values are parsed before any write (classes.CAPABILITIES).
VALUE_KINDS = {
    "registryMirrors[].endpoints[]": "url",
}

_MACHINE_SPEC = "/spec/template/spec/backend/docker"


def _image_template(version_var):
    return (
        "{{- if .image.nameByVersion }}{{ index .image.nameByVersion %s | toJson }}"
        "{{- else }}{{ .image.name | toJson }}{{- end }}\n" % version_var
    )


# A version the map does not name leaves dns empty: the provider then keeps the running CoreDNS.
_COREDNS_TAG = (
    "{{- $tag := index .corednsImageTagByVersion .builtin.controlPlane.version }}"
    "{{- if $tag }}imageTag: {{ $tag | toJson }}{{- else }}{}{{- end }}\n"
)


# One hosts.toml per registry; with overridePath the endpoint URL is used as the full API path.
# containerd always tries the root ``server`` last (the upstream when none is written): mirrorOnly
# makes the last endpoint the root, so no pull ever goes past the mirrors (sprig: initial, last).
_FILES = (
    "{{- range .registryMirrors }}\n"
    "{{- $override := .overridePath }}\n"
    "{{- $hosts := .endpoints }}{{ $server := printf \"https://%s\" .registry }}{{ $root := \"\" }}\n"
    "{{- if .mirrorOnly }}{{ $hosts = initial .endpoints }}{{ $server = last .endpoints }}"
    "{{ $root = \"capabilities = [\\\"pull\\\", \\\"resolve\\\"]\\n\" }}"
    "{{ if $override }}{{ $root = printf \"%soverride_path = true\\n\" $root }}{{ end }}{{ end }}\n"
    "- path: {{ printf \"/etc/containerd/certs.d/%s/hosts.toml\" .registry | toJson }}\n"
    "  owner: root:root\n"
    "  permissions: \"0644\"\n"
    "  content: {{ $c := printf \"server = %q\\n%s\" $server $root }}{{ range $hosts }}"
    "{{ $c = printf \"%s\\n[host.%q]\\n  capabilities = [\\\"pull\\\", \\\"resolve\\\"]\\n\" $c . }}"
    "{{ if $override }}{{ $c = printf \"%s  override_path = true\\n\" $c }}{{ end }}"
    "{{ end }}{{ $c | toJson }}\n"
    "{{- end }}\n"
)

_FAIL_CGROUP_V1 = "name: fail-cgroupv1\nvalue: \"false\"\n"

_ADMIN = "kubectl --kubeconfig=/etc/kubernetes/admin.conf -n kube-system"
# jq is in the node image; the regular expression spans the forward block's lines.
COREDNS_LOCAL_ONLY_COMMAND = (
    "%s get configmap coredns -o json"
    " | jq '.data.Corefile |= sub(\"\\\\n *forward [^{]*[{][^}]*[}]\"; \"\")'"
    " | %s replace -f -" % (_ADMIN, _ADMIN))


def docker_variables():
    string = {"type": "string", "minLength": 1}
    return [
        common.variable("image", {
            "type": "object", "minProperties": 1, "maxProperties": 1,
            "description": "Node image (DevMachine customImage): exactly one of name (an image the engine "
                           "holds, e.g. scs-kaas/node:v1.36.5-<key>) or nameByVersion (Kubernetes version such "
                           "as v1.36.5 -> image; the control plane and each MachineDeployment take the image "
                           "of their own version). Default: the provider's kindest/node image.",
            "properties": {
                "name": dict(string),
                "nameByVersion": {"type": "object", "minProperties": 1, "additionalProperties": dict(string)},
            },
        }),
        common.variable("loadBalancerImage", {
            "type": "object", "required": ["repository", "tag"],
            "description": "Load balancer image <repository>/haproxy:<tag>. Default: kindest/haproxy.",
            "properties": {"repository": dict(string), "tag": dict(string)},
        }),
        common.variable("registryMirrors", common.registry_mirrors_schema(
            "containerd registry mirrors (/etc/containerd/certs.d/<registry>/hosts.toml).",
            {"overridePath": {"type": "boolean",
                              "description": "The endpoints are full API paths "
                                             "(http://mirror/v2/<registry>): containerd override_path."},
             "mirrorOnly": {"type": "boolean",
                            "description": "Pull only through the endpoints, never from the upstream registry "
                                           "itself (air-gapped sites): the last endpoint becomes containerd's "
                                           "root server instead of https://<registry>."}})),
        common.variable("etcdImageTag", {
            "type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
            "description": "Tag of the etcd image kubeadm runs (clusterConfiguration.etcd.local.imageTag), "
                           "e.g. 3.6.16-0. Default: kubeadm's own etcd version.",
        }),
        common.variable("cgroupV1", {
            "type": "boolean",
            "description": "The engine's host runs cgroup v1: kubelet --fail-cgroupv1=false (kubelets from "
                           "1.35 on refuse cgroup v1 otherwise). Set only on such hosts.",
        }),
        common.variable("corednsLocalOnly", {
            "type": "boolean",
            "description": "CoreDNS answers only the cluster's names: the forward block leaves its Corefile "
                           "after kubeadm init (nodes with no upstream resolver).",
        }),
        common.variable("corednsImageTagByVersion", {
            "type": "object", "minProperties": 1,
            "description": "Kubernetes version (e.g. v1.36.5) -> CoreDNS image tag (e.g. v1.14.2) for the control "
                           "plane's clusterConfiguration.dns.imageTag: an upgrade then moves CoreDNS to the new "
                           "version's tag. A version not listed keeps the running CoreDNS. Default: CoreDNS stays "
                           "at the tag kubeadm init deployed.",
            "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 128,
                                     "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$"},
        }),
    ]


def _machine_selectors():
    """(control plane, workers) selectors of the DevMachineTemplates."""
    return (common.select_control_plane(class_dev.API_DEV, class_dev.KIND_DEV_MACHINE_TEMPLATE),
            common.select_workers(class_dev.API_DEV, class_dev.KIND_DEV_MACHINE_TEMPLATE))


def docker_patches():
    cluster = common.select_infrastructure_cluster(class_dev.API_DEV, class_dev.KIND_DEV_CLUSTER_TEMPLATE)
    cp_machine, worker_machine = _machine_selectors()
    kcpt = common.select_control_plane(common.API_CONTROL_PLANE, common.KIND_KCPT)
    kct = common.select_workers(common.API_BOOTSTRAP, common.KIND_KCT)

    def definition(selector, path, template=None, variable=None):
        value_from = {"template": template} if template is not None else {"variable": variable}
        return {"selector": selector, "jsonPatches": [{"op": "add", "path": path, "valueFrom": value_from}]}

    kubelet_args = [
        {"selector": kcpt, "jsonPatches": [
            {"op": "add", "path": common.KCPT_SPEC + "/%s/nodeRegistration/kubeletExtraArgs/-" % section,
             "valueFrom": {"template": _FAIL_CGROUP_V1}}
            for section in ("initConfiguration", "joinConfiguration")]},
        {"selector": kct, "jsonPatches": [
            {"op": "add", "path": common.KCT_SPEC + "/joinConfiguration/nodeRegistration/kubeletExtraArgs/-",
             "valueFrom": {"template": _FAIL_CGROUP_V1}}]},
    ]
    return [
        {"name": "image", "description": "Node image (customImage), by name or per Kubernetes version.",
         "enabledIf": common.if_set("image"),
         "definitions": [
             definition(cp_machine, _MACHINE_SPEC + "/customImage",
                        template=_image_template(".builtin.controlPlane.version")),
             definition(worker_machine, _MACHINE_SPEC + "/customImage",
                        template=_image_template(".builtin.machineDeployment.version")),
         ]},
        {"name": "loadBalancerImage", "description": "Load balancer image repository and tag.",
         "enabledIf": common.if_set("loadBalancerImage"),
         "definitions": [definition(cluster, "/spec/template/spec/backend/docker/loadBalancer", template=(
             "imageRepository: {{ .loadBalancerImage.repository | toJson }}\n"
             "imageTag: {{ .loadBalancerImage.tag | toJson }}\n"))]},
        {"name": "registryMirrors", "description": "containerd registry mirrors (hosts.toml per registry).",
         "enabledIf": common.if_set("registryMirrors"),
         "definitions": [definition(kcpt, common.KCPT_SPEC + "/files", template=_FILES),
                         definition(kct, common.KCT_SPEC + "/files", template=_FILES)]},
        {"name": "etcdImageTag", "description": "Tag of kubeadm's etcd image.",
         "enabledIf": common.if_set("etcdImageTag"),
         "definitions": [definition(kcpt, common.KCPT_SPEC + "/clusterConfiguration/etcd",
                                    template="local:\n  imageTag: {{ .etcdImageTag | toJson }}\n")]},
        {"name": "cgroupV1", "description": "Lets kubelets from 1.35 on start on a cgroup v1 host.",
         "enabledIf": common.if_set("cgroupV1"), "definitions": kubelet_args},
        {"name": "corednsLocalOnly", "description": "CoreDNS without an upstream forwarder.",
         "enabledIf": common.if_set("corednsLocalOnly"),
         "definitions": [{"selector": kcpt, "jsonPatches": [
             {"op": "add", "path": common.KCPT_SPEC + "/postKubeadmCommands",
              "value": [COREDNS_LOCAL_ONLY_COMMAND]}]}]},
        {"name": "corednsImageTagByVersion", "description": "CoreDNS image tag per control plane version.",
         "enabledIf": common.if_set("corednsImageTagByVersion"),
         "definitions": [definition(kcpt, common.KCPT_SPEC + "/clusterConfiguration/dns", template=_COREDNS_TAG)]},
    ]


def build_docker_v2(name, minor):
    """Revision 2: revision 1 plus image, loadBalancerImage, registryMirrors, etcdImageTag, cgroupV1,
    corednsLocalOnly, corednsImageTagByVersion and IP forwarding before kubeadm."""
    objects = class_dev.build_docker_v1(name, minor)
    cluster_class, templates = objects[0], objects[1:]
    for template in templates:
        spec = template["spec"]["template"]["spec"]
        if template["kind"] == common.KIND_KCPT:
            spec["kubeadmConfigSpec"]["preKubeadmCommands"] = list(PRE_KUBEADM_COMMANDS)
        elif template["kind"] == common.KIND_KCT:
            spec["preKubeadmCommands"] = list(PRE_KUBEADM_COMMANDS)
    cluster_class["spec"]["variables"] = common.common_variables() + docker_variables()
    cluster_class["spec"]["patches"] = common.common_patches() + docker_patches()
    return objects


# The provider gives kubeadm init or join five minutes by default and never retries one that ran
# out: the Machine then waits for a Node that never registers. On a host whose cores are all busy
# a join has been cancelled after 4.5 minutes, still writing its kubeconfig files.
DEFAULT_BOOTSTRAP_TIMEOUT = "20m"
_DURATION = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"


def build_docker_v3(name, minor):
    """Revision 3: revision 2 with a bootstrap timeout of DEFAULT_BOOTSTRAP_TIMEOUT on every machine,
    and the variable bootstrapTimeout to set another."""
    objects = build_docker_v2(name, minor)
    cluster_class, templates = objects[0], objects[1:]
    for template in templates:
        if template["kind"] == class_dev.KIND_DEV_MACHINE_TEMPLATE:
            template["spec"]["template"]["spec"]["backend"]["docker"]["bootstrapTimeout"] = DEFAULT_BOOTSTRAP_TIMEOUT
    cluster_class["spec"]["variables"].append(common.variable("bootstrapTimeout", {
        "type": "string", "pattern": _DURATION, "maxLength": 32,
        "description": "How long kubeadm init or join may take on a node before the provider gives up on "
                       "the machine (a Go duration such as 20m or 1h). Default: %s." % DEFAULT_BOOTSTRAP_TIMEOUT,
    }))
    cluster_class["spec"]["patches"].append({
        "name": "bootstrapTimeout", "description": "How long kubeadm init or join may take on a node.",
        "enabledIf": common.if_set("bootstrapTimeout"),
        "definitions": [{"selector": selector, "jsonPatches": [
            {"op": "add", "path": _MACHINE_SPEC + "/bootstrapTimeout", "valueFrom": {"variable": "bootstrapTimeout"}}]}
            for selector in _machine_selectors()]})
    return objects
