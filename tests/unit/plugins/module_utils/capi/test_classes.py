# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Unit tests of the shipped cluster classes (pure builders, no cluster)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import ipaddress
import re

import pytest

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.capi import classes
from ansible_collections.scs.kaas.plugins.module_utils.capi import validation

# Immutability guard: the content hash of every shipped class. A failing entry means a shipped
# class changed. Never update a hash of a released class: add a new revision (a new builder in
# classes.REVISIONS) and pin its hash here instead.
GOLDEN_HASHES = {
    ('inmemory', '1.34', 1): '93681a66311eec8c64f9946faaf7f85c55747f6e64b3ec4f8e56a6129cbb609e',
    ('inmemory', '1.35', 1): '5b6335a7d701cd87f762a89aa244d8c9443daeed2ce1e9027c5fcf0bcf039454',
    ('inmemory', '1.36', 1): '3e35b4d11cff0769c048b170c55d94f5ece013029b84817f61c7bbad65cd627e',
    ('docker', '1.34', 1): '9d56c09996080a74e1a152a117d85f0c69d7b9e5860abf4b52431d79b1c0c7c9',
    ('docker', '1.35', 1): '15717df1bc468fc175e7f528fd2a747a4488a80b9321ce6a3c5422f990cc8926',
    ('docker', '1.36', 1): '5c98f7f8907843e44f1359e055c6981de17feae499b31081ade223568dc85a75',
    ('docker', '1.34', 2): '50e67cf465e5ea5daa6437ee129c6329ec1a977aa32d17ec02f9dcfb900cf2d6',
    ('docker', '1.35', 2): '4d2153280d4353280a66c1718f8ae70712d600e4183a2bfcee185e416a6c2838',
    ('docker', '1.36', 2): 'd3a574844fed1e4fda8b712d65bd14e1fea4df9a3d58c416f692a974d845976c',
    ('docker', '1.34', 3): '02e4ef905291e30757e255e8c90e01e96df6ed9ce32be925c8c725f82a607bfe',
    ('docker', '1.35', 3): '186ce868fb5e6d2de436faabedd4f3e4aec31557887b65d73968089b296e59ab',
    ('docker', '1.36', 3): 'cac4239c1df1b1be4470174b65eea2b927dfd11c27430d6e22157681f0028887',
    ('openstack', '1.34', 1): '0208992b6b6adb9762aada6592a3b88620cd9eacb7c2da153bf1bf230defc979',
    ('openstack', '1.35', 1): 'd94692c98df86e9e2bea2a253fd7fc9948af10d12be16fb7b8c94d315415596d',
    ('openstack', '1.36', 1): 'bd60cd201b1055b6fe2bef82f3b31e7102b525bf59014f680ccc4bb344d6ed73',
    ('openstack', '1.34', 2): '299e3fa36d26f72203fa0e3ac6378fd149d4d4f64f99a4e2b5ae3957dfef9fd0',
    ('openstack', '1.35', 2): '30189cfb90eebf64d3c4fe0936107fd98fa629de0a515f70d6d623ed7adff516',
    ('openstack', '1.36', 2): 'c2b4d20b33ce85d9d00c3e9b9e01a884223e58f4a79c0b52ebed9d0c2af0ae8b',
}

COMMON_VARIABLES = {"certSANs", "oidc", "nodeLabels", "nodeTaints"}
# The openstack variable names fixed by the interface between classes and workload clusters.
OPENSTACK_VARIABLES = {
    "identityRef", "controlPlaneFlavor", "workerFlavor", "controlPlaneRootVolume", "workerRootVolume",
    "image", "externalNetworkID", "externalNetworkName", "nodeCIDR", "dnsNameservers", "networkMTU",
    "apiServerLoadBalancer", "apiServerAllowedCIDRs", "managementClusterEgressCIDR",
    "controlPlaneServerGroupID", "workerServerGroupID", "securityGroups",
    "controlPlaneAvailabilityZones", "sshKeyName", "registryMirrors", "customCAs",
}
# Docker classes from revision 2 on (docs/cluster-classes.md).
DOCKER_V2_VARIABLES = {"image", "loadBalancerImage", "registryMirrors", "etcdImageTag", "cgroupV1",
                       "corednsLocalOnly", "corednsImageTagByVersion"}

# JSON schema keywords a ClusterClass variable schema accepts (Cluster API v1beta2 JSONSchemaProps).
SCHEMA_KEYWORDS = {
    "type", "description", "example", "default", "enum", "format", "pattern", "required", "properties",
    "additionalProperties", "items", "maxItems", "minItems", "uniqueItems", "maxLength", "minLength",
    "maxProperties", "minProperties", "maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string", "x-kubernetes-validations",
    "oneOf", "anyOf", "allOf", "not", "x-metadata",
}

ALL = [(c["infrastructure"], c["minor"], c["revision"]) for c in classes.available_classes()]


def bundle(infra, minor, revision=None, namespace="default"):
    return classes.class_bundle(infra, minor, revision, namespace=namespace)


# -- names and registry -----------------------------------------------------------------------

def test_class_names_round_trip():
    assert classes.class_name("inmemory", "1.34", 1) == "scs-inmemory-1-34-v1"
    assert classes.class_name("openstack", "v1.35.4", 2) == "scs-openstack-1-35-v2"
    assert classes.parse_class_name("scs-docker-1-36-v1") == ("docker", "1.36", 1)
    assert classes.parse_class_name("scs-openstack-1-34-v12") == ("openstack", "1.34", 12)
    for bad in ("scs-aws-1-34-v1", "scs-inmemory-1-34", "scs-inmemory-1-34-v0", "quick-start", "", None, 7):
        assert classes.parse_class_name(bad) is None


def test_available_classes_cover_every_pinned_minor_and_infrastructure():
    minors = [".".join(v.lstrip("v").split(".")[:2]) for v in pins.WORKLOAD_KUBERNETES_VERSIONS]
    assert classes.shipped_minors() == minors
    listed = {(c["infrastructure"], c["minor"]) for c in classes.available_classes()}
    assert listed == {(i, m) for i in ("inmemory", "docker", "openstack") for m in minors}
    for entry in classes.available_classes():
        assert entry["name"] == classes.class_name(entry["infrastructure"], entry["minor"], entry["revision"])
        assert classes.parse_class_name(entry["name"]) == (entry["infrastructure"], entry["minor"], entry["revision"])


@pytest.mark.parametrize("args, message", [
    (("aws", "1.34"), "infrastructure: 'aws' is not supported; use one of inmemory, docker, openstack"),
    (("inmemory", "1.20"), "kubernetes_minor: '1.20' has no shipped cluster class; shipped minors: 1.34, 1.35, 1.36"),
    (("inmemory", "one.two"), "kubernetes_minor: 'one.two' is not a Kubernetes minor"),
    (("inmemory", "1.34", 99), "revision: 99 is not a revision of the inmemory classes; available: 1"),
    (("inmemory", "1.34", True), "revision: True is not a revision"),
])
def test_class_bundle_rejects_unknown_input(args, message):
    with pytest.raises(classes.ClassError) as err:
        classes.class_bundle(*args)
    assert message in str(err.value)


# -- immutability -----------------------------------------------------------------------------

def test_golden_hashes_cover_every_shipped_class():
    assert set(GOLDEN_HASHES) == set(ALL)


@pytest.mark.parametrize("key", ALL)
def test_shipped_class_content_is_unchanged(key):
    objs = bundle(*key)
    digest = objs[0]["metadata"]["annotations"][classes.ANNOTATION_HASH]
    assert digest == GOLDEN_HASHES[key], (
        "class %s changed (hash %s); shipped classes are immutable: add a new revision instead"
        % (objs[0]["metadata"]["name"], digest))


def test_hash_detects_any_change_and_ignores_namespace():
    objs = bundle("inmemory", "1.34")
    assert classes.bundle_hash(objs) == objs[0]["metadata"]["annotations"][classes.ANNOTATION_HASH]
    assert classes.bundle_hash(bundle("inmemory", "1.34", namespace="other")) == classes.bundle_hash(objs)
    changed = copy.deepcopy(objs)
    changed[2]["spec"]["template"]["spec"]["kubeadmConfigSpec"]["clusterConfiguration"]["apiServer"]["certSANs"].append("x")
    assert classes.bundle_hash(changed) != classes.bundle_hash(objs)


# -- structure ----------------------------------------------------------------------------------

def _refs(cluster_class):
    spec = cluster_class["spec"]
    refs = [spec["infrastructure"]["templateRef"], spec["controlPlane"]["templateRef"],
            spec["controlPlane"]["machineInfrastructure"]["templateRef"]]
    for md in spec["workers"]["machineDeployments"]:
        refs += [md["bootstrap"]["templateRef"], md["infrastructure"]["templateRef"]]
    return refs


@pytest.mark.parametrize("key", ALL)
def test_bundle_structure_labels_and_references(key):
    infra, minor, revision = key
    objs = bundle(infra, minor, revision, namespace="capi-classes")
    name = classes.class_name(infra, minor, revision)
    cc = objs[0]
    assert cc["kind"] == "ClusterClass" and cc["apiVersion"] == "cluster.x-k8s.io/v1beta2"
    assert cc["metadata"]["name"] == name
    digest = cc["metadata"]["annotations"][classes.ANNOTATION_HASH]
    assert re.match("^[0-9a-f]{64}$", digest)
    for obj in objs:
        assert obj["metadata"]["namespace"] == "capi-classes"
        assert obj["metadata"]["labels"] == {
            classes.LABEL_INFRASTRUCTURE: infra, classes.LABEL_MINOR: minor, classes.LABEL_REVISION: str(revision)}
        assert obj["metadata"]["annotations"] == {classes.ANNOTATION_HASH: digest}
        assert obj["metadata"]["name"].startswith(name)
    templates = {(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in objs[1:]}
    refs = {(r["apiVersion"], r["kind"], r["name"]) for r in _refs(cc)}
    assert refs == templates, "every template is referenced and every reference is in the bundle"
    # exactly one control plane and the worker class default-worker
    assert cc["spec"]["controlPlane"]["templateRef"]["kind"] == "KubeadmControlPlaneTemplate"
    assert [md["class"] for md in cc["spec"]["workers"]["machineDeployments"]] == ["default-worker"]


@pytest.mark.parametrize("key", ALL)
def test_variables_match_the_interface(key):
    cc = bundle(*key)[0]
    names = [v["name"] for v in cc["spec"]["variables"]]
    assert len(names) == len(set(names))
    expected = COMMON_VARIABLES | (OPENSTACK_VARIABLES if key[0] == "openstack" else set())
    if key[0] == "docker" and key[2] >= 2:
        expected = expected | DOCKER_V2_VARIABLES
    if key[0] == "docker" and key[2] >= 3:
        expected = expected | {"bootstrapTimeout"}
    assert set(names) == expected
    required = {v["name"] for v in cc["spec"]["variables"] if v["required"]}
    assert required == ({"identityRef"} if key[0] == "openstack" else set())
    for var in cc["spec"]["variables"]:
        _check_schema_keywords(var["schema"]["openAPIV3Schema"], var["name"])
        assert not _has_key(var["schema"], "default"), "no schema defaults: the Cluster webhook would write them"


def _has_key(data, key):
    if isinstance(data, dict):
        return key in data or any(_has_key(v, key) for v in data.values())
    if isinstance(data, list):
        return any(_has_key(v, key) for v in data)
    return False


def _check_schema_keywords(schema, path):
    unknown = set(schema) - SCHEMA_KEYWORDS
    assert not unknown, "%s: keywords %s are not allowed in a ClusterClass variable schema" % (path, unknown)
    for key, sub in (schema.get("properties") or {}).items():
        _check_schema_keywords(sub, path + "." + key)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _check_schema_keywords(schema[key], path + "." + key)


# -- patches ------------------------------------------------------------------------------------

def _selected(objs, selector):
    """Templates of the bundle a patch selector matches (mirrors Cluster API's matching rules)."""
    cc = objs[0]["spec"]
    match = selector["matchResources"]
    refs = []
    if match.get("infrastructureCluster"):
        refs.append(cc["infrastructure"]["templateRef"])
    if match.get("controlPlane"):
        refs += [cc["controlPlane"]["templateRef"], cc["controlPlane"]["machineInfrastructure"]["templateRef"]]
    for md in cc["workers"]["machineDeployments"]:
        if md["class"] in (match.get("machineDeploymentClass") or {}).get("names", []):
            refs += [md["bootstrap"]["templateRef"], md["infrastructure"]["templateRef"]]
    refs = [r for r in refs if r["apiVersion"] == selector["apiVersion"] and r["kind"] == selector["kind"]]
    by_ref = {(o["apiVersion"], o["kind"], o["metadata"]["name"]): o for o in objs[1:]}
    return [by_ref[(r["apiVersion"], r["kind"], r["name"])] for r in refs]


def _pointer(path):
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]


def _apply_add(doc, path, value):
    """RFC 6902 add without creating parents (as Cluster API's patch engine); returns whether
    the target existed before (an object member replaced)."""
    parts = _pointer(path)
    parent = doc
    for part in parts[:-1]:
        if isinstance(parent, list):
            parent = parent[int(part)]
        else:
            assert part in parent, "path %s: parent %r does not exist in the template" % (path, part)
            parent = parent[part]
    last = parts[-1]
    if isinstance(parent, list):
        assert last == "-" or last.isdigit(), path
        parent.append(value)
        return False
    existed = last in parent
    parent[last] = value
    return existed


# `add` patches that intentionally replace a value of the base template (the base holds the default).
EXPECTED_REPLACEMENTS = {
    "inmemory": {("certSANs", "/spec/template/spec/kubeadmConfigSpec/clusterConfiguration/apiServer/certSANs")},
    "openstack": {
        ("certSANs", "/spec/template/spec/kubeadmConfigSpec/clusterConfiguration/apiServer/certSANs"),
        ("identityRef", "/spec/template/spec/identityRef"),
        ("nodeNetwork", "/spec/template/spec/managedSubnets"),
        ("apiServerLoadBalancer", "/spec/template/spec/apiServerLoadBalancer"),
        ("securityGroups", "/spec/template/spec/managedSecurityGroups"),
        ("image", "/spec/template/spec/image"),
        ("controlPlaneFlavor", "/spec/template/spec/flavor"),
        ("workerFlavor", "/spec/template/spec/flavor"),
    },
}
EXPECTED_REPLACEMENTS["docker"] = EXPECTED_REPLACEMENTS["inmemory"]


@pytest.mark.parametrize("key", ALL)
def test_patches_select_templates_and_paths_exist(key):
    objs = bundle(*key)
    cc = objs[0]
    names = [p["name"] for p in cc["spec"]["patches"]]
    assert len(names) == len(set(names))
    variables = {v["name"] for v in cc["spec"]["variables"]}
    replaced = set()
    for patch in cc["spec"]["patches"]:
        for definition in patch["definitions"]:
            targets = _selected(objs, definition["selector"])
            assert targets, "patch %s selects no template of the class" % patch["name"]
            for target in targets:
                doc = copy.deepcopy(target)
                for op in definition["jsonPatches"]:
                    assert op["op"] == "add" and op["path"].startswith("/spec/")
                    value_from = op.get("valueFrom", {})
                    if "variable" in value_from:
                        assert value_from["variable"] in variables
                    if _apply_add(doc, op["path"], "placeholder"):
                        replaced.add((patch["name"], op["path"]))
    expected = set(EXPECTED_REPLACEMENTS[key[0]])
    if key[0] == "docker" and key[2] >= 3:
        # revision 3's default bootstrap timeout, which the variable overrides on purpose
        expected.add(("bootstrapTimeout", "/spec/template/spec/backend/docker/bootstrapTimeout"))
    assert replaced == expected, "an add patch overwrites a base template value"


_TEMPLATE_REF = re.compile(r"(?<![\w$)])\.([A-Za-z_]\w*)")


def _template_names(text):
    """Top-level names a Go template reads (.name), not those inside range blocks (heuristic)."""
    names = set()
    blocks = []
    for action in re.findall(r"{{-?(.*?)-?}}", text, re.S):
        action = action.strip()
        in_range = "range" in blocks
        keyword = action.split(" ", 1)[0]
        if keyword == "end":
            blocks.pop()
            continue
        if not in_range:
            names.update(_TEMPLATE_REF.findall(action))
        if keyword in ("range", "if", "with"):
            blocks.append(keyword)
    assert not blocks, "unbalanced template: %s" % text
    return names


@pytest.mark.parametrize("key", ALL)
def test_patch_templates_read_declared_variables_only(key):
    cc = bundle(*key)[0]
    variables = {v["name"] for v in cc["spec"]["variables"]}
    for patch in cc["spec"]["patches"]:
        texts = [patch.get("enabledIf", "")]
        for definition in patch["definitions"]:
            texts += [op.get("valueFrom", {}).get("template", "") for op in definition["jsonPatches"]]
        for text in texts:
            assert text.count("{{") == text.count("}}"), (patch["name"], text)
            for name in _template_names(text):
                assert name in variables or name == "builtin", "patch %s reads undefined .%s" % (patch["name"], name)


def test_patch_templates_reader_sees_names():
    text = "{{ if .a }}{{ range .b }}{{ if .x }}{{ .c }}{{ end }}{{ .y }}{{ end }}{{ .d | toJson }}{{ end }}"
    assert _template_names(text) == {"a", "b", "d"}


# -- helpers for the workload module -----------------------------------------------------------

def test_required_secrets():
    assert classes.required_secrets("scs-inmemory-1-34-v1", {}) == []
    assert classes.required_secrets("scs-openstack-1-35-v1",
                                    {"identityRef": {"name": "cloud-a", "cloudName": "prod"}}) == ["cloud-a"]
    with pytest.raises(classes.ClassError) as err:
        classes.required_secrets("scs-openstack-1-35-v1", {"identityRef": {"cloudName": "x"}})
    assert "variables.identityRef" in str(err.value)
    with pytest.raises(classes.ClassError):
        classes.required_secrets("my-own-class", {})


def test_validate_variables_cross_checks():
    name = "scs-openstack-1-34-v1"
    good = {"identityRef": {"name": "c"}, "apiServerAllowedCIDRs": ["10.0.0.0/8"],
            "managementClusterEgressCIDR": "192.0.2.0/24"}
    assert classes.validate_variables(name, good) == []
    errors = classes.validate_variables(name, {"apiServerAllowedCIDRs": ["10.0.0.0/8"],
                                               "apiServerLoadBalancer": "none",
                                               "externalNetworkID": "x", "externalNetworkName": "y"},
                                        var_name="workload_cluster.variables")
    text = "\n".join(errors)
    assert "workload_cluster.variables.apiServerAllowedCIDRs" in text and "managementClusterEgressCIDR" in text
    assert "'none'" in text and "externalNetworkName are both set" in text and "identityRef: missing" in text
    assert classes.validate_variables("scs-inmemory-1-34-v1", {"anything": 1}) == []


def test_openstack_defaults_are_in_the_base_templates():
    objs = {o["kind"] + "/" + o["metadata"]["name"].rsplit("-v2-", 1)[1]: o for o in bundle("openstack", "1.34")[1:]}
    cluster = objs["OpenStackClusterTemplate/cluster"]["spec"]["template"]["spec"]
    # The node network: one subnet, a real private network clear of the default pod/service networks.
    (subnet,) = cluster["managedSubnets"]
    nodes = ipaddress.ip_network(subnet["cidr"])
    assert nodes.is_private
    assert not [c for c in validation.DEFAULT_POD_CIDRS + validation.DEFAULT_SERVICE_CIDRS
                if ipaddress.ip_network(c).overlaps(nodes)]
    # Cilium's ports between all nodes: VXLAN 8472/udp and health 4240/tcp at least.
    rules = cluster["managedSecurityGroups"]["allNodesSecurityGroupRules"]
    opened = {(r.get("protocol"), r.get("portRangeMin")) for r in rules}
    assert {("udp", 8472), ("tcp", 4240)} <= opened, rules
    cp = objs["OpenStackMachineTemplate/control-plane-machine"]["spec"]["template"]["spec"]
    # The default control plane flavor passes kubeadm's preflight (>= 2 vCPUs, >= 1700 MB RAM):
    # SCS flavor names are SCS-<vCPUs><V|C|T|L>-<GiB RAM>[-<disk>].
    match = re.match(r"^SCS-(\d+)[VCTL]-(\d+(?:\.\d+)?)(?:-|$)", cp["flavor"])
    assert match, cp["flavor"]
    assert int(match.group(1)) >= 2 and float(match.group(2)) * 1024 >= 1700, cp["flavor"]


def test_check_conflicts_names_object_and_hashes():
    from ansible_collections.scs.kaas.plugins.module_utils.capi import class_apply

    objs = bundle("inmemory", "1.35", namespace="ns")
    live = copy.deepcopy(objs)
    assert class_apply.check_conflicts(objs, [None] * len(objs)) == []
    assert class_apply.check_conflicts(objs, live) == []
    live[2]["metadata"]["annotations"][classes.ANNOTATION_HASH] = "f" * 64
    del live[3]["metadata"]["annotations"]
    errors = class_apply.check_conflicts(objs, live)
    assert len(errors) == 2
    assert "KubeadmControlPlaneTemplate/scs-inmemory-1-35-v1-control-plane in namespace ns exists with content hash " \
           + "f" * 64 in errors[0]
    assert "bump the revision" in errors[0]
    assert "(none: not installed by scs.kaas)" in errors[1]
