#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: artifact_verify
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Check a pinned artifact against the collection's checksum table
description:
  - Looks up the artifact (name, version, architecture, file name) in the checksum table of the
    collection (C(plugins/module_utils/artifacts.py)), where every checksum cites its upstream source.
  - Fails when the table has no entry, when the entry is unverified and the operator gave neither an
    override checksum nor O(allow_unverified=true), or when the file's sha256 differs.
  - Reads only; runs the same in check mode.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
options:
  name:
    description: Artifact name in the table (V(k3s), V(kind), V(cert-manager)).
    type: str
    required: true
  version:
    description: Pinned version.
    type: str
    required: true
  arch:
    description: Architecture (V(amd64), V(arm64); V(all) for architecture-independent files).
    type: str
    required: true
  filename:
    description: Release file name.
    type: str
    required: true
  path:
    description: Local file to check. When omitted only the table is consulted.
    type: path
  overrides:
    description: Operator-verified checksums keyed C(<name>/<version>/<arch>/<filename>).
    type: dict
    default: {}
  allow_unverified:
    description: Accept an artifact without a verified checksum (explicit override).
    type: bool
    default: false
  var_name:
    description: Inventory variable named in error messages.
    type: str
    default: artifact
"""

EXAMPLES = r"""
- name: Verify the k3s binary before copying it to the servers
  scs.kaas.artifact_verify:
    name: k3s
    version: v1.34.4+k3s1
    arch: amd64
    filename: k3s
    path: /srv/artifacts/k3s
    overrides: "{{ management_cluster_artifact_sha256_overrides }}"
  delegate_to: localhost
"""

RETURN = r"""
sha256:
  description: The expected sha256 (null when unverified and allowed).
  returned: always
  type: str
actual_sha256:
  description: The file's sha256.
  returned: when O(path) is given
  type: str
origin:
  description: Where the expected checksum comes from (C(table), C(override), C(unverified-allowed)).
  returned: always
  type: str
source:
  description: The upstream source the table cites for this artifact.
  returned: always
  type: str
url:
  description: Upstream download address.
  returned: always
  type: str
"""

from ansible_collections.scs.kaas.plugins.module_utils import artifacts
from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule


class ArtifactVerify(KaasModule):
    argument_spec = dict(
        name=dict(type="str", required=True),
        version=dict(type="str", required=True),
        arch=dict(type="str", required=True),
        filename=dict(type="str", required=True),
        path=dict(type="path"),
        overrides=dict(type="dict", default={}),
        allow_unverified=dict(type="bool", default=False),
        var_name=dict(type="str", default="artifact"),
    )
    kubeconfig_options = False

    def run(self):
        p = self.params
        expected = artifacts.expected_sha256(p["name"], p["version"], p["arch"], p["filename"],
                                             overrides=p["overrides"], allow_unverified=p["allow_unverified"],
                                             var_name=p["var_name"])
        result = {"changed": False, "sha256": expected["sha256"], "origin": expected["origin"],
                  "source": expected["entry"]["source"], "url": expected["entry"]["url"]}
        if p["path"]:
            result["actual_sha256"] = artifacts.verify_file(p["path"], expected, p["var_name"])
        if expected["origin"] == "unverified-allowed":
            self.module.warn("%s: %s/%s/%s/%s installed WITHOUT a verified checksum (allow_unverified)"
                             % (p["var_name"], p["name"], p["version"], p["arch"], p["filename"]))
        return result


def main():
    ArtifactVerify()()


if __name__ == "__main__":
    main()
