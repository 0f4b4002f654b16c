# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Cluster classes for OpenStack (Cluster API Provider OpenStack, v1beta1 templates).

The base templates hold the defaults; every variable is applied by a JSON patch of the
class. No variable has a schema default, so the Cluster webhook never adds values to a
Cluster that its owner did not set (defaults live in the templates and patch templates,
and the variable descriptions name them).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.scs.kaas.plugins.module_utils.capi import class_common as common

API_CAPO = "infrastructure.cluster.x-k8s.io/v1beta1"
KIND_CLUSTER_TEMPLATE = "OpenStackClusterTemplate"
KIND_MACHINE_TEMPLATE = "OpenStackMachineTemplate"

DEFAULT_CONTROL_PLANE_FLAVOR = "SCS-2V-4-20s"
DEFAULT_WORKER_FLAVOR = "SCS-2V-4-20s"
DEFAULT_NODE_CIDR = "10.8.0.0/20"
DEFAULT_CLOUD_NAME = "openstack"
DEFAULT_API_LOAD_BALANCER = "amphora"
DEFAULT_IMAGE_PREFIX = "ubuntu-capi-image-"
API_LOAD_BALANCERS = ["amphora", "ovn", "none"]

_UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_CIDR = "^[0-9a-fA-F:.]+/[0-9]{1,3}$"

# Cilium (the default CNI) between all nodes: VXLAN overlay, health checks, Hubble.
CILIUM_RULES = [
    {"name": "cilium-vxlan", "description": "Cilium VXLAN overlay", "direction": "ingress",
     "etherType": "IPv4", "protocol": "udp", "portRangeMin": 8472, "portRangeMax": 8472,
     "remoteManagedGroups": ["controlplane", "worker"]},
    {"name": "cilium-health", "description": "Cilium health checks", "direction": "ingress",
     "etherType": "IPv4", "protocol": "tcp", "portRangeMin": 4240, "portRangeMax": 4240,
     "remoteManagedGroups": ["controlplane", "worker"]},
    {"name": "cilium-health-icmp", "description": "Cilium health checks (ICMP)", "direction": "ingress",
     "etherType": "IPv4", "protocol": "icmp",
     "remoteManagedGroups": ["controlplane", "worker"]},
    {"name": "hubble-peer", "description": "Hubble peer service", "direction": "ingress",
     "etherType": "IPv4", "protocol": "tcp", "portRangeMin": 4244, "portRangeMax": 4244,
     "remoteManagedGroups": ["controlplane", "worker"]},
]

# Variables the openstack classes define in addition to the common ones.
OPENSTACK_VARIABLE_NAMES = (
    "identityRef", "controlPlaneFlavor", "workerFlavor", "controlPlaneRootVolume", "workerRootVolume",
    "image", "externalNetworkID", "externalNetworkName", "nodeCIDR", "dnsNameservers", "networkMTU",
    "apiServerLoadBalancer", "apiServerAllowedCIDRs", "managementClusterEgressCIDR",
    "controlPlaneServerGroupID", "workerServerGroupID", "securityGroups",
    "controlPlaneAvailabilityZones", "sshKeyName", "registryMirrors", "customCAs",
)

# Values parsed as their kind before any write (paths into the variable values, see
# classes.CAPABILITIES); the class schema only checks their shape.
VALUE_KINDS = {
    "nodeCIDR": "cidr",
    "dnsNameservers[]": "ip",
    "apiServerAllowedCIDRs[]": "cidr",
    "managementClusterEgressCIDR": "cidr",
    "securityGroups.allNodesRules[].remoteIPPrefix": "cidr",
    "securityGroups.controlPlaneRules[].remoteIPPrefix": "cidr",
    "securityGroups.workerRules[].remoteIPPrefix": "cidr",
    "registryMirrors[].endpoints[]": "url",
    "customCAs[].pem": "certificate",
}

# Variables naming objects in the cloud; looked up (read-only) before any write (capi/cloud_refs.py).
CLOUD_REFERENCES = {
    "controlPlaneServerGroupID": "server_group",
    "workerServerGroupID": "server_group",
}


_VERSION_KEY = re.compile(r"^v\d+\.\d+\.\d+$")


def image_version_errors(image, version, var):
    """Errors of an ``image`` variable value whose nameByVersion (set at ``var``) cannot serve
    Kubernetes ``version``: keys that are no version vX.Y.Z, and a missing entry for ``version``."""
    by_version = image.get("nameByVersion") if isinstance(image, dict) else None
    if not isinstance(by_version, dict):
        return []
    path = var + ".nameByVersion"
    errors = ["%s: key %r is not a Kubernetes version; use vX.Y.Z, e.g. v1.35.4" % (path, key)
              for key in sorted(by_version, key=str) if not isinstance(key, str) or not _VERSION_KEY.match(key)]
    if version and version not in by_version:
        errors.append("%s: has no image for kubernetes_version %s (it has images for %s); add %s: <Glance image "
                      "name> so the nodes of this version get their image"
                      % (path, version, ", ".join(sorted(str(k) for k in by_version)) or "no version", version))
    return errors


def image_reference(image, version):
    """The Glance or ORC reference ({id|name|orcImageName}) the class renders for Kubernetes ``version``."""
    if not image:
        return {"name": DEFAULT_IMAGE_PREFIX + (version or "")}
    if "nameByVersion" in image:
        return {"name": (image["nameByVersion"] or {}).get(version)}
    return dict(image)


def _rule_schema():
    return {
        "type": "object",
        "required": ["name", "direction"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "direction": {"type": "string", "enum": ["ingress", "egress"]},
            "etherType": {"type": "string", "enum": ["IPv4", "IPv6"]},
            "protocol": {"type": "string"},
            "portRangeMin": {"type": "integer", "minimum": 1, "maximum": 65535},
            "portRangeMax": {"type": "integer", "minimum": 1, "maximum": 65535},
            "remoteIPPrefix": {"type": "string", "pattern": _CIDR},
            "remoteManagedGroups": {"type": "array", "items": {
                "type": "string", "enum": ["bastion", "controlplane", "worker"]}},
        },
    }


def _root_volume_schema(role):
    return {
        "type": "object",
        "description": "Boot %s servers from a Cinder volume of this size (GiB) and optional "
                       "volume type instead of the flavor's disk." % role,
        "required": ["sizeGiB"],
        "properties": {
            "sizeGiB": {"type": "integer", "minimum": 1},
            "type": {"type": "string", "minLength": 1},
        },
    }


def _image_variable(by_version):
    string = {"type": "string", "minLength": 1}
    properties = {
        "name": dict(string),
        "orcImageName": dict(string),
        "id": {"type": "string", "pattern": _UUID},
    }
    if by_version:
        properties["nameByVersion"] = {"type": "object", "minProperties": 1, "additionalProperties": dict(string)}
        description = ("Node image: exactly one of name (Glance image name), orcImageName (ORC Image "
                       "object), id (Glance image ID) or nameByVersion (Kubernetes version such as "
                       "v1.35.4 -> Glance image name; the control plane and each MachineDeployment take "
                       "the image of their own version, so an upgrade moves nodes to the new image). "
                       "Default: Glance image named %s<Kubernetes version>." % DEFAULT_IMAGE_PREFIX)
    else:
        description = ("Node image: exactly one of name (Glance image name), orcImageName (ORC Image "
                       "object) or id (Glance image ID). Default: Glance image named "
                       "%s<Kubernetes version>." % DEFAULT_IMAGE_PREFIX)
    return common.variable("image", {"type": "object", "description": description, "minProperties": 1,
                                     "maxProperties": 1, "properties": properties})


def openstack_variables(by_version=False):
    """The class variables; ``by_version`` (revision 2) adds image.nameByVersion."""
    var = common.variable
    string = {"type": "string", "minLength": 1}
    return [
        var("identityRef", {
            "type": "object",
            "description": "Secret (in the Cluster's namespace) with a clouds.yaml key, and the cloud "
                           "entry in it (cloudName, default %r)." % DEFAULT_CLOUD_NAME,
            "required": ["name"],
            "properties": {"name": dict(string), "cloudName": dict(string)},
        }, required=True),
        var("controlPlaneFlavor", dict(
            string, description="Flavor of the control plane servers (default %s)." % DEFAULT_CONTROL_PLANE_FLAVOR)),
        var("workerFlavor", dict(
            string, description="Flavor of the worker servers (default %s); may be overridden per node group."
            % DEFAULT_WORKER_FLAVOR)),
        var("controlPlaneRootVolume", _root_volume_schema("control plane")),
        var("workerRootVolume", _root_volume_schema("worker")),
        _image_variable(by_version),
        var("externalNetworkID", {"type": "string", "pattern": _UUID,
                                  "description": "ID of the external network for the router and floating IPs."}),
        var("externalNetworkName", dict(
            string, description="Name of the external network (alternative to externalNetworkID).")),
        var("nodeCIDR", {"type": "string", "pattern": _CIDR,
                         "description": "CIDR of the node subnet the cluster creates (default %s)."
                                        % DEFAULT_NODE_CIDR}),
        var("dnsNameservers", {"type": "array", "maxItems": 5, "items": dict(string),
                               "description": "DNS servers of the node subnet."}),
        var("networkMTU", {"type": "integer", "minimum": 1280, "maximum": 9000,
                           "description": "MTU of the cluster network."}),
        var("apiServerLoadBalancer", {"type": "string", "enum": list(API_LOAD_BALANCERS),
                                      "description": "Octavia provider of the API load balancer, or none "
                                                     "(default %s)." % DEFAULT_API_LOAD_BALANCER}),
        var("apiServerAllowedCIDRs", {"type": "array", "maxItems": 100,
                                      "items": {"type": "string", "pattern": _CIDR},
                                      "description": "Source CIDRs allowed to reach the API load balancer; "
                                                     "empty allows all. managementClusterEgressCIDR is always "
                                                     "added."}),
        var("managementClusterEgressCIDR", {"type": "string", "pattern": _CIDR,
                                            "description": "CIDR the management cluster reaches the API from; "
                                                           "always kept in the allowed CIDRs."}),
        var("controlPlaneServerGroupID", {"type": "string", "pattern": _UUID,
                                          "description": "Nova server group (e.g. anti-affinity) of the control "
                                                         "plane servers."}),
        var("workerServerGroupID", {"type": "string", "pattern": _UUID,
                                    "description": "Nova server group of the worker servers; may be "
                                                   "overridden per node group."}),
        var("securityGroups", {
            "type": "object",
            "description": "Managed security groups: allowAllInClusterTraffic, and rules added to the "
                           "default ones (Kubernetes and Cilium) for all nodes, control plane or workers.",
            "properties": {
                "allowAllInClusterTraffic": {"type": "boolean"},
                "allNodesRules": {"type": "array", "items": _rule_schema()},
                "controlPlaneRules": {"type": "array", "items": _rule_schema()},
                "workerRules": {"type": "array", "items": _rule_schema()},
            },
        }),
        var("controlPlaneAvailabilityZones", {"type": "array", "items": dict(string),
                                              "description": "Nova availability zones of the control plane."}),
        var("sshKeyName", dict(string, description="Nova key pair injected into every server.")),
        var("registryMirrors", common.registry_mirrors_schema("containerd registry mirrors (hosts.toml per registry).")),
        var("customCAs", {
            "type": "array",
            "description": "Additional CA certificates (PEM) trusted by the nodes and containerd.",
            "items": {
                "type": "object",
                "required": ["name", "pem"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
                    "pem": {"type": "string", "pattern": "-----BEGIN CERTIFICATE-----"},
                },
            },
        }),
    ]


_IDENTITY = (
    "type: Secret\n"
    "name: {{ .identityRef.name | toJson }}\n"
    "cloudName: {{ .identityRef.cloudName | default %s | toJson }}\n" % json.dumps(DEFAULT_CLOUD_NAME)
)

_EXTERNAL_NETWORK = (
    "{{- if .externalNetworkID }}\n"
    "id: {{ .externalNetworkID | toJson }}\n"
    "{{- else }}\n"
    "filter:\n"
    "  name: {{ .externalNetworkName | toJson }}\n"
    "{{- end }}\n"
)

_SUBNETS = (
    "- cidr: {{ .nodeCIDR | default %s | toJson }}\n"
    "{{- if .dnsNameservers }}\n"
    "  dnsNameservers: {{ .dnsNameservers | toJson }}\n"
    "{{- end }}\n" % json.dumps(DEFAULT_NODE_CIDR)
)

_LOAD_BALANCER = (
    "{{- $lb := .apiServerLoadBalancer | default %s }}\n"
    "{{- if eq $lb \"none\" }}\n"
    "enabled: false\n"
    "{{- else }}\n"
    "enabled: true\n"
    "provider: {{ $lb | toJson }}\n"
    "{{- if .apiServerAllowedCIDRs }}\n"
    "allowedCIDRs: {{ append .apiServerAllowedCIDRs (.managementClusterEgressCIDR | default \"\") "
    "| compact | uniq | toJson }}\n"
    "{{- end }}\n"
    "{{- end }}\n" % json.dumps(DEFAULT_API_LOAD_BALANCER)
)

_SECURITY_GROUPS = (
    "{{- $sg := default (dict) .securityGroups }}\n"
    "allowAllInClusterTraffic: {{ $sg.allowAllInClusterTraffic | default false }}\n"
    "allNodesSecurityGroupRules:\n"
    + "".join("- %s\n" % json.dumps(rule, sort_keys=True) for rule in CILIUM_RULES)
    + "{{- range $sg.allNodesRules }}\n"
    "- {{ toJson . }}\n"
    "{{- end }}\n"
    "{{- if $sg.controlPlaneRules }}\n"
    "controlPlaneNodesSecurityGroupRules: {{ toJson $sg.controlPlaneRules }}\n"
    "{{- end }}\n"
    "{{- if $sg.workerRules }}\n"
    "workerNodesSecurityGroupRules: {{ toJson $sg.workerRules }}\n"
    "{{- end }}\n"
)


def _image(version_var, by_version=False):
    # nameByVersion is looked up with the version of the machine's own role (control plane or
    # MachineDeployment), so each rolls to its image when its version moves, never before.
    by_version_branch = (
        "{{- else if $img.nameByVersion }}\n"
        "filter:\n"
        "  name: {{ index $img.nameByVersion %s | toJson }}\n" % version_var
    ) if by_version else ""
    return (
        "{{- $img := default (dict) .image }}\n"
        "{{- if $img.id }}\n"
        "id: {{ $img.id | toJson }}\n"
        "{{- else if $img.orcImageName }}\n"
        "imageRef:\n"
        "  name: {{ $img.orcImageName | toJson }}\n"
        + by_version_branch +
        "{{- else }}\n"
        "filter:\n"
        "  name: {{ $img.name | default (printf \"%s%%s\" %s) | toJson }}\n"
        "{{- end }}\n" % (DEFAULT_IMAGE_PREFIX, version_var)
    )


# containerd reads /etc/containerd/certs.d/<registry>/hosts.toml (config_path of the
# image-builder node images); CA files go to the system trust store.
_FILES = (
    "{{- range .registryMirrors }}\n"
    "- path: {{ printf \"/etc/containerd/certs.d/%s/hosts.toml\" .registry | toJson }}\n"
    "  owner: root:root\n"
    "  permissions: \"0644\"\n"
    "  content: {{ $c := \"\" }}{{ range .endpoints }}"
    "{{ $c = printf \"%s[host.%q]\\n  capabilities = [\\\"pull\\\", \\\"resolve\\\"]\\n\" $c . }}"
    "{{ end }}{{ $c | toJson }}\n"
    "{{- end }}\n"
    "{{- range .customCAs }}\n"
    "- path: {{ printf \"/usr/local/share/ca-certificates/%s.crt\" .name | toJson }}\n"
    "  owner: root:root\n"
    "  permissions: \"0644\"\n"
    "  content: {{ .pem | toJson }}\n"
    "{{- end }}\n"
)

CA_COMMANDS = ["update-ca-certificates", "systemctl restart containerd"]


def openstack_patches(by_version=False):
    osct = common.select_infrastructure_cluster(API_CAPO, KIND_CLUSTER_TEMPLATE)
    cp_machine = common.select_control_plane(API_CAPO, KIND_MACHINE_TEMPLATE)
    worker_machine = common.select_workers(API_CAPO, KIND_MACHINE_TEMPLATE)
    kcpt = common.select_control_plane(common.API_CONTROL_PLANE, common.KIND_KCPT)
    kct = common.select_workers(common.API_BOOTSTRAP, common.KIND_KCT)
    spec = "/spec/template/spec"

    def patch(name, description, definitions, enabled_if=None):
        result = {"name": name, "description": description, "definitions": definitions}
        if enabled_if:
            result["enabledIf"] = enabled_if
        return result

    def add(selector, path, template=None, variable=None):
        value_from = {"template": template} if template is not None else {"variable": variable}
        return {"selector": selector, "jsonPatches": [{"op": "add", "path": path, "valueFrom": value_from}]}

    def per_role(name, description, cp_var, worker_var, field, template_for=None):
        """One patch per role, each enabled only where its variable is set."""
        result = []
        for var, selector in ((cp_var, cp_machine), (worker_var, worker_machine)):
            if template_for:
                definition = add(selector, spec + "/" + field, template=template_for(var))
            else:
                definition = add(selector, spec + "/" + field, variable=var)
            result.append(patch(var, description, [definition], common.if_set(var)))
        return result

    patches = [
        patch("identityRef", "Credentials Secret and cloud of the cluster.",
              [add(osct, spec + "/identityRef", template=_IDENTITY)]),
        patch("externalNetwork", "External network by ID or name.",
              [add(osct, spec + "/externalNetwork", template=_EXTERNAL_NETWORK)],
              "{{ if or .externalNetworkID .externalNetworkName }}true{{ end }}"),
        patch("nodeNetwork", "Node subnet CIDR and DNS servers.",
              [add(osct, spec + "/managedSubnets", template=_SUBNETS)]),
        patch("networkMTU", "MTU of the cluster network.",
              [add(osct, spec + "/networkMTU", variable="networkMTU")], common.if_set("networkMTU")),
        patch("apiServerLoadBalancer", "API load balancer provider and allowed source CIDRs (the "
                                       "management cluster's egress CIDR is always allowed).",
              [add(osct, spec + "/apiServerLoadBalancer", template=_LOAD_BALANCER)]),
        patch("securityGroups", "Managed security groups with the CNI rules and extra rules.",
              [add(osct, spec + "/managedSecurityGroups", template=_SECURITY_GROUPS)]),
        patch("controlPlaneAvailabilityZones", "Availability zones of the control plane.",
              [add(osct, spec + "/controlPlaneAvailabilityZones", variable="controlPlaneAvailabilityZones")],
              common.if_set("controlPlaneAvailabilityZones")),
        patch("image", "Node image by name, %sORC image or ID." % ("name per version, " if by_version else ""), [
            {"selector": cp_machine, "jsonPatches": [{
                "op": "add", "path": spec + "/image",
                "valueFrom": {"template": _image(".builtin.controlPlane.version", by_version)}}]},
            {"selector": worker_machine, "jsonPatches": [{
                "op": "add", "path": spec + "/image",
                "valueFrom": {"template": _image(".builtin.machineDeployment.version", by_version)}}]},
        ]),
        patch("sshKeyName", "SSH key pair of all servers.", [
            add(cp_machine, spec + "/sshKeyName", variable="sshKeyName"),
            add(worker_machine, spec + "/sshKeyName", variable="sshKeyName"),
        ], common.if_set("sshKeyName")),
        patch("containerdFiles", "Registry mirrors (containerd hosts.toml) and custom CA files.", [
            add(kcpt, common.KCPT_SPEC + "/files", template=_FILES),
            add(kct, common.KCT_SPEC + "/files", template=_FILES),
        ], "{{ if or .registryMirrors .customCAs }}true{{ end }}"),
        patch("customCACommands", "Trusts the custom CAs and restarts containerd before kubeadm runs.", [
            {"selector": kcpt, "jsonPatches": [{"op": "add", "path": common.KCPT_SPEC + "/preKubeadmCommands",
                                                "value": list(CA_COMMANDS)}]},
            {"selector": kct, "jsonPatches": [{"op": "add", "path": common.KCT_SPEC + "/preKubeadmCommands",
                                               "value": list(CA_COMMANDS)}]},
        ], common.if_set("customCAs")),
    ]
    patches += per_role("flavor", "Flavor of the servers.", "controlPlaneFlavor", "workerFlavor", "flavor")
    patches += per_role("rootVolume", "Root volume of the servers.", "controlPlaneRootVolume",
                        "workerRootVolume", "rootVolume")
    patches += per_role("serverGroup", "Server group of the servers.", "controlPlaneServerGroupID",
                        "workerServerGroupID", "serverGroup",
                        template_for=lambda var: "id: {{ .%s | toJson }}\n" % var)
    return patches


def _kubelet_args():
    return [
        {"name": "cloud-provider", "value": "external"},
        {"name": "provider-id", "value": "openstack:///{{ v1.instance_id }}"},
    ]


def _node_registration():
    # cloud-init (jinja) fills these in on the server.
    return {"name": "{{ v1.local_hostname }}", "kubeletExtraArgs": _kubelet_args()}


def _machine_template(name, flavor):
    return {
        "apiVersion": API_CAPO,
        "kind": KIND_MACHINE_TEMPLATE,
        "metadata": {"name": name},
        "spec": {"template": {"spec": {
            "flavor": flavor,
            # Replaced by the image patch (depends on the Kubernetes version).
            "image": {"filter": {"name": DEFAULT_IMAGE_PREFIX.rstrip("-")}},
        }}},
    }


def build_openstack_v1(name, minor):
    """Revision 1 (shipped; never edit): image by name, ORC image or ID."""
    del minor
    return _build_openstack(name, by_version=False)


def build_openstack_v2(name, minor):
    """Revision 2: revision 1 plus image.nameByVersion."""
    del minor
    return _build_openstack(name, by_version=True)


def _build_openstack(name, by_version):
    names = common.template_names(name)
    objects = [
        {
            "apiVersion": API_CAPO,
            "kind": KIND_CLUSTER_TEMPLATE,
            "metadata": {"name": names["cluster"]},
            "spec": {"template": {"spec": {
                # Replaced by the identityRef patch (identityRef is a required variable).
                "identityRef": {"type": "Secret", "name": "openstack", "cloudName": DEFAULT_CLOUD_NAME},
                "apiServerLoadBalancer": {"enabled": True},
                "managedSubnets": [{"cidr": DEFAULT_NODE_CIDR}],
                "managedSecurityGroups": {
                    "allowAllInClusterTraffic": False,
                    "allNodesSecurityGroupRules": [dict(rule) for rule in CILIUM_RULES],
                },
            }}},
        },
        common.kubeadm_control_plane_template(names["control_plane"], {
            "clusterConfiguration": {
                "apiServer": {"certSANs": list(common.BASE_CERT_SANS)},
                "controllerManager": {"extraArgs": [{"name": "cloud-provider", "value": "external"}]},
            },
            "initConfiguration": {"nodeRegistration": _node_registration()},
            "joinConfiguration": {"nodeRegistration": _node_registration()},
        }),
        _machine_template(names["control_plane_machine"], DEFAULT_CONTROL_PLANE_FLAVOR),
        _machine_template(names["worker_machine"], DEFAULT_WORKER_FLAVOR),
        common.kubeadm_config_template(names["worker_bootstrap"], {
            "joinConfiguration": {"nodeRegistration": _node_registration()},
        }),
    ]
    objects.insert(0, common.class_over_templates(
        name, API_CAPO, KIND_CLUSTER_TEMPLATE, KIND_MACHINE_TEMPLATE,
        variables=common.common_variables() + openstack_variables(by_version),
        patches=common.common_patches() + openstack_patches(by_version)))
    return objects
