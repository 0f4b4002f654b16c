# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Shared fixtures of the tooling tests: the CRD YAML of the pinned Go modules.

The CRDs come from the modules the embedded management cluster is built from (the versions in
``pins.py``), found in the Go module cache like ``providers/repository.py`` finds them and
downloaded there when missing (``make test`` fills the cache in its ``binaries`` stage first).
Nothing outside the repository and the module cache is read; a missing directory is a failure.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os

import pytest

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.providers import repository
from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command

# (Go module, version, CRD directories inside the module)
CRD_SOURCES = (
    ("sigs.k8s.io/cluster-api", pins.CLUSTER_API_VERSION,
     ("core/config/crd/bases", "bootstrap/kubeadm/config/crd/bases", "controlplane/kubeadm/config/crd/bases")),
    ("sigs.k8s.io/cluster-api/test", pins.CLUSTER_API_TEST_VERSION, ("infrastructure/docker/config/crd/bases",)),
    ("sigs.k8s.io/cluster-api-provider-openstack", pins.CAPO_VERSION, ("config/crd/bases",)),
)


def pinned_crd_files():
    """{Go module: [CRD YAML files]} of every module in CRD_SOURCES; pytest.fail when missing."""
    out = {}
    for module, version, subdirs in CRD_SOURCES:
        try:
            base = repository.module_dir(local_command.runner(), module, version)
        except repository.RepositoryError as exc:
            pytest.fail("the CRDs of %s@%s are not available: %s (run `make binaries` first)" % (module, version, exc))
        files = []
        for sub in subdirs:
            path = os.path.join(base, sub)
            found = sorted(glob.glob(os.path.join(path, "*.yaml")))
            if not found:
                pytest.fail("no CRD YAML in %s (module %s@%s)" % (path, module, version))
            files += found
        out[module] = files
    return out


@pytest.fixture(scope="session")
def crd_files():
    return pinned_crd_files()
