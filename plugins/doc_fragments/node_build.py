# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The engine and cache options of the modules that build images of real nodes, scs.kaas.node_image
    # and scs.kaas.node_cluster_images (argument spec: NODE_BUILD_ARGS in
    # plugins/module_utils/nodes/module_args.py).
    DOCUMENTATION = r"""
options:
  docker_host:
    description: The engine, as a C(DOCKER_HOST) value (RV(scs.kaas.docker_engine#module:docker_host)).
    type: str
    required: true
  repository:
    description: Repository prefix of the images built in the engine (C(node-base), the load balancer, the node image).
    type: str
    default: scs-kaas
  docker:
    description: The docker command line client.
    type: path
    default: /usr/bin/docker
  cache_dir:
    description: Cache directory of binaries, root file systems and bills of materials; defaults to C(${SCS_KAAS_CACHE_DIR:-~/.cache/scs-kaas}).
    type: path
"""
