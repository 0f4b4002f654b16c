# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Pieces shared by every shipped cluster class: API versions, selectors, the common
variables (certSANs, oidc, nodeLabels, nodeTaints) and the JSON patches that apply them.

Everything here is pure data: functions return new dicts on every call, so callers may
modify what they get. The patches rely on the base templates of each infrastructure
providing the parent paths they add to (``apiServer``, ``kubeletExtraArgs`` lists): the
Cluster API patch engine does not create missing parents.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

API_CLUSTER = "cluster.x-k8s.io/v1beta2"
API_CONTROL_PLANE = "controlplane.cluster.x-k8s.io/v1beta2"
API_BOOTSTRAP = "bootstrap.cluster.x-k8s.io/v1beta2"

KIND_KCPT = "KubeadmControlPlaneTemplate"
KIND_KCT = "KubeadmConfigTemplate"

WORKER_CLASS = "default-worker"

KCPT_SPEC = "/spec/template/spec/kubeadmConfigSpec"
KCT_SPEC = "/spec/template/spec"

TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]

# certSANs every control plane certificate carries; user certSANs are added to these.
BASE_CERT_SANS = ["localhost", "127.0.0.1"]


def template_ref(api_version, kind, name):
    return {"apiVersion": api_version, "kind": kind, "name": name}


def select_control_plane(api_version, kind):
    """Selector for the control plane template or the control plane machine template."""
    return {"apiVersion": api_version, "kind": kind, "matchResources": {"controlPlane": True}}


def select_infrastructure_cluster(api_version, kind):
    return {"apiVersion": api_version, "kind": kind, "matchResources": {"infrastructureCluster": True}}


def select_workers(api_version, kind):
    return {
        "apiVersion": api_version,
        "kind": kind,
        "matchResources": {"machineDeploymentClass": {"names": [WORKER_CLASS]}},
    }


def variable(name, schema, required=False):
    return {"name": name, "required": required, "schema": {"openAPIV3Schema": schema}}


def registry_mirrors_schema(description, extra_properties=None):
    """The ``registryMirrors`` variable: containerd hosts.toml per upstream registry."""
    properties = {
        "registry": {"type": "string", "minLength": 1, "pattern": "^[a-zA-Z0-9.:_-]+$"},
        "endpoints": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^https?://"}},
    }
    properties.update(extra_properties or {})
    return {"type": "array", "description": description,
            "items": {"type": "object", "required": ["registry", "endpoints"], "properties": properties}}


def health_check():
    """Machine health check used for the control plane and the workers (Cluster API defaults)."""
    return {
        "checks": {
            "unhealthyNodeConditions": [
                {"type": "Ready", "status": "Unknown", "timeoutSeconds": 300},
                {"type": "Ready", "status": "False", "timeoutSeconds": 300},
            ],
            "unhealthyMachineConditions": [
                {"type": "NodeReady", "status": "Unknown", "timeoutSeconds": 300},
                {"type": "NodeReady", "status": "False", "timeoutSeconds": 300},
            ],
        },
    }


def if_set(name):
    """enabledIf expression: true when the variable is set and not empty."""
    return "{{ if .%s }}true{{ end }}" % name


# Values parsed as their kind before any write (paths into the variable values, see
# classes.CAPABILITIES); the class schema only checks their shape.
VALUE_KINDS = {
    "certSANs[]": "host",
    "oidc.issuerURL": "https_url",
}


def common_variables():
    """Variables every shipped class defines (see docs/cluster-classes.md)."""
    optional_string = {"type": "string"}
    return [
        variable("certSANs", {
            "type": "array",
            "description": "Extra subject alternative names (DNS names or IP addresses) for the "
                           "kube-apiserver certificate.",
            "maxItems": 50,
            "items": {"type": "string", "minLength": 1, "maxLength": 253},
        }),
        variable("oidc", {
            "type": "object",
            "description": "OpenID Connect authentication of the kube-apiserver (oidc-* flags).",
            "required": ["issuerURL", "clientID"],
            "properties": {
                "issuerURL": {"type": "string", "pattern": "^https://", "description": "Issuer URL (https)."},
                "clientID": {"type": "string", "minLength": 1, "description": "Client ID of the tokens."},
                "usernameClaim": dict(optional_string, description="JWT claim used as user name."),
                "usernamePrefix": dict(optional_string, description="Prefix for user names."),
                "groupsClaim": dict(optional_string, description="JWT claim used as groups."),
                "groupsPrefix": dict(optional_string, description="Prefix for group names."),
            },
        }),
        variable("nodeLabels", {
            "type": "object",
            "description": "Labels the kubelet sets on its Node (kubelet --node-labels); may be "
                           "overridden per node group.",
            "additionalProperties": {"type": "string", "maxLength": 63},
        }),
        variable("nodeTaints", {
            "type": "array",
            "description": "Taints the worker nodes register with (kubeadm nodeRegistration.taints); "
                           "may be overridden per node group.",
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["key", "effect"],
                "properties": {
                    "key": {"type": "string", "minLength": 1, "maxLength": 316},
                    "value": {"type": "string", "maxLength": 63},
                    "effect": {"type": "string", "enum": list(TAINT_EFFECTS)},
                },
            },
        }),
    ]


_NODE_LABELS_ARG = (
    "name: node-labels\n"
    "value: {{ $l := list }}{{ range $k, $v := .nodeLabels }}"
    "{{ $l = append $l (printf \"%s=%s\" $k $v) }}{{ end }}{{ join \",\" $l | toJson }}\n"
)

_OIDC_ARGS = (
    "- name: oidc-issuer-url\n"
    "  value: {{ .oidc.issuerURL | toJson }}\n"
    "- name: oidc-client-id\n"
    "  value: {{ .oidc.clientID | toJson }}\n"
    "{{- if .oidc.usernameClaim }}\n"
    "- name: oidc-username-claim\n"
    "  value: {{ .oidc.usernameClaim | toJson }}\n"
    "{{- end }}\n"
    "{{- if .oidc.usernamePrefix }}\n"
    "- name: oidc-username-prefix\n"
    "  value: {{ .oidc.usernamePrefix | toJson }}\n"
    "{{- end }}\n"
    "{{- if .oidc.groupsClaim }}\n"
    "- name: oidc-groups-claim\n"
    "  value: {{ .oidc.groupsClaim | toJson }}\n"
    "{{- end }}\n"
    "{{- if .oidc.groupsPrefix }}\n"
    "- name: oidc-groups-prefix\n"
    "  value: {{ .oidc.groupsPrefix | toJson }}\n"
    "{{- end }}\n"
)


def common_patches():
    """JSON patches for the common variables.

    Assumes the KubeadmControlPlaneTemplate has ``clusterConfiguration.apiServer`` and
    kubeletExtraArgs lists in init and join configuration, and the worker
    KubeadmConfigTemplate a kubeletExtraArgs list in its join configuration.
    """
    kcpt = select_control_plane(API_CONTROL_PLANE, KIND_KCPT)
    kct = select_workers(API_BOOTSTRAP, KIND_KCT)
    return [
        {
            "name": "certSANs",
            "description": "Adds certSANs to the kube-apiserver certificate.",
            "enabledIf": if_set("certSANs"),
            "definitions": [{
                "selector": kcpt,
                "jsonPatches": [{
                    "op": "add",
                    "path": KCPT_SPEC + "/clusterConfiguration/apiServer/certSANs",
                    "valueFrom": {"template": "{{ concat (list %s) .certSANs | uniq | toJson }}" % " ".join(
                        '"%s"' % san for san in BASE_CERT_SANS)},
                }],
            }],
        },
        {
            "name": "oidc",
            "description": "Configures OpenID Connect authentication of the kube-apiserver.",
            "enabledIf": if_set("oidc"),
            "definitions": [{
                "selector": kcpt,
                "jsonPatches": [{
                    "op": "add",
                    "path": KCPT_SPEC + "/clusterConfiguration/apiServer/extraArgs",
                    "valueFrom": {"template": _OIDC_ARGS},
                }],
            }],
        },
        {
            "name": "nodeLabels",
            "description": "Sets kubelet --node-labels on control plane and worker nodes.",
            "enabledIf": if_set("nodeLabels"),
            "definitions": [
                {
                    "selector": kcpt,
                    "jsonPatches": [
                        {
                            "op": "add",
                            "path": KCPT_SPEC + "/%s/nodeRegistration/kubeletExtraArgs/-" % section,
                            "valueFrom": {"template": _NODE_LABELS_ARG},
                        }
                        for section in ("initConfiguration", "joinConfiguration")
                    ],
                },
                {
                    "selector": kct,
                    "jsonPatches": [{
                        "op": "add",
                        "path": KCT_SPEC + "/joinConfiguration/nodeRegistration/kubeletExtraArgs/-",
                        "valueFrom": {"template": _NODE_LABELS_ARG},
                    }],
                },
            ],
        },
        {
            "name": "nodeTaints",
            "description": "Sets the taints worker nodes register with.",
            "enabledIf": if_set("nodeTaints"),
            "definitions": [{
                "selector": kct,
                "jsonPatches": [{
                    "op": "add",
                    "path": KCT_SPEC + "/joinConfiguration/nodeRegistration/taints",
                    "valueFrom": {"variable": "nodeTaints"},
                }],
            }],
        },
    ]


def kubeadm_control_plane_template(name, kubeadm_config_spec, extra_spec=None):
    spec = {"kubeadmConfigSpec": kubeadm_config_spec}
    spec.update(extra_spec or {})
    return {
        "apiVersion": API_CONTROL_PLANE,
        "kind": KIND_KCPT,
        "metadata": {"name": name},
        "spec": {"template": {"spec": spec}},
    }


def kubeadm_config_template(name, spec):
    return {
        "apiVersion": API_BOOTSTRAP,
        "kind": KIND_KCT,
        "metadata": {"name": name},
        "spec": {"template": {"spec": spec}},
    }


_TEMPLATE_SUFFIXES = (
    ("cluster", "-cluster"),
    ("control_plane", "-control-plane"),
    ("control_plane_machine", "-control-plane-machine"),
    ("worker_machine", "-default-worker-machine"),
    ("worker_bootstrap", "-default-worker-bootstrap"),
)


def template_names(class_name):
    """Names of a class's templates: part -> class name plus the part's suffix."""
    return dict((part, class_name + suffix) for part, suffix in _TEMPLATE_SUFFIXES)


def class_over_templates(name, infrastructure_api, cluster_template_kind, machine_template_kind, variables, patches):
    """The ClusterClass ``name`` referring to the templates named by ``template_names(name)``."""
    names = template_names(name)
    return cluster_class(
        name,
        infrastructure_ref=template_ref(infrastructure_api, cluster_template_kind, names["cluster"]),
        control_plane_ref=template_ref(API_CONTROL_PLANE, KIND_KCPT, names["control_plane"]),
        control_plane_machine_ref=template_ref(infrastructure_api, machine_template_kind,
                                               names["control_plane_machine"]),
        worker_bootstrap_ref=template_ref(API_BOOTSTRAP, KIND_KCT, names["worker_bootstrap"]),
        worker_infrastructure_ref=template_ref(infrastructure_api, machine_template_kind, names["worker_machine"]),
        variables=variables,
        patches=patches,
    )


def cluster_class(name, infrastructure_ref, control_plane_ref, control_plane_machine_ref,
                  worker_bootstrap_ref, worker_infrastructure_ref, variables, patches):
    return {
        "apiVersion": API_CLUSTER,
        "kind": "ClusterClass",
        "metadata": {"name": name},
        "spec": {
            "infrastructure": {"templateRef": infrastructure_ref},
            "controlPlane": {
                "templateRef": control_plane_ref,
                "machineInfrastructure": {"templateRef": control_plane_machine_ref},
                "healthCheck": health_check(),
            },
            "workers": {
                "machineDeployments": [{
                    "class": WORKER_CLASS,
                    "bootstrap": {"templateRef": worker_bootstrap_ref},
                    "infrastructure": {"templateRef": worker_infrastructure_ref},
                    "healthCheck": health_check(),
                }],
            },
            "variables": variables,
            "patches": patches,
        },
    }
