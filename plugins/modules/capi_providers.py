#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: capi_providers
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Install or upgrade the Cluster API providers of a management cluster
description:
  - Reads the clusterctl Provider inventory (C(providers.clusterctl.cluster.x-k8s.io)) and decides per
    provider between C(clusterctl init) (not installed), C(clusterctl upgrade apply) (installed older)
    and nothing (same version). A newer installed version is refused; versions never go down.
  - Every version is pinned in the collection (C(plugins/module_utils/pins.py)) - Cluster API core,
    kubeadm bootstrap and control plane, CAPO, the Helm add-on provider (CAAPH), ORC and optionally the
    SCS cluster-stack operator.
  - Builds a local clusterctl repository from the pinned Go modules' own C(config/) (components at the
    pinned image tags plus C(metadata.yaml)), and a C(clusterctl.yaml) with C(file://) URLs, so clusterctl
    needs no network; with O(mirror) images are rewritten to a registry mirror.
  - Before an upgrade it runs C(clusterctl upgrade plan) (returned) and refuses when that plan disagrees
    with the inventory decision, then backs up with C(clusterctl move --to-directory).
  - After install or upgrade, it makes sure the controller Deployments carry the feature gates the
    collection needs (C(ClusterTopology=true) on core and kubeadm control plane) and patches them if not.
  - ORC and the cluster-stack operator are not clusterctl providers; their manifests are applied with
    server-side apply, sending nothing when they are already converged.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
  - scs.kaas.kubeconfig
  - scs.kaas.providers
options:
  repository:
    description:
      - Directory of the local provider repository (built here when O(build_repository=true)).
      - Required when something is to be installed or upgraded, or when O(providers) has C(orc) or C(cso).
    type: path
  build_repository:
    description: Build or refresh the repository from the Go module cache (downloading modules via the Go proxy when missing).
    type: bool
    default: true
  mirror:
    description:
      - Registry repository that mirrors every image (e.g. V(registry.example.com/capi)); written to
        C(clusterctl.yaml) as the C(images.all.repository) override and used for ORC and CSO images.
      - The list of images to mirror is returned and written to C(images.txt) in the repository.
    type: str
  cert_manager_manifest:
    description:
      - cert-manager release manifest (C(cert-manager.yaml)) for air-gapped installs; checked against
        the checksum table, which has no verified upstream checksum for it, so give O(cert_manager_sha256)
        or set O(allow_unverified_artifacts).
    type: path
  cert_manager_sha256:
    description: sha256 of O(cert_manager_manifest) that the operator verified.
    type: str
  allow_unverified_artifacts:
    description: Accept artifacts whose checksum is not verified (explicit operator override).
    type: bool
    default: false
  backup:
    description: Back up with C(clusterctl move --to-directory) before upgrading.
    type: bool
    default: true
  backup_dir:
    description: Directory under which a time-stamped backup is written (mode 0700). Required for upgrades when O(backup=true).
    type: path
  wait_providers:
    description: Pass C(--wait-providers) to clusterctl.
    type: bool
    default: true
  manage_feature_gates:
    description: Check, and outside check mode patch, the feature gates of the provider Deployments.
    type: bool
    default: true
  timeout:
    description: Limit in seconds for each clusterctl command.
    type: int
    default: 900
requirements:
  - kubernetes
  - PyYAML
  - kustomize or kubectl (to build the repository), Go (when modules are not yet in the module cache)
seealso:
  - module: scs.kaas.capi_providers_info
"""

EXAMPLES = r"""
- name: Install or upgrade the pinned providers from a local repository
  scs.kaas.capi_providers:
    kubeconfig: ~/.kube/management.yaml
    repository: /var/lib/scs-kaas/provider-repository
    clusterctl: /usr/local/bin/clusterctl
    backup_dir: /var/backups/scs-kaas
    mirror: registry.example.com/capi
  register: providers

- name: Show what clusterctl would upgrade
  ansible.builtin.debug:
    var: providers.upgrade_plan
"""

RETURN = r"""
decision:
  description: Per provider the desired and installed version and the action (init, upgrade, none, error).
  returned: always
  type: dict
installed:
  description: The clusterctl Provider inventory as read.
  returned: always
  type: list
  elements: dict
versions:
  description: Pinned version per provider key.
  returned: always
  type: dict
upgrade_plan:
  description: Output of C(clusterctl upgrade plan) (only when an upgrade is due).
  returned: when an upgrade is due
  type: str
upgrade_plan_rows:
  description: The parsed rows of RV(upgrade_plan).
  returned: when an upgrade is due
  type: list
  elements: dict
plan_disagreements:
  description: Differences between clusterctl's plan and the decision (empty when they agree).
  returned: when an upgrade is due
  type: list
  elements: str
backup:
  description: Directory of the backup written before the upgrade.
  returned: when a backup was written
  type: str
commands:
  description: clusterctl commands run (the kubeconfig appears as a path only).
  returned: always
  type: list
  elements: str
repository:
  description: Repository directory, whether it changed, the images and the mirror list (source, target).
  returned: when O(build_repository=true) and O(repository) is set
  type: dict
extras:
  description: Objects of ORC / cluster-stack operator manifests that were (or would be) applied.
  returned: when O(providers) has orc or cso
  type: dict
feature_gates:
  description: Per provider Deployment that needs gates, its args and the args it should have.
  returned: when O(manage_feature_gates=true)
  type: list
  elements: dict
patched_deployments:
  description: Deployments whose feature gates were (or would be) patched.
  returned: when O(manage_feature_gates=true)
  type: list
  elements: str
"""

from ansible_collections.scs.kaas.plugins.module_utils.providers.module import ProvidersModule


def main():
    ProvidersModule()()


if __name__ == "__main__":
    main()
