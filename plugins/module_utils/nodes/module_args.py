# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The options the modules that build images of real nodes share (documented in the doc fragment
scs.kaas.node_build)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

NODE_BUILD_ARGS = dict(
    docker_host=dict(type="str", required=True),
    repository=dict(type="str", default="scs-kaas"),
    docker=dict(type="path", default="/usr/bin/docker"),
    cache_dir=dict(type="path"),
)
