#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: embedded_build
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Build or find the cached binaries of the embedded management cluster
description:
  - Builds etcd, kube-apiserver, kube-controller-manager, the Cluster API managers (core, kubeadm
    bootstrap, kubeadm control plane), the development provider CAPD, clusterctl and kubectl from
    the pinned Go modules, each through a small wrapper Go module with committed C(go.mod) and
    C(go.sum).
  - Binaries are stamped with their release versions and cached under
    C(<cache_dir>/embedded/<component>/<version>-<key>/), where the key hashes the wrapper module,
    the linker flags, the Go toolchain and the source edit step. A run that finds every binary in
    the cache builds nothing and reports no change.
  - Webhook servers of the Cluster API managers and the listeners of CAPD's in-memory backend are
    bound to 127.0.0.1 by editing a build-time copy of the affected modules; the edit fails the
    build if the expected upstream text is not found.
  - Also returns the Go module cache directories of Cluster API, its test module and CAPO, whose
    C(config/) trees hold the CRDs and webhook manifests.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
options:
  source_dir:
    description:
      - Directory that holds the wrapper modules in its C(go/) subdirectory (the role passes its
        C(files/embedded) directory).
    type: path
    required: true
  cache_dir:
    description:
      - Cache directory; binaries go to its C(embedded/) subdirectory.
      - Defaults to E(SCS_KAAS_CACHE_DIR), else C(~/.cache/scs-kaas).
    type: path
  components:
    description:
      - Components to build or find; when omitted, those that run with O(optional_providers)
        switched on, and the tools V(clusterctl) and V(kubectl).
      - Names of the embedded component registry's records and tools, for example V(etcd),
        V(kube-apiserver), V(capi-manager), V(capd-manager), V(clusterctl) or V(kubectl). An unknown
        name fails before anything is built, and the message lists the valid names.
    type: list
    elements: str
  optional_providers:
    description:
      - Providers of the embedded management cluster that are off by default, to build as well
        (pass the same list to M(scs.kaas.embedded_cluster)).
      - V(openstack) - the Cluster API provider OpenStack (CAPO) and the OpenStack Resource
        Controller (ORC), each built from its own wrapper module at its pinned version.
      - V(addons) - the Cluster API add-on provider Helm (CAAPH), from its own wrapper module.
      - Ignored when O(components) is given.
    type: list
    elements: str
    choices: [addons, openstack]
    default: []
attributes:
  check_mode:
    details: Reports in RV(built) what would be built; builds nothing.
notes:
  - Needs a Go toolchain (at least the version in the collection's pins) on E(PATH), in
    C(/usr/local/go/bin) or named by E(SCS_KAAS_GO), and access to a Go module proxy for the
    first build. Go's module and build caches stay at Go's defaults.
  - A cold build of everything takes many minutes (kube-apiserver alone several minutes on two cores).
requirements:
  - Go >= 1.26
seealso:
  - module: scs.kaas.embedded_cluster
"""

EXAMPLES = r"""
- name: Build (or find cached) binaries
  scs.kaas.embedded_build:
    source_dir: "{{ role_path }}/files/embedded"
  register: build

- name: Only the etcd and kube-apiserver binaries, in a custom cache
  scs.kaas.embedded_build:
    source_dir: "{{ role_path }}/files/embedded"
    cache_dir: /var/cache/scs-kaas
    components: [etcd, kube-apiserver]
"""

RETURN = r"""
binaries:
  description: Component name to absolute path of its executable.
  returned: always
  type: dict
  sample:
    kube-apiserver: /home/user/.cache/scs-kaas/embedded/kube-apiserver/v1.36.5-6d8644f9bfd9f7f0/kube-apiserver
module_dirs:
  description: Go module cache directories of V(cluster-api), V(cluster-api-test) and V(cluster-api-provider-openstack).
  returned: always
  type: dict
built:
  description: Components built by this run (in check mode - that would be built).
  returned: always
  type: list
  elements: str
timings:
  description: >-
    Seconds per step - C(resolve) (per wrapper module), C(download) (modules fetched for the
    packages, per wrapper module), C(build) (per component) and C(total).
  returned: always
  type: dict
patched_sources:
  description: Edited module copies used by this run's builds (module to directory).
  returned: always
  type: dict
messages:
  description: Progress messages.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.scs.kaas.plugins.module_utils.embedded import build, registry
from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule


class EmbeddedBuildModule(KaasModule):
    argument_spec = dict(
        source_dir=dict(type="path", required=True),
        cache_dir=dict(type="path"),
        # No ``choices``: the registry is the list (ensure_binaries refuses unknown names first).
        components=dict(type="list", elements="str"),
        optional_providers=dict(type="list", elements="str", choices=sorted(registry.SWITCHES), default=[]),
    )
    kubeconfig_options = False

    def __init__(self):
        self.messages = []
        super(EmbeddedBuildModule, self).__init__()

    def log(self, msg):
        self.messages.append(msg)
        self.module.debug(msg)

    def failure_result(self):
        return {"messages": self.messages}

    def run(self):
        p = self.params
        result = build.ensure_binaries(p["source_dir"], self.runner, cache_dir=p.get("cache_dir"),
                                       components=p.get("components"), log=self.log, check_mode=self.module.check_mode,
                                       switches=p["optional_providers"])
        result["changed"] = bool(result["built"])
        result["messages"] = self.messages
        return result


def main():
    EmbeddedBuildModule()()


if __name__ == "__main__":
    main()
