# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Each bad-input class, checked for EVERY option the declarations put in it (pure, no cluster).

The options come from the declarations (``capi/spec.py``, ``CAPABILITIES`` of ``capi/classes.py``,
``capi/batch_options.py``), never from a list in this file; only the bad values per kind are
test data.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import datetime
import os

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.scs.kaas.plugins.module_utils.capi import (
    batch_options, checks, class_openstack, classes, cloud_refs, field_paths, spec, topology, validation, values)
from ansible_collections.scs.kaas.plugins.module_utils.kube import apply as kube_apply
from ansible_collections.scs.kaas.plugins.module_utils.kube.client import KubeError
from ansible_collections.scs.kaas.plugins.module_utils.providers import catalog
from ansible_collections.scs.kaas.plugins.modules import workload_cluster

GOOD = {"name": "demo-1", "infrastructure": "inmemory", "kubernetes_version": "v1.34.4",
        "control_plane": {"replicas": 1}, "node_groups": [{"name": "md-0", "replicas": 2}]}
OPENSTACK = dict(GOOD, infrastructure="openstack", variables={"identityRef": {"name": "cloud-a"}})

# A minimal valid item per list option, so a bad value can be placed inside one.
SEEDS = {
    "node_groups": {"name": "md-0"},
    "taints": {"key": "k", "effect": "NoSchedule"},
    "unhealthy_node_conditions": {"type": "Ready", "status": "False"},
    "unhealthy_machine_conditions": {"type": "Custom", "status": "True"},
}

# Values that are not what their kind claims (test data, one or more per kind).
BAD = {
    "duration": ["5 minutes", -1, "1d"],
    "count": [-1, "3", 1.5],
    "count_or_percent": [-1, "101%", "ten"],
    "unhealthy_range": ["1-3", "[a-b]"],
    "port": [0, 65536, "6443"],
    "bool": ["yes", 1],
    "text": ["", 7],
    "dns_subdomain": ["Cluster.Local", "-bad"],
    "cidr": ["10.0.0.1/8", "10.0.0.0/33", "not-a-cidr", "192.168.0.0"],
    "ip": ["999.1.1.1", "dns.example.com"],
    "host": ["not a host!", "under_score.example.com"],
    "url": ["registry.example.com", "ftp://registry.example.com", "https://"],
    "https_url": ["http://issuer.example.com", "issuer.example.com"],
    "certificate": ["-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n",
                    "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
                    "just text"],
}


def place_at_path(tree, path, value):
    """Set ``value`` at a declared path ('node_groups[].rollout.max_surge') inside ``tree``."""
    parts = path.replace("[]", ".[]").split(".")
    node = tree
    for index, part in enumerate(parts[:-1]):
        if part == "[]":
            continue
        if parts[index + 1] == "[]":
            items = node.get(part) or []
            if not items:
                items.append(copy.deepcopy(SEEDS.get(part, {})))
            node[part] = items
            node = items[0]
        else:
            node = node.setdefault(part, {})
    node[parts[-1]] = value


def _var(path):
    return "workload_cluster." + path.replace("[]", "[0]")


def _kind_cases():
    for path, option in spec.iter_options():
        if option.kind:
            for bad in BAD[option.kind]:
                yield path, option.kind, bad


@pytest.mark.parametrize("path, kind, bad", list(_kind_cases()))
def test_every_declared_option_refuses_values_not_of_its_kind(path, kind, bad):
    raw = copy.deepcopy(GOOD)
    if path.startswith("node_groups"):
        raw["node_groups"] = [{"name": "md-0"}]
    place_at_path(raw, path, bad)
    errors = validation.normalize_spec(raw)[1]
    assert any(e.startswith(_var(path)) for e in errors), (path, kind, bad, errors)


def test_every_kind_has_bad_values_and_every_kind_is_used():
    used = set(o.kind for _p, o in spec.iter_options() if o.kind)
    for caps in classes.CAPABILITIES.values():
        used.update(caps["value_kinds"].values())
    assert used <= set(BAD) and set(values.KINDS) <= set(BAD)


def _class_variable_cases():
    for infra, caps in sorted(classes.CAPABILITIES.items()):
        for path, kind in sorted(caps["value_kinds"].items()):
            for bad in BAD[kind]:
                yield infra, path, kind, bad


@pytest.mark.parametrize("infra, path, kind, bad", list(_class_variable_cases()))
def test_every_class_variable_of_a_kind_is_parsed_before_any_write(infra, path, kind, bad):
    raw = copy.deepcopy(OPENSTACK if infra == "openstack" else GOOD)
    raw["infrastructure"] = infra
    overrides = {}
    place_at_path(overrides, path, bad)
    raw["control_plane"]["variables"] = overrides
    errors = validation.normalize_spec(raw)[1]
    expected = "workload_cluster.control_plane.variables." + path.replace("[]", "[0]")
    assert any(e.startswith(expected + ":") for e in errors), (expected, errors)


def _certificate_pem():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u"scs-kaas-test-ca")])
    now = datetime.datetime(2026, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def test_real_certificates_parse_and_keys_or_truncated_ones_do_not():
    cert, key = _certificate_pem()
    assert values.certificate(cert + cert) == cert + cert
    with pytest.raises(values.Invalid):
        values.certificate(key)
    body = cert.splitlines()
    truncated = "\n".join(body[:2] + body[-1:])
    with pytest.raises(values.Invalid):
        values.certificate(truncated)
    raw = copy.deepcopy(OPENSTACK)
    raw["variables"]["customCAs"] = [{"name": "corp", "pem": cert}]
    assert validation.normalize_spec(raw)[1] == []


@pytest.mark.parametrize("namespace", checks.reserved_namespaces() + ["kube-extra", "capx-system"])
def test_reserved_namespaces_are_refused(namespace):
    errors = validation.normalize_spec(dict(GOOD, namespace=namespace))[1]
    assert errors and errors[0].startswith("workload_cluster.namespace: '%s' is a namespace reserved" % namespace)


def test_provider_catalog_namespaces_are_reserved():
    for entry in catalog.PROVIDERS.values():
        assert entry["namespace"] in checks.reserved_namespaces()


NETWORKS = {
    "IPv4": {"pods": ["10.244.0.0/16"], "services": ["10.96.0.0/12"]},
    "IPv6": {"pods": ["fd00:10:244::/56"], "services": ["fd00:10:96::/112"]},
    "dual-stack": {"pods": ["10.244.0.0/16", "fd00:10:244::/56"], "services": ["10.96.0.0/12", "fd00:10:96::/112"]},
}


@pytest.mark.parametrize("infra", sorted(classes.CAPABILITIES))
@pytest.mark.parametrize("family", sorted(NETWORKS))
def test_an_ip_family_the_class_cannot_honour_is_refused(infra, family):
    raw = copy.deepcopy(OPENSTACK if infra == "openstack" else GOOD)
    raw.update(infrastructure=infra, network=NETWORKS[family])
    spec_, errors = validation.normalize_spec(raw)
    if family in classes.CAPABILITIES[infra]["ip_families"]:
        assert errors == [] and validation.ip_family(spec_) == family
    else:
        assert any(e.startswith("workload_cluster.network.pods:") and "cannot honour" in e for e in errors), errors


def test_risky_settings_warn_and_narrow_ones_do_not():
    raw = copy.deepcopy(OPENSTACK)
    raw["variables"].update(apiServerAllowedCIDRs=["0.0.0.0/0", "192.0.2.0/24"], managementClusterEgressCIDR="198.51.100.0/24",
                            securityGroups={"allNodesRules": [{"name": "ssh", "direction": "ingress",
                                                               "remoteIPPrefix": "::/0"}]})
    raw["node_groups"] = [{"name": "md-0", "replicas": 2, "rollout": {"max_unavailable": "100%", "max_surge": 1}}]
    spec_, errors = validation.normalize_spec(raw)
    assert errors == []
    warnings = validation.risks(spec_)
    assert [w.split(":")[0] for w in warnings] == [
        "workload_cluster.variables.apiServerAllowedCIDRs",
        "workload_cluster.variables.securityGroups.allNodesRules[0].remoteIPPrefix",
        "workload_cluster.node_groups[0].rollout.max_unavailable"]
    assert "whole internet" in warnings[0]
    raw["variables"]["apiServerAllowedCIDRs"] = ["192.0.2.0/24"]
    raw["variables"].pop("securityGroups")
    raw["node_groups"][0]["rollout"]["max_unavailable"] = 1
    assert validation.risks(validation.normalize_spec(raw)[0]) == []


def _secret(clouds):
    content = yaml.safe_dump({"clouds": clouds}).encode()
    return {"data": {"clouds.yaml": base64.b64encode(content).decode()}}


def test_identity_secret_must_exist_and_hold_the_cloud_without_showing_its_content():
    raw = copy.deepcopy(OPENSTACK)
    raw["variables"]["identityRef"] = {"name": "cloud-a", "cloudName": "prod"}
    spec_ = validation.normalize_spec(raw)[0]
    assert validation.referenced_secrets(spec_) == {"cloud-a": "workload_cluster.variables.identityRef.name"}
    missing = validation.check_references(spec_, {"cloud-a": None})
    assert missing[0].startswith("workload_cluster.variables.identityRef.name: 'cloud-a' names a Secret that does not exist")
    other = validation.check_references(spec_, {"cloud-a": _secret({"stage": {"auth": {"password": "s3cret"}}})})
    assert "has no cloud 'prod'" in other[0] and "s3cret" not in other[0]
    nokey = validation.check_references(spec_, {"cloud-a": {"data": {"password": "eA=="}}})
    assert "has no key clouds.yaml" in nokey[0]
    assert validation.check_references(spec_, {"cloud-a": _secret({"prod": {}})}) == []
    assert validation.referenced_secrets(validation.normalize_spec(GOOD)[0]) == {}


def test_server_field_paths_map_to_the_inventory_variables():
    raw = copy.deepcopy(GOOD)
    raw["api"] = {"oidc": {"issuer_url": "https://issuer.example.com", "client_id": "k"}, "cert_sans": ["a.example.com"]}
    raw["control_plane"]["variables"] = {"nodeLabels": {"a": "b"}}
    raw["node_groups"] = [{"name": "md-0"}, {"name": "md-1", "labels": {"x": "y"}, "variables": {"flavor": "f"}}]
    spec_ = validation.normalize_spec(raw)[0]
    desired = topology.build_cluster(spec_)
    var = field_paths.variable_for
    assert var(spec_, desired, "spec.topology.variables[oidc].value.issuerURL") == "workload_cluster.api.oidc.issuer_url"
    assert var(spec_, desired, "spec.topology.variables[0].value") == "workload_cluster.api.cert_sans"
    assert var(spec_, desired, "spec.topology.controlPlane.variables.overrides[nodeLabels].value") == \
        "workload_cluster.control_plane.variables.nodeLabels"
    assert var(spec_, desired, "spec.topology.workers.machineDeployments[1].variables.overrides[flavor].value") == \
        "workload_cluster.node_groups[1].variables.flavor"
    assert var(spec_, desired, "spec.topology.workers.machineDeployments[md-1].replicas") == \
        "workload_cluster.node_groups[1].replicas"
    assert var(spec_, desired, "spec.topology.version") == "workload_cluster.kubernetes_version"
    assert var(spec_, desired, "spec.clusterNetwork.pods.cidrBlocks[0]") == "workload_cluster.network.pods[0]"
    text = field_paths.explain(spec_, desired, 'Cluster.cluster.x-k8s.io "demo-1" is invalid: '
                               'spec.topology.controlPlane.variables.overrides[nodeLabels].value: Invalid value')
    assert "workload_cluster.control_plane.variables.nodeLabels (field spec.topology.controlPlane" in text
    causes = [{"field": "spec.topology.variables[oidc].value.issuerURL", "message": "Invalid value: should match"}]
    assert field_paths.explain(spec_, desired, "ignored", causes).startswith(
        "workload_cluster.api.oidc.issuer_url: Invalid value: should match")
    conflicts = kube_apply.conflicts(KubeError(409, "Conflict", "Apply failed with 2 conflicts", {"causes": [
        {"reason": "FieldManagerConflict", "message": 'conflict with "autoscaler"',
         "field": '.spec.topology.workers.machineDeployments[name="md-1"].replicas'},
        {"reason": "FieldManagerConflict", "message": 'conflict with "kubectl-label"', "field": ".metadata.labels.x"},
        {"reason": "FieldManagerConflict", "message": 'conflict with "other"', "field": ".spec.availabilityGates"}]}))
    assert field_paths.describe_conflicts(spec_, desired, conflicts) == (
        'workload_cluster.node_groups[1].replicas (field spec.topology.workers.machineDeployments[md-1].replicas) '
        'is owned by field manager "autoscaler"; workload_cluster.labels.x (field metadata.labels.x) is owned by '
        'field manager "kubectl-label"; a field the collection sets (field spec.availabilityGates) is owned by field manager "other"')


def test_every_int_and_path_option_of_the_module_has_a_rule():
    argument_spec = workload_cluster.WorkloadClusterModule.argument_spec
    checked = set(name for name, entry in argument_spec.items() if entry["type"] in ("int", "path"))
    assert checked | {"addons_repository_url"} == set(batch_options.RULES)


@pytest.mark.parametrize("option", sorted(batch_options.RULES))
def test_every_module_option_rule_refuses_bad_values(option, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text(u"x")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: a kubeconfig there could be read or swapped by anyone
    bad = {"positive": [0, -5],
           "directory": [str(a_file), str(a_file / "below"), str(shared)],
           "chart_repository": ["127.0.0.1:8879", "ftp://host/charts", "http://", "http://host /x"],
           }[batch_options.RULES[option][0]]
    for value in bad:
        errors = batch_options.check({option: value})
        assert len(errors) == 1 and errors[0].startswith("%s: %r " % (option, value)), errors
        assert "role variable %s" % batch_options.RULES[option][1] in errors[0]
    good = {"positive": 1, "directory": str(tmp_path / "new" / "dir"),
            "chart_repository": "http://127.0.0.1:8879"}[batch_options.RULES[option][0]]
    assert batch_options.check({option: good}) == []
    assert not os.path.exists(str(tmp_path / "new"))  # checking writes nothing


def test_every_declared_cloud_reference_is_found_at_every_level():
    group_id = "5a1f4e0e-9f8b-4d54-b0d3-c0b5d6f0e2a1"
    for name, kind in sorted(class_openstack.CLOUD_REFERENCES.items()):
        raw = copy.deepcopy(OPENSTACK)
        raw["variables"][name] = group_id
        raw["control_plane"]["variables"] = {name: group_id}
        raw["node_groups"][0]["variables"] = {name: group_id}
        spec_, errors = validation.normalize_spec(raw)
        assert errors == []
        assert cloud_refs.references(spec_) == [
            ("workload_cluster.variables.%s" % name, kind, group_id),
            ("workload_cluster.control_plane.variables.%s" % name, kind, group_id),
            ("workload_cluster.node_groups[0].variables.%s" % name, kind, group_id)]
        assert set(cloud_refs.LOOKUPS) >= {kind}
    assert cloud_refs.references(validation.normalize_spec(GOOD)[0]) == []


def test_the_cloud_of_the_identity_secret_is_what_lookups_use():
    raw = copy.deepcopy(OPENSTACK)
    raw["variables"]["identityRef"] = {"name": "cloud-a", "cloudName": "prod"}
    spec_ = validation.normalize_spec(raw)[0]
    entry = {"auth": {"auth_url": "https://keystone.example.com"}, "region_name": "RegionOne"}
    assert validation.identity_cloud(spec_, {"cloud-a": _secret({"prod": entry, "stage": {}})}) == ("prod", entry)
    assert validation.identity_cloud(spec_, {"cloud-a": _secret({"stage": entry})}) is None
