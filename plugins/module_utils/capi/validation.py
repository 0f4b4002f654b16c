# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Validation of workload cluster specs (pure: no cluster, no network).

``normalize_spec(raw, var_name)`` checks one inventory spec against the declaration in
:mod:`spec` and returns ``(spec, errors)``: ``spec`` is the normalised form that :mod:`topology`
builds objects from, ``errors`` a list of messages, each naming the inventory variable
(``workload_cluster.node_groups[1].name``), the bad value and what would be valid. Nothing is
ever written while ``errors`` is not empty.

The checks that need the management cluster are pure too: the caller reads the ClusterClass,
the live Cluster and the Secrets a spec refers to first (read-only) and passes them to
``check_against_class``, ``check_against_live`` and ``check_references``. ``risks(spec)``
lists valid but risky settings (warnings).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils import versions
from ansible_collections.scs.kaas.plugins.module_utils.capi import checks, class_openstack, classes, upgrade, values
from ansible_collections.scs.kaas.plugins.module_utils.capi import spec as declaration

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    HAS_YAML = False

INFRASTRUCTURES = declaration.INFRASTRUCTURES
DEFAULT_WORKER_CLASS = declaration.DEFAULT_WORKER_CLASS
DEFAULT_POD_CIDRS = declaration.DEFAULT_POD_CIDRS
DEFAULT_SERVICE_CIDRS = declaration.DEFAULT_SERVICE_CIDRS
DEFAULT_SERVICE_DOMAIN = declaration.DEFAULT_SERVICE_DOMAIN

# Kept for callers of the former single-module API.
_Errors = checks.Errors
check_rfc1123_label = checks.rfc1123_label


def parse_duration(errors, var, value):
    """Seconds from an int or a string like '90s', '5m', '1h30m'; None when unset or invalid."""
    return errors.parsed(var, value, values.duration)


def _resolve_class(errors, var, raw, version):
    """Class name from ``class`` or from infrastructure + version minor (+ revision)."""
    cls = raw.get("class")
    infra = raw.get("infrastructure")
    revision = raw.get("class_revision")
    if infra is not None and infra not in INFRASTRUCTURES:
        return None  # reported by the declaration's choices
    if revision is not None and (not values.is_int(revision) or revision < 1):
        errors.add(var + ".class_revision", revision, "is not a class revision", "use an integer >= 1")
        return None
    if cls is not None:
        if not isinstance(cls, str) or len(cls) > 253 or not values.RFC1123_SUBDOMAIN.match(cls):
            errors.add(var + ".class", cls, "is not a ClusterClass name", "e.g. %s" % classes.class_name("inmemory", "1.34", 1))
            return None
        parsed = classes.parse_class_name(cls)
        if parsed and version is not None:
            c_infra, c_minor, c_rev = parsed
            if c_minor != version.minor_version:
                errors.add(var + ".class", cls, "is the class for Kubernetes %s but kubernetes_version is %s" % (c_minor, version),
                           "use %s" % classes.class_name(c_infra, version.minor_version, c_rev))
                return None
            if infra is not None and c_infra != infra:
                errors.add(var + ".class", cls, "is a class for infrastructure %s but infrastructure is %s" % (c_infra, infra),
                           "use a %s class or drop infrastructure" % infra)
                return None
        return cls
    if infra is None:
        errors.raw("%s: neither class nor infrastructure is set; set infrastructure (one of %s) "
                   "or an explicit class name" % (var, ", ".join(INFRASTRUCTURES)))
        return None
    if version is None:
        return None
    if revision is None:
        revs = [c["revision"] for c in classes.available_classes()
                if c["infrastructure"] == infra and c["minor"] == version.minor_version]
        if not revs:
            errors.add(var + ".kubernetes_version", str(version),
                       "has no shipped %s cluster class" % infra,
                       "shipped minors: %s" % ", ".join(sorted(
                           {c["minor"] for c in classes.available_classes() if c["infrastructure"] == infra})))
            return None
        revision = max(revs)
    return classes.class_name(infra, version.minor_version, revision)


def _version(errors, var, raw_version):
    try:
        return versions.check_minor_range(
            versions.resolve(raw_version, pins.WORKLOAD_KUBERNETES_VERSIONS, var),
            var, pins.CAPI_WORKLOAD_MINOR_RANGE)
    except versions.VersionError as exc:
        errors.raw(str(exc))
        return None


def _unique_node_groups(errors, var, groups):
    seen = {}
    out = []
    for index, group in enumerate(groups):
        name = group.get("name")
        if isinstance(name, str) and name in seen:
            errors.add("%s.node_groups[%d].name" % (var, index), name,
                       "duplicates %s.node_groups[%d].name" % (var, seen[name]),
                       "node group names must be unique within a cluster")
            continue
        if isinstance(name, str):
            seen[name] = index
        out.append(group)
    return out


def ip_family(spec):
    """'IPv4', 'IPv6' or 'dual-stack' from the pod and service networks of a normalised spec."""
    network = spec.get("network") or {}
    families = set()
    for cidr in (network.get("pods") or []) + (network.get("services") or []):
        families.add("IPv6" if ":" in cidr else "IPv4")
    if len(families) > 1 or any(len(network.get(k) or []) == 2 for k in ("pods", "services")):
        return "dual-stack"
    return families.pop() if families else "IPv4"


def _variable_sources(spec):
    """(variable path prefix, class variables) of every level: cluster, control plane, groups."""
    var = spec["var_name"]
    # the mapped variables (certSANs, oidc, nodeCIDR) are parsed by their own spec options
    out = [(var + ".variables", spec.get("variables") or {})]
    out.append((var + ".control_plane.variables", spec["control_plane"].get("variables") or {}))
    for index, group in enumerate(spec.get("node_groups") or []):
        out.append(("%s.node_groups[%d].variables" % (var, index), group.get("variables") or {}))
    return out


def check_class_capabilities(errors, spec):
    """The spec asks nothing the chosen (shipped) class cannot honour; class variable values are
    parsed as the kind the class declares for them."""
    caps = classes.capabilities(spec.get("class"))
    if caps is None:
        return
    var = spec["var_name"]
    family = ip_family(spec)
    if family not in caps["ip_families"]:
        errors.add(var + ".network.pods", spec["network"]["pods"] + spec["network"]["services"],
                   "asks for %s networking, which class %s cannot honour" % (family, spec["class"]),
                   "use %s pod and service CIDRs with this class" % " or ".join(caps["ip_families"]))
    for prefix, variables in _variable_sources(spec):
        for path, kind in sorted(caps["value_kinds"].items()):
            name = path.replace("[]", ".[]").split(".")[0]
            for suffix, value in values.values_at({name: variables.get(name)}, path):
                try:
                    values.parse(kind, value)
                except values.Invalid as exc:
                    errors.add(prefix + suffix, value, exc.problem, exc.valid)


def check_image_versions(errors, spec):
    """Every image.nameByVersion (cluster, control plane or node group level) names the image of the
    cluster's kubernetes_version; checked for create and for each step of an upgrade, before any write."""
    parsed = classes.parse_class_name(spec.get("class"))
    if parsed is None:
        return
    for prefix, variables in _variable_sources(spec):
        image = variables.get("image")
        if parsed[0] == "openstack" and parsed[2] < 2 and isinstance(image, dict) and "nameByVersion" in image:
            errors.raw("%s.image.nameByVersion: class %s does not know it (revision 1); use revision 2 or later "
                       "(drop class_revision, or class %s)"
                       % (prefix, spec["class"], classes.class_name("openstack", parsed[1], 2)))
            continue
        for message in class_openstack.image_version_errors(variables.get("image"), spec.get("kubernetes_version"),
                                                            prefix + ".image"):
            errors.raw(message)


def normalize_spec(raw, var_name="workload_cluster", default_name=None):
    """Validate one workload cluster spec; return ``(spec, errors)``."""
    errors = checks.Errors()
    if isinstance(raw, dict) and raw.get("name") is None and default_name is not None:
        raw = dict(raw, name=default_name)
    context = {}
    spec = declaration.walk_mapping(errors, declaration.SPEC, var_name, raw, context)
    if spec is None:
        return None, errors.messages
    raw = raw or {}
    version = _version(errors, var_name + ".kubernetes_version", raw.get("kubernetes_version"))
    spec["kubernetes_version"] = str(version) if version is not None else None
    spec["class"] = _resolve_class(errors, var_name, raw, version)
    spec.pop("infrastructure", None)
    spec.pop("class_revision", None)
    spec["node_groups"] = _unique_node_groups(errors, var_name, spec.get("node_groups") or [])
    spec["var_name"] = var_name
    if spec.get("class") and classes.parse_class_name(spec["class"]) and not errors.messages:
        check_class_capabilities(errors, spec)
        check_image_versions(errors, spec)
        variables = dict(spec["variables"])
        if spec["network"]["nodes"]:
            variables["nodeCIDR"] = spec["network"]["nodes"]
        for message in classes.validate_variables(spec["class"], variables, var_name + ".variables"):
            errors.raw(message)
    return spec, errors.messages


# ---------------------------------------------------------------------------------------------
# Valid but risky settings: warnings in the module result and the log


def _open_to_all(cidr):
    try:
        return values.cidr(cidr).prefixlen == 0
    except values.Invalid:
        return False


def risks(spec):
    """Warnings for valid but risky settings of a normalised spec."""
    var = spec["var_name"]
    out = []
    variables = spec.get("variables") or {}
    allowed = variables.get("apiServerAllowedCIDRs") or []
    wide = [c for c in allowed if _open_to_all(c)]
    if wide:
        out.append("%s.variables.apiServerAllowedCIDRs: %s opens the Kubernetes API to the whole internet while "
                   "the allowed-CIDR restriction is on; list the networks that need the API instead"
                   % (var, ", ".join(wide)))
    groups = variables.get("securityGroups") or {}
    for key in ("allNodesRules", "controlPlaneRules", "workerRules"):
        for index, rule in enumerate(groups.get(key) or []):
            if (isinstance(rule, dict) and rule.get("direction") == "ingress"
                    and _open_to_all(rule.get("remoteIPPrefix"))):
                out.append("%s.variables.securityGroups.%s[%d].remoteIPPrefix: %s opens %s to the whole internet; "
                           "narrow the prefix" % (var, key, index, rule["remoteIPPrefix"], rule.get("name")))
    for index, group in enumerate(spec.get("node_groups") or []):
        unavailable = (group.get("rollout") or {}).get("max_unavailable")
        if unavailable == "100%" or (values.is_int(unavailable) and group.get("replicas")
                                     and unavailable >= group["replicas"]):
            out.append("%s.node_groups[%d].rollout.max_unavailable: %r lets a rollout take down every Machine of "
                       "the group at once; keep it below the group size" % (var, index, unavailable))
    return out


# ---------------------------------------------------------------------------------------------
# Checks against objects read from the management cluster (still pure functions)


def class_variable_names(cluster_class):
    """Names of the variables a ClusterClass defines (spec.variables and status.variables)."""
    names = set()
    for var in (cluster_class.get("spec") or {}).get("variables") or []:
        if var.get("name"):
            names.add(var["name"])
    for var in (cluster_class.get("status") or {}).get("variables") or []:
        if var.get("name"):
            names.add(var["name"])
    return names


def class_worker_classes(cluster_class):
    workers = ((cluster_class.get("spec") or {}).get("workers") or {}).get("machineDeployments") or []
    return [w.get("class") for w in workers if w.get("class")]


def check_against_class(spec, cluster_class, available_names=()):
    """Errors for a missing class, unknown variables and unknown worker classes."""
    var = spec.get("var_name", "workload_cluster")
    errors = checks.Errors()
    if cluster_class is None:
        errors.add(var + ".class", spec.get("class"),
                   "does not exist in namespace %s of the management cluster" % (spec.get("class_namespace") or spec.get("namespace")),
                   "install it first (role cluster_classes); available: %s" % (", ".join(sorted(available_names)) or "none"))
        return errors.messages
    known = class_variable_names(cluster_class)
    used = [("%s.variables.%s" % (var, n), n) for n in spec.get("variables", {})]
    if spec["api"].get("cert_sans"):
        used.append((var + ".api.cert_sans", "certSANs"))
    if spec["api"].get("oidc"):
        used.append((var + ".api.oidc", "oidc"))
    if spec["network"].get("nodes"):
        used.append((var + ".network.nodes", "nodeCIDR"))
    used += [("%s.control_plane.variables.%s" % (var, n), n) for n in spec["control_plane"].get("variables", {})]
    worker_classes = class_worker_classes(cluster_class)
    for i, group in enumerate(spec.get("node_groups", [])):
        gvar = "%s.node_groups[%d]" % (var, i)
        used += [("%s.variables.%s" % (gvar, n), n) for n in group.get("variables", {})]
        if group.get("labels"):
            used.append((gvar + ".labels", "nodeLabels"))
        if group.get("taints"):
            used.append((gvar + ".taints", "nodeTaints"))
        if group.get("class") not in worker_classes:
            errors.add(gvar + ".class", group.get("class"),
                       "is not a worker class of ClusterClass %s" % spec.get("class"),
                       "valid: %s" % (", ".join(worker_classes) or "none"))
    for path, name in used:
        if name not in known:
            errors.add(path, name, "is not a variable of ClusterClass %s" % spec.get("class"),
                       "known variables: %s" % ", ".join(sorted(known)))
    return errors.messages


def check_against_live(spec, live):
    """Errors for forbidden version steps, given the live Cluster (or None); see capi/upgrade.py."""
    return upgrade.version_step_errors(spec, live)


def referenced_secrets(spec):
    """{Secret name: inventory variable} of the Secrets a spec refers to (in its namespace)."""
    if not spec.get("class") or not classes.parse_class_name(spec["class"]):
        return {}
    try:
        names = classes.required_secrets(spec["class"], spec.get("variables"))
    except classes.ClassError:
        return {}
    return dict((name, spec["var_name"] + ".variables.identityRef.name") for name in names)


def _clouds(secret):
    """The ``clouds`` mapping of a Secret's clouds.yaml, or None (content never shown)."""
    data = (secret or {}).get("data") or {}
    try:
        content = yaml.safe_load(base64.b64decode(data["clouds.yaml"])) if HAS_YAML else None
    except Exception:  # pylint: disable=broad-except  # any parse error: the content stays hidden
        content = None
    clouds = content.get("clouds") if isinstance(content, dict) else None
    return clouds if isinstance(clouds, dict) else None


def identity_cloud(spec, secrets):
    """(cloud name, clouds.yaml entry) of the spec's identityRef, or None."""
    for name in referenced_secrets(spec):
        identity = spec["variables"].get("identityRef") or {}
        cloud = identity.get("cloudName") or class_openstack.DEFAULT_CLOUD_NAME
        clouds = _clouds(secrets.get(name))
        if clouds and isinstance(clouds.get(cloud), dict):
            return cloud, clouds[cloud]
    return None


def check_references(spec, secrets):
    """Errors for referenced Secrets that are missing or do not fit; ``secrets``: name -> object or None.

    The identityRef Secret must hold a ``clouds.yaml`` key whose ``clouds`` has the cloud the
    spec names (``cloudName``, default of the class). The Secret's content is never shown.
    """
    errors = []
    for name, var in sorted(referenced_secrets(spec).items()):
        secret = secrets.get(name)
        where = "namespace %s of the management cluster" % spec["namespace"]
        if secret is None:
            errors.append("%s: '%s' names a Secret that does not exist in %s; create it (key clouds.yaml) "
                          "before the cluster" % (var, name, where))
            continue
        data = secret.get("data") or {}
        if "clouds.yaml" not in data:
            errors.append("%s: Secret '%s' in %s has no key clouds.yaml; keys present: %s"
                          % (var, name, where, ", ".join(sorted(data)) or "none"))
            continue
        identity = spec["variables"].get("identityRef") or {}
        cloud = identity.get("cloudName") or class_openstack.DEFAULT_CLOUD_NAME
        clouds = _clouds(secret)
        if clouds is None:
            errors.append("%s: Secret '%s' key clouds.yaml is not a clouds.yaml (no 'clouds' mapping)" % (var, name))
        elif cloud not in clouds:
            errors.append("%s: Secret '%s' clouds.yaml has no cloud '%s' (%s.variables.identityRef.cloudName); "
                          "clouds in it: %s" % (var, name, cloud, spec["var_name"], ", ".join(sorted(clouds)) or "none"))
    return errors
