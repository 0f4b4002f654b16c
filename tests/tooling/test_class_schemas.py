# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Offline schema check of every shipped cluster class against the providers' CRD YAML.

The CRDs of Cluster API core/kubeadm, the development provider (DevCluster/DevMachine) and CAPO
come from the pinned Go modules in the Go module cache (``crd_files`` in conftest.py: the modules
the embedded management cluster is built from). A missing directory is a failure, never a skip.

The walker checks what the API server would otherwise do silently or reject: unknown fields
(pruned without an error), types, required fields, enums, patterns, lengths and ranges.
CEL rules (x-kubernetes-validations) are not evaluated here; the e2e tests cover admission.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import pytest
import yaml

from ansible_collections.scs.kaas.plugins.module_utils.capi import classes


@pytest.fixture(scope="module")
def crds(crd_files):
    """{(apiVersion, kind): (openAPIV3Schema, file)} of every CRD version in the pinned modules."""
    out = {}
    for path in [p for files in crd_files.values() for p in files]:
        with open(path) as handle:
            for doc in yaml.load_all(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                for version in doc["spec"]["versions"]:
                    key = ("%s/%s" % (doc["spec"]["group"], version["name"]), doc["spec"]["names"]["kind"])
                    out[key] = (version["schema"]["openAPIV3Schema"], path)
    return out


def validate(schema, value, path="", errors=None):
    """Structural check of ``value`` against an OpenAPI v3 schema of a CRD; list of errors."""
    errors = [] if errors is None else errors
    if value is None:
        if not schema.get("nullable"):
            errors.append("%s: null is not allowed" % path)
        return errors
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            errors.append("%s: %r is neither integer nor string" % (path, value))
        return errors
    kind = schema.get("type")
    checks = {"object": dict, "array": list, "string": str, "boolean": bool}
    if kind in checks and not isinstance(value, checks[kind]):
        errors.append("%s: %r is not of type %s" % (path, value, kind))
        return errors
    if kind in ("integer", "number") and (isinstance(value, bool) or not isinstance(
            value, int if kind == "integer" else (int, float))):
        errors.append("%s: %r is not of type %s" % (path, value, kind))
        return errors
    if "enum" in schema and value not in schema["enum"]:
        errors.append("%s: %r is not one of %s" % (path, value, schema["enum"]))
    if kind == "string":
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append("%s: %r does not match %s" % (path, value, schema["pattern"]))
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            errors.append("%s: length of %r out of range" % (path, value))
    if kind in ("integer", "number"):
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            errors.append("%s: %r out of range" % (path, value))
    if kind == "array":
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            errors.append("%s: %d items out of range" % (path, len(value)))
        for index, item in enumerate(value):
            validate(schema.get("items", {}), item, "%s[%d]" % (path, index), errors)
    if kind == "object":
        for required in schema.get("required", []):
            if required not in value:
                errors.append("%s: required field %s is missing" % (path, required))
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                validate(props[key], item, "%s.%s" % (path, key), errors)
            elif isinstance(extra, dict):
                validate(extra, item, "%s.%s" % (path, key), errors)
            elif not (extra is True or schema.get("x-kubernetes-preserve-unknown-fields")):
                errors.append("%s.%s: unknown field (the API server would drop it)" % (path, key))
        if len(value) < schema.get("minProperties", 0) or len(value) > schema.get("maxProperties", len(value)):
            errors.append("%s: %d properties out of range" % (path, len(value)))
    return errors


BUNDLES = [(c["name"], classes.class_bundle(c["infrastructure"], c["minor"], c["revision"]))
           for c in classes.available_classes()]


@pytest.mark.parametrize("name, objects", BUNDLES, ids=[b[0] for b in BUNDLES])
def test_every_object_matches_its_crd(crds, name, objects):
    for obj in objects:
        key = (obj["apiVersion"], obj["kind"])
        assert key in crds, "%s: no CRD serves %s %s" % (name, key[0], key[1])
        schema, path = crds[key]
        errors = validate(schema["properties"]["spec"], obj["spec"], "%s %s.spec" % (obj["kind"], obj["metadata"]["name"]))
        assert not errors, "%s (CRD %s):\n  %s" % (name, path, "\n  ".join(errors))


def test_walker_finds_errors(crds):
    schema = crds[("infrastructure.cluster.x-k8s.io/v1beta1", "OpenStackMachineTemplate")][0]["properties"]["spec"]
    bad = {"template": {"spec": {"flavour": "x", "image": {"filter": {"name": 3}},
                                 "rootVolume": {"type": "ssd"}}}}
    text = "\n".join(validate(schema, bad))
    assert "flavour: unknown field" in text
    assert "name: 3 is not of type string" in text
    assert "required field sizeGiB is missing" in text
