#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: node_image
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Build an image for real nodes from Debian packages and import it into a Docker engine
description:
  - Builds the root file system of O(image) with C(debootstrap) from Debian bookworm, unless the cache
    already holds it under its content key, and imports it into the engine at O(docker_host) with
    C(docker import). No registry is involved.
  - V(haproxy) is the load balancer of the development provider's docker backend. It reads
    C(/usr/local/etc/haproxy/haproxy.cfg) and reloads on SIGHUP, and it copes with a low file
    descriptor limit.
  - V(node-base) is Debian with systemd as init, to the kind node contract (C(/sbin/init), C(container=docker),
    stop signal C(SIGRTMIN+3)).
  - The image is tagged C(<repository>/<image>:bookworm-<content key>) and labelled
    C(org.scs-kaas.content-key). A run that finds it in the engine changes nothing.
  - C(debootstrap) needs the Debian mirror; once the cache holds the root file system, no network is needed.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
  - scs.kaas.node_build
options:
  image:
    description: Which image.
    type: str
    choices: [haproxy, node-base]
    required: true
notes:
  - In check mode the module reports a change when the engine lacks the image, and builds nothing.
"""

EXAMPLES = r"""
- name: The load balancer image for docker-class clusters
  scs.kaas.node_image:
    image: haproxy
    docker_host: "{{ engine.docker_host }}"
  register: lb_image
"""

RETURN = r"""
image:
  description: The image reference in the engine.
  returned: always
  type: str
  sample: scs-kaas/haproxy:bookworm-7985850d62041a3d
key:
  description: The content key of the image's recipe.
  returned: always
  type: str
rootfs:
  description: The cached root file system tar.
  returned: always
  type: str
rootfs_cached:
  description: Whether the root file system came from the cache (no debootstrap ran).
  returned: always
  type: bool
build_seconds:
  description: Seconds the root file system build took (0 when cached).
  returned: always
  type: float
sbom:
  description:
    - The image's bill of materials (CycloneDX 1.6 JSON) in the cache, C(<cache_dir>/nodes/images/), listing every
      Debian package of the image with the sha256 of its C(.deb) and every file the recipe adds.
    - Written when missing or when the root file system was built; in check mode the path it would have.
  returned: always
  type: str
sbom_written:
  description: Whether this run wrote the bill of materials (false in check mode).
  returned: always
  type: bool
"""

import os

from ansible_collections.scs.kaas.plugins.module_utils.command import module_runner
from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule
from ansible_collections.scs.kaas.plugins.module_utils.nodes import image_build, image_recipes
from ansible_collections.scs.kaas.plugins.module_utils.nodes.module_args import NODE_BUILD_ARGS

RECIPES = dict((recipe["name"], recipe) for recipe in image_recipes.RECIPES)


class NodeImageModule(KaasModule):
    argument_spec = dict(
        image=dict(type="str", choices=sorted(RECIPES), required=True),
        **NODE_BUILD_ARGS
    )
    kubeconfig_options = False

    def run(self):
        p = self.params
        recipe = RECIPES[p["image"]]
        runner = module_runner(self.module)
        if self.module.check_mode:
            present = image_build.image_present(recipe, p["repository"], p["docker"], p["docker_host"], runner)
            key = image_recipes.content_key(recipe)
            rootfs = image_build.rootfs_cache_path(p["cache_dir"], recipe, key)
            reference = image_recipes.image_reference(p["repository"], recipe, key)
            return {"changed": not present, "image": reference, "key": key, "rootfs": rootfs,
                    "rootfs_cached": os.path.isfile(rootfs), "build_seconds": 0.0,
                    "sbom": image_build.image_bom_path(p["cache_dir"], reference, key), "sbom_written": False}
        return image_build.ensure_image(recipe, p["repository"], p["docker"], p["docker_host"], runner,
                                        cache_dir=p["cache_dir"], log=self.module.debug)


def main():
    NodeImageModule()()


if __name__ == "__main__":
    main()
