# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Objects in the OpenStack cloud that a spec refers to, looked up read-only before any write.

The class variables that name cloud objects are declared next to the class
(``class_openstack.CLOUD_REFERENCES``: variable -> kind); :func:`references` lists them for a
normalised spec at every level (cluster, control plane, node groups) with the inventory
variable, and :func:`check` looks each up in the cloud of the spec's ``identityRef`` (the
``clouds.yaml`` entry from its Secret; the credentials never leave this process).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible_collections.scs.kaas.plugins.module_utils.capi import class_openstack, classes
from ansible_collections.scs.kaas.plugins.module_utils.openstack import cloud

HAS_OPENSTACKSDK = cloud.HAS_OPENSTACKSDK


def references(spec):
    """[(inventory variable, kind, value)] of the cloud objects a normalised spec names."""
    parsed = classes.parse_class_name(spec.get("class")) if spec.get("class") else None
    if not parsed or parsed[0] != "openstack":
        return []
    var = spec["var_name"]
    levels = [(var + ".variables", spec.get("variables") or {}),
              (var + ".control_plane.variables", (spec.get("control_plane") or {}).get("variables") or {})]
    for index, group in enumerate(spec.get("node_groups") or []):
        levels.append(("%s.node_groups[%d].variables" % (var, index), group.get("variables") or {}))
    out = []
    for prefix, variables in levels:
        for name, kind in sorted(class_openstack.CLOUD_REFERENCES.items()):
            if isinstance(variables.get(name), str):
                out.append(("%s.%s" % (prefix, name), kind, variables[name]))
    return out


def _server_group(conn, value):
    try:
        group = conn.compute.get_server_group(value)
    except Exception as exc:  # pylint: disable=broad-except
        if cloud.is_not_found(exc):
            return None
        raise
    policy = getattr(group, "policy", None) or (list(getattr(group, "policies", None) or []) or [None])[0]
    return {"id": group.id, "name": group.name, "policy": policy}


LOOKUPS = {"server_group": _server_group}


def connect(cloud_entry, ca_pem=None):
    """A connection from one clouds.yaml entry (no files, no environment) and the CA of its Secret."""
    return cloud.connect(cloud_entry=cloud_entry, ca_pem=ca_pem)


def identity_ca(secrets):
    """The PEM under the ``cacert`` key of the spec's identity Secret (CAPO reads the same key), or
    None; ``secrets``: name -> object of the Secrets the spec refers to."""
    for _name, secret in sorted(secrets.items()):
        data = (secret or {}).get("data") or {}
        if data.get("cacert"):
            return base64.b64decode(data["cacert"]).decode("utf-8")
    return None


def check(refs, cloud_name, cloud_entry, connector=None, ca_pem=None):
    """(errors, warnings) for ``refs`` (see :func:`references`) in the given cloud."""
    if not refs:
        return [], []
    if not HAS_OPENSTACKSDK:
        return ["%s: cannot look up %r: the openstacksdk Python package is missing on the host that "
                "runs the module" % (refs[0][0], refs[0][2])], []
    errors, warnings = [], []
    try:
        conn = connector(cloud_entry) if connector else connect(cloud_entry, ca_pem)
        for var, kind, value in refs:
            found = LOOKUPS[kind](conn, value)
            if found is None:
                errors.append("%s: '%s' is not a %s in cloud '%s'; create it or use the ID of an existing one"
                              % (var, value, kind.replace("_", " "), cloud_name))
            elif var.endswith("controlPlaneServerGroupID") and found.get("policy") in ("affinity", "soft-affinity"):
                warnings.append("%s: server group '%s' has policy %s: every control plane server may land on one "
                                "hypervisor; use anti-affinity" % (var, found.get("name") or value, found["policy"]))
    except Exception as exc:  # pylint: disable=broad-except  # any SDK or connection error refuses the spec
        errors.append("%s: cannot look up '%s' in cloud '%s' (%s: %s); the cloud must be reachable from the host "
                      "that runs the module" % (refs[0][0], refs[0][2], cloud_name, type(exc).__name__,
                                                str(exc).split("\n", 1)[0][:200]))
    return errors, warnings
