# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Version rules between the inventory and a live workload Cluster (pure functions).

The inventory's ``kubernetes_version`` is the target. One write may move a Cluster forward by
patch releases or by exactly one minor; ``playbooks/upgrade.yml`` walks larger distances one minor
per write. A version older than the running one is a downgrade: it is refused with the running
version and the values that would be valid, so the operator knows what to write instead.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils import versions

UPGRADE_PLAYBOOK = "playbooks/upgrade.yml"


def live_version(live):
    """The topology version of a live Cluster, or None."""
    return (((live or {}).get("spec") or {}).get("topology") or {}).get("version") or None


def valid_targets(current, available=pins.WORKLOAD_KUBERNETES_VERSIONS):
    """Pinned versions a Cluster running ``current`` may be given (itself and anything newer)."""
    have = versions.parse(current, "current")
    out = [str(have)] if have.exact else []
    for item in available:
        version = versions.parse(item, "available")
        if version.major == have.major and version.sort_key > have.sort_key and str(version) not in out:
            out.append(str(version))
    return out


def downgrade_message(var, wanted, current, where):
    """The refusal of a downgrade: names the variable, the running version and what is valid."""
    return ("%s: '%s' -> '%s' is a downgrade; Kubernetes versions never go down (%s runs %s): set %s to %s "
            "(keep it) or a newer version; valid: %s"
            % (var, current, wanted, where, current, var, current, ", ".join(valid_targets(current))))


def version_step_errors(spec, live):
    """Errors for the step from the live Cluster's version to the spec's (empty when allowed)."""
    var = spec.get("var_name", "workload_cluster") + ".kubernetes_version"
    current = live_version(live)
    if current is None or not spec.get("kubernetes_version"):
        return []
    where = "Cluster %s/%s" % (spec.get("namespace"), spec.get("name"))
    try:
        have = versions.parse(current, "%s (running on %s)" % (var, where))
        want = versions.parse(spec["kubernetes_version"], var)
    except versions.VersionError as exc:
        return [str(exc)]
    if want.minor_tuple < have.minor_tuple or (
            want.minor_tuple == have.minor_tuple and want.exact and have.exact and want.patch < have.patch):
        return [downgrade_message(var, want, have, where)]
    try:
        versions.check_upgrade(have, want, var)
    except versions.VersionError as exc:
        if want.major == have.major and want.minor > have.minor + 1:
            # one write moves a Cluster by one minor; the playbook walks the rest
            return ["%s; or keep %s as the target and run %s, which walks %s there one minor at a time"
                    % (exc, want, UPGRADE_PLAYBOOK, where)]
        return [str(exc)]
    return []
