# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Registry of the cluster classes shipped with the collection (pure, no cluster access).

A class is identified by infrastructure, Kubernetes minor and revision and is named
``scs-<infra>-<major>-<minor>-v<revision>`` (``scs-inmemory-1-34-v1``). Shipped classes are
immutable: a change is a new revision (a new name; its templates carry the class name as
prefix), so objects in use are never changed. Every object of a bundle carries the labels
``kaas.scs.community/infrastructure``, ``.../kubernetes-minor`` and ``.../class-revision`` and
the annotation ``kaas.scs.community/content-hash`` (sha256 of the bundle, namespace-independent).

API (see docs/cluster-classes.md):
``available_classes()``, ``class_name(infra, minor, revision)``, ``parse_class_name(name)``,
``class_bundle(infra, minor, revision=None, namespace="default")``, ``bundle_hash(bundle)``,
``latest_revision(infra, minor)``, ``required_secrets(class_name, variables)``,
``validate_variables(class_name, variables, var_name)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json
import re

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.capi import class_common
from ansible_collections.scs.kaas.plugins.module_utils.capi import class_dev
from ansible_collections.scs.kaas.plugins.module_utils.capi import class_docker
from ansible_collections.scs.kaas.plugins.module_utils.capi import class_openstack
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError

INFRASTRUCTURES = ("inmemory", "docker", "openstack")

LABEL_INFRASTRUCTURE = "kaas.scs.community/infrastructure"
LABEL_MINOR = "kaas.scs.community/kubernetes-minor"
LABEL_REVISION = "kaas.scs.community/class-revision"
ANNOTATION_HASH = "kaas.scs.community/content-hash"

WORKER_CLASS = class_common.WORKER_CLASS

# infrastructure -> {revision: builder(name, minor) -> [ClusterClass, templates...]}.
# A shipped revision is never edited; add a new revision (builder) for any change.
REVISIONS = {
    "inmemory": {1: class_dev.build_inmemory_v1},
    "docker": {1: class_dev.build_docker_v1, 2: class_docker.build_docker_v2, 3: class_docker.build_docker_v3},
    "openstack": {1: class_openstack.build_openstack_v1, 2: class_openstack.build_openstack_v2},
}

# What the classes of an infrastructure can honour (checked before any write):
# ``ip_families``: the IP families of the pod/service networks; the openstack classes build an
# IPv4 node subnet and IPv4-only security group rules, so IPv6 and dual stack are refused there.
# ``value_kinds``: class variables whose values are parsed as the kind they claim to be (see
# ``capi/values.py``), as paths into the variable value (``[]`` = every list item).
CAPABILITIES = {
    "inmemory": {"ip_families": ("IPv4", "IPv6", "dual-stack"), "value_kinds": dict(class_common.VALUE_KINDS)},
    # CAPD nodes join the IPv4-only default docker network of the host.
    "docker": {"ip_families": ("IPv4",),
               "value_kinds": dict(class_common.VALUE_KINDS, **class_docker.VALUE_KINDS)},
    "openstack": {"ip_families": ("IPv4",),
                  "value_kinds": dict(class_common.VALUE_KINDS, **class_openstack.VALUE_KINDS)},
}

_NAME_RE = re.compile(r"^scs-(%s)-(\d+)-(\d+)-v([1-9]\d*)$" % "|".join(INFRASTRUCTURES))
_MINOR_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?$")


class ClassError(KaasError, ValueError):
    """Unknown class, infrastructure, minor or revision, or bad variables."""


def shipped_minors():
    """Kubernetes minors with shipped classes, e.g. ['1.34', '1.35', '1.36']."""
    out = []
    for version in pins.WORKLOAD_KUBERNETES_VERSIONS:
        match = _MINOR_RE.match(version)
        out.append("%s.%s" % (match.group(1), match.group(2)))
    return out


def normalize_minor(minor, var_name="kubernetes_minor"):
    """'1.34' for '1.34', 'v1.34' or 'v1.34.2'; ClassError otherwise."""
    match = _MINOR_RE.match(str(minor).strip()) if minor is not None else None
    if not match:
        raise ClassError("%s: %r is not a Kubernetes minor; use one of %s"
                         % (var_name, minor, ", ".join(shipped_minors())))
    return "%s.%s" % (match.group(1), match.group(2))


def class_name(infrastructure, minor, revision):
    major, minor_number = normalize_minor(minor).split(".")
    return "scs-%s-%s-%s-v%d" % (infrastructure, major, minor_number, int(revision))


def parse_class_name(name):
    """(infrastructure, '1.34', revision) for a class name of ours, else None."""
    match = _NAME_RE.match(name or "") if isinstance(name, str) else None
    if not match:
        return None
    return match.group(1), "%s.%s" % (match.group(2), match.group(3)), int(match.group(4))


def available_classes():
    """Every shipped class: list of dict(name, infrastructure, minor, revision)."""
    out = []
    for infrastructure in INFRASTRUCTURES:
        for minor in shipped_minors():
            for revision in sorted(REVISIONS[infrastructure]):
                out.append({"name": class_name(infrastructure, minor, revision), "infrastructure": infrastructure,
                            "minor": minor, "revision": revision})
    return out


def latest_revision(infrastructure, minor):
    _check(infrastructure, minor, None)
    return max(REVISIONS[infrastructure])


def _check(infrastructure, minor, revision):
    if infrastructure not in REVISIONS:
        raise ClassError("infrastructure: %r is not supported; use one of %s"
                         % (infrastructure, ", ".join(INFRASTRUCTURES)))
    minor = normalize_minor(minor)
    if minor not in shipped_minors():
        raise ClassError("kubernetes_minor: %r has no shipped cluster class; shipped minors: %s"
                         % (minor, ", ".join(shipped_minors())))
    if revision is not None:
        if isinstance(revision, bool) or not isinstance(revision, int) or revision not in REVISIONS[infrastructure]:
            raise ClassError("revision: %r is not a revision of the %s classes; available: %s"
                             % (revision, infrastructure, ", ".join(str(r) for r in sorted(REVISIONS[infrastructure]))))
    return minor


def _canonical(objects):
    return json.dumps(objects, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def bundle_hash(bundle):
    """sha256 of a bundle, ignoring namespaces and the hash annotation itself."""
    stripped = copy.deepcopy(bundle)
    for obj in stripped:
        meta = obj.get("metadata", {})
        meta.pop("namespace", None)
        annotations = meta.get("annotations") or {}
        annotations.pop(ANNOTATION_HASH, None)
        if not annotations:
            meta.pop("annotations", None)
    return hashlib.sha256(_canonical(stripped).encode("utf-8")).hexdigest()


def class_bundle(infrastructure, minor, revision=None, namespace="default"):
    """The ClusterClass (first) and all its templates, labelled, annotated, in ``namespace``."""
    minor = _check(infrastructure, minor, revision)
    if revision is None:
        revision = max(REVISIONS[infrastructure])
    name = class_name(infrastructure, minor, revision)
    objects = REVISIONS[infrastructure][revision](name, minor)
    labels = {LABEL_INFRASTRUCTURE: infrastructure, LABEL_MINOR: minor, LABEL_REVISION: str(revision)}
    for obj in objects:
        obj["metadata"]["labels"] = dict(labels)
    digest = bundle_hash(objects)
    for obj in objects:
        obj["metadata"]["annotations"] = {ANNOTATION_HASH: digest}
        obj["metadata"]["namespace"] = namespace
    return objects


def capabilities(name):
    """CAPABILITIES of the infrastructure of a shipped class name, or None for a foreign class."""
    parsed = parse_class_name(name)
    return CAPABILITIES[parsed[0]] if parsed else None


def _variables_of(name):
    parsed = parse_class_name(name)
    if parsed is None:
        raise ClassError("class: %r is not a shipped cluster class name (scs-<infra>-<major>-<minor>-v<revision>)"
                         % (name,))
    return parsed


def required_secrets(name, variables):
    """Names of the Secrets (in the Cluster's namespace) a Cluster of class ``name`` needs.

    For openstack classes the cloud credentials Secret of ``identityRef``; none otherwise.
    Raises ClassError when a required variable is missing.
    """
    infrastructure = _variables_of(name)[0]
    if infrastructure != "openstack":
        return []
    identity = (variables or {}).get("identityRef")
    if not isinstance(identity, dict) or not isinstance(identity.get("name"), str) or not identity["name"]:
        raise ClassError("variables.identityRef: %r must be a mapping with the name of the Secret holding "
                         "clouds.yaml (and optional cloudName); class %s requires it" % (identity, name))
    return [identity["name"]]


def validate_variables(name, variables, var_name="variables"):
    """Checks across variables that the class schema cannot express; list of error strings."""
    infrastructure = _variables_of(name)[0]
    variables = variables or {}
    errors = []
    if infrastructure != "openstack":
        return errors
    if variables.get("externalNetworkID") and variables.get("externalNetworkName"):
        errors.append("%s: externalNetworkID and externalNetworkName are both set; set only one"
                      % var_name)
    allowed = variables.get("apiServerAllowedCIDRs") or []
    if allowed and not variables.get("managementClusterEgressCIDR"):
        errors.append("%s.apiServerAllowedCIDRs: %r restricts the API, but managementClusterEgressCIDR is "
                      "not set; set it to the CIDR the management cluster connects from, or it would lock "
                      "itself out" % (var_name, allowed))
    if allowed and variables.get("apiServerLoadBalancer") == "none":
        errors.append("%s.apiServerAllowedCIDRs: %r needs an API load balancer, but apiServerLoadBalancer is "
                      "'none'; use amphora or ovn, or drop the allowed CIDRs" % (var_name, allowed))
    if "identityRef" not in variables:
        errors.append("%s.identityRef: missing; class %s needs {name: <Secret with clouds.yaml>, "
                      "cloudName: <cloud>}" % (var_name, name))
    return errors
