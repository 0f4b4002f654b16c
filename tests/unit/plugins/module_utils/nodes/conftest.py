# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Fixtures shared by the node unit tests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

# Every binary a node set holds (``node_binaries``), by the names the recipes use.
NODE_BINARY_NAMES = (
    "containerd", "containerd-shim-runc-v2", "ctr", "crictl", "runc", "kubelet", "kubeadm", "kubectl",
    "bridge", "host-local", "loopback", "portmap", "ptp", "kube-apiserver", "kube-controller-manager",
    "kube-scheduler", "kube-proxy", "etcd-server", "pause", "coredns", "flanneld", "metrics-server")


@pytest.fixture
def binaries(tmp_path):
    """Small executable stand-ins for the node binaries: ``{name: path}``, each file holding its name."""
    paths = {}
    for name in NODE_BINARY_NAMES:
        path = tmp_path / "bin" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(name.encode())
        path.chmod(0o755)
        paths[name] = str(path)
    return paths
