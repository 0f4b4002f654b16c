#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_version
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Validate, normalise and plan Kubernetes versions
description:
  - Validates a Kubernetes version written as V(v1.34.2), V(1.34.2), V(v1.34), V(1.34) or V(1.34.x),
    returns its canonical form and checks it against the minors the pinned Cluster API supports.
  - With O(current), also checks the step from O(current) to O(version) against the upgrade rules of
    workload clusters (patch releases forward freely, the minor goes up by exactly one, nothing goes
    down) and returns the versions to pass through.
  - Errors name O(var_name), the bad value and what would be valid.
  - Reads nothing from and changes nothing on any system.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
options:
  version:
    description: The desired Kubernetes version.
    type: str
    required: true
  current:
    description:
      - The version that runs now. Omit it (or pass an empty string) for a cluster that does not exist yet.
    type: str
  var_name:
    description: Name of the inventory variable O(version) came from, used in error messages.
    type: str
    default: version
  exact:
    description: Require O(version) to name a patch release (V(1.34) is then an error).
    type: bool
    default: false
  minor_range:
    description:
      - Lowest and highest supported minor, inclusive, for example V(["1.31", "1.37"]).
      - Defaults to the workload cluster range of the pinned Cluster API.
    type: list
    elements: str
  available:
    description:
      - Exact versions known to exist, used to resolve a minor-only O(version) and the intermediate
        minors of RV(steps).
      - Defaults to the workload Kubernetes versions the collection pins.
    type: list
    elements: str
  multi_step:
    description:
      - Accept an O(version) several minors ahead of O(current) and return the path in RV(steps)
        (each minor is still applied on its own, in order).
      - When V(false), skipping a minor fails.
    type: bool
    default: false
notes:
  - The module never reports a change.
"""

EXAMPLES = r"""
- name: Validate the inventory's Kubernetes version
  scs.kaas.k8s_version:
    version: "{{ workload_cluster_kubernetes_version }}"
    var_name: workload_cluster_kubernetes_version
    exact: true
  register: k8s

- name: Check one upgrade step (fails when it skips a minor or goes down)
  scs.kaas.k8s_version:
    version: v1.35.4
    current: v1.34.4
    var_name: workload_cluster_kubernetes_version
  register: step

- name: Plan an upgrade over several minors
  scs.kaas.k8s_version:
    version: v1.36.5
    current: v1.34.4
    multi_step: true
  register: plan
  # plan.steps == ["v1.35.4", "v1.36.5"] with the pinned versions
"""

RETURN = r"""
version:
  description: O(version) in canonical form (V(v1.34.2), or V(v1.34) for a minor-only value).
  returned: success
  type: str
  sample: v1.34.2
exact:
  description: Whether O(version) names a patch release.
  returned: success
  type: bool
  sample: true
major:
  description: Major version.
  returned: success
  type: int
  sample: 1
minor:
  description: Minor version.
  returned: success
  type: int
  sample: 34
patch:
  description: Patch version, V(null) for a minor-only value.
  returned: success
  type: int
  sample: 2
minor_version:
  description: The C(major.minor) of O(version).
  returned: success
  type: str
  sample: "1.34"
resolved:
  description:
    - The exact version O(version) stands for; a minor-only value becomes the newest of that minor in
      O(available), or V(null) when O(available) has none.
  returned: success
  type: str
  sample: v1.34.4
minor_range:
  description: The supported minor range that was applied.
  returned: success
  type: list
  elements: str
  sample: ["1.31", "1.37"]
upgrade:
  description:
    - The kind of step from O(current) to O(version), V(create) without O(current), else V(none), V(patch)
      or V(minor).
  returned: success
  type: str
  sample: minor
steps:
  description:
    - The versions to apply in order to get from O(current) to O(version), one minor at a time; empty
      without O(current) or when nothing changes. More than one entry only with O(multi_step=true).
  returned: success
  type: list
  elements: str
  sample: ["v1.35.4"]
"""

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils import versions
from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule


class K8sVersionModule(KaasModule):
    argument_spec = dict(
        version=dict(type="str", required=True),
        current=dict(type="str"),
        var_name=dict(type="str", default="version"),
        exact=dict(type="bool", default=False),
        minor_range=dict(type="list", elements="str"),
        available=dict(type="list", elements="str"),
        multi_step=dict(type="bool", default=False),
    )
    kubeconfig_options = False

    def run(self):
        p = self.params
        var_name = p["var_name"]
        minor_range = p["minor_range"] if p["minor_range"] is not None else list(pins.CAPI_WORKLOAD_MINOR_RANGE)
        if len(minor_range) != 2:
            raise versions.VersionError(
                "minor_range: %s must hold exactly two minors (lowest, highest), e.g. ['1.31', '1.37']"
                % (minor_range,)
            )
        available = p["available"] if p["available"] is not None else list(pins.WORKLOAD_KUBERNETES_VERSIONS)
        for index, item in enumerate(available):
            versions.parse(item, "available[%d]" % index, exact=True)

        wanted = versions.parse(p["version"], var_name, exact=p["exact"])
        versions.check_minor_range(wanted, var_name, minor_range)
        if wanted.exact:
            resolved = str(wanted)
        else:
            try:
                resolved = versions.resolve(wanted, available, var_name)
            except versions.VersionError:
                resolved = None

        current = p["current"]
        if current is None or not current.strip():
            upgrade = versions.check_upgrade(None, wanted, var_name, minor_range, exact=p["exact"])
            steps = []
        else:
            # minor_steps validates current and refuses downgrades, naming var_name.
            steps = versions.minor_steps(current, wanted, available, var_name)
            if p["multi_step"] and len(steps) > 1:
                # Several minors ahead: the first step must itself be a valid one-minor upgrade.
                versions.check_upgrade(current, steps[0], var_name, minor_range, exact=False)
                upgrade = "minor"
            else:
                upgrade = versions.check_upgrade(current, wanted, var_name, minor_range, exact=p["exact"])
        return dict(
            version=str(wanted),
            exact=wanted.exact,
            major=wanted.major,
            minor=wanted.minor,
            patch=wanted.patch,
            minor_version=wanted.minor_version,
            resolved=resolved,
            minor_range=[versions.minor_of(m, "minor_range") for m in minor_range],
            upgrade=upgrade,
            steps=steps,
        )


def main():
    K8sVersionModule()()


if __name__ == "__main__":
    main()
