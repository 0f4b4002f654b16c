# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The images the add-on charts (``addons/catalog.py``) run, as layered image recipes under the
names their charts ask for, so real nodes pull them through their registry mirror like kubeadm's.

Each binary is built here from its pinned Go module (``node_binaries.ADDON_IMAGES``); each image is
that binary on nothing, as upstream's distroless static images are. Pure data.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils import pins as _pins

# add-on -> the image of its chart's default values (registry, repository, tag)
CHART_IMAGES = {
    "metrics_server": ("registry.k8s.io", "metrics-server/metrics-server", _pins.METRICS_SERVER_IMAGE_VERSION),
}


def recipes(binaries):
    """The recipe of every add-on image; ``binaries`` maps binary names to paths."""
    registry, name, tag = CHART_IMAGES["metrics_server"]
    # upstream's Dockerfile: the static binary as / on distroless static, user nobody; the chart
    # mounts an emptyDir at /tmp for the serving certificate it generates (--cert-dir=/tmp).
    return [{"name": name, "tag": tag, "registry": registry, "base": None,
             "files": {"/metrics-server": {"source": binaries["metrics-server"], "mode": 0o755}},
             "run": [], "changes": ["USER 65534:65534", 'ENTRYPOINT ["/metrics-server"]', "CMD []"]}]
