# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The binaries of a real node and its control plane images, per workload Kubernetes version,
built from pinned Go modules with a bill of materials.

One set per version of ``pins.NODE_KUBERNETES_VERSIONS``: kubelet, kubeadm, kubectl,
kube-apiserver, kube-controller-manager, kube-scheduler and kube-proxy of that version, and the
node's runtime (containerd with its runc shim and ctr, runc, crictl, the CNI plugins a kind-style
node uses). Each binary is a :class:`~..embedded.registry.Binary` built by the embedded build
(``embedded/build.py``: same wrapper modules under ``roles/management_cluster/files/embedded/go/``,
same content-keyed cache), so the management pin's kube-apiserver, kube-controller-manager and
kubectl are the very binaries the embedded management cluster runs.

:func:`ensure_node_binaries` builds what is missing and writes the set's CycloneDX bill of
materials (``sbom.py``) next to the cache; a warm call builds and writes nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import tempfile

from ansible_collections.scs.kaas.plugins.module_utils import pins as _pins
from ansible_collections.scs.kaas.plugins.module_utils.embedded import build as _build
from ansible_collections.scs.kaas.plugins.module_utils.embedded import registry as _registry
from ansible_collections.scs.kaas.plugins.module_utils.embedded.build_cache import default_cache_dir
from ansible_collections.scs.kaas.plugins.module_utils.embedded.go_tool import _run, find_go, go_env
from ansible_collections.scs.kaas.plugins.module_utils.errors import BuildError
from ansible_collections.scs.kaas.plugins.module_utils.nodes import sbom as _sbom

Binary = _registry.Binary
WrapperModule = _registry.WrapperModule

KUBERNETES_COMMANDS = ("kubelet", "kubeadm", "kubectl", "kube-apiserver", "kube-controller-manager",
                       "kube-scheduler", "kube-proxy")

# Wrapper module per Kubernetes version and command. The management pin reuses the embedded
# cluster's kubernetes and kubectl wrappers (shared binaries) and adds the node-only commands in
# kubernetes-node, whose dependency versions are the kubernetes wrapper's.
_MANAGEMENT_WRAPPERS = {"kube-apiserver": "kubernetes", "kube-controller-manager": "kubernetes",
                        "kubectl": "kubectl"}
KUBERNETES_WRAPPERS = {
    _pins.KUBERNETES_MANAGEMENT_VERSION: dict(
        (command, _MANAGEMENT_WRAPPERS.get(command, "kubernetes-node")) for command in KUBERNETES_COMMANDS),
    "v1.35.4": dict((command, "kubernetes-1.35") for command in KUBERNETES_COMMANDS),
}

_CONTAINERD = "github.com/containerd/containerd/v2"
_CNI = "github.com/containernetworking/plugins"
# The node's runtime, the same for every Kubernetes version of NODE_KUBERNETES_VERSIONS.
RUNTIME = (
    Binary("containerd", "containerd", _CONTAINERD + "/cmd/containerd", _pins.CONTAINERD_VERSION),
    Binary("containerd-shim-runc-v2", "containerd", _CONTAINERD + "/cmd/containerd-shim-runc-v2",
           _pins.CONTAINERD_VERSION),
    Binary("ctr", "containerd", _CONTAINERD + "/cmd/ctr", _pins.CONTAINERD_VERSION),
    Binary("runc", "runc", "github.com/opencontainers/runc", _pins.RUNC_VERSION),
    Binary("crictl", "cri-tools", "sigs.k8s.io/cri-tools/cmd/crictl", _pins.CRI_TOOLS_VERSION),
    Binary("bridge", "cni-plugins", _CNI + "/plugins/main/bridge", _pins.CNI_PLUGINS_VERSION),
    Binary("host-local", "cni-plugins", _CNI + "/plugins/ipam/host-local", _pins.CNI_PLUGINS_VERSION),
    Binary("loopback", "cni-plugins", _CNI + "/plugins/main/loopback", _pins.CNI_PLUGINS_VERSION),
    Binary("portmap", "cni-plugins", _CNI + "/plugins/meta/portmap", _pins.CNI_PLUGINS_VERSION),
    Binary("ptp", "cni-plugins", _CNI + "/plugins/main/ptp", _pins.CNI_PLUGINS_VERSION),
)

# How the runtime's wrapper modules are stamped and built: static binaries as upstream releases
# them (CGO_ENABLED=0), except runc, which needs cgo for seccomp and links libseccomp (and glibc)
# statically from Debian's -dev packages, with its Makefile's static tags minus libpathrs (a Rust
# library Debian 12 does not package; runc falls back to its Go path resolution).
_STATIC = {"CGO_ENABLED": "0"}
NODE_WRAPPER_MODULES = {
    "kubernetes-node": _registry.WRAPPER_MODULES["kubernetes"],
    "kubernetes-1.35": _registry.WRAPPER_MODULES["kubernetes"],
    "containerd": WrapperModule(_CONTAINERD, stamp_vars=(
        (_CONTAINERD + "/version.Version", "version"), (_CONTAINERD + "/version.Revision", "commit")), env=_STATIC),
    "runc": WrapperModule("github.com/opencontainers/runc", stamp_vars=(("main.gitCommit", "commit"),),
                          env={"CGO_ENABLED": "1"}, tags=("seccomp", "urfave_cli_no_docs", "netgo", "osusergo"),
                          extldflags="-static", static_libraries=("libseccomp-dev", "libc6-dev")),
    "cri-tools": WrapperModule("sigs.k8s.io/cri-tools", stamp_vars=(
        ("sigs.k8s.io/cri-tools/pkg/version.Version", "bare_version"),), env=_STATIC),
    "cni-plugins": WrapperModule(_CNI, stamp_vars=(
        (_CNI + "/pkg/utils/buildversion.BuildVersion", "version"),), env=_STATIC),
}

RUNTIME_NAMES = tuple(b.name for b in RUNTIME)


def validate_version(version, var_name="kubernetes_version"):
    """``version`` if node binaries can be built for it, else BuildError naming the valid ones."""
    if version not in _pins.NODE_KUBERNETES_VERSIONS:
        raise BuildError("%s: node binaries are built for %s, not %r" % (
            var_name, ", ".join(_pins.NODE_KUBERNETES_VERSIONS), version))
    return version


def records(version, names=None):
    """``{name: Binary}`` of the node set of Kubernetes ``version`` (or its ``names`` only, in
    set order); BuildError names an unknown binary or version."""
    validate_version(version)
    wrappers = KUBERNETES_WRAPPERS[version]
    full = [Binary(c, wrappers[c], "k8s.io/kubernetes/cmd/" + c, version) for c in KUBERNETES_COMMANDS]
    full += list(RUNTIME)
    valid = [b.name for b in full]
    unknown = sorted(set(names or ()) - set(valid))
    if unknown:
        raise BuildError("node binaries: unknown %s; valid: %s" % (", ".join(unknown), ", ".join(valid)))
    return dict((b.name, b) for b in full if names is None or b.name in names)


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _static_libraries(binary):
    path = os.path.join(os.path.dirname(binary), "build.json")
    if not os.path.isfile(path):
        return {}
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f).get("static_libraries") or {}


def bom_path(cache_dir, version, binaries):
    """Where the bill of materials of a set lives: named after its version and its binaries'
    cache paths (which carry their content keys)."""
    key = hashlib.sha256(json.dumps(sorted(binaries.items())).encode("utf-8")).hexdigest()[:16]
    return os.path.join(cache_dir, "nodes", "binaries", "%s-%s" % (version, key), "sbom.cdx.json")


def write_bom(runner, version, binaries, path):
    """Read each binary's build information (``go version -m``) and sha256 and write the set's
    CycloneDX document to ``path`` (atomically)."""
    go = find_go()
    entries = []
    for name in sorted(binaries):
        info = _run(runner, [go, "version", "-m", binaries[name]], None, go_env(), "go version -m %s" % name)
        entries.append({"name": name, "sha256": _sha256(binaries[name]), "build_info": info,
                        "static_libraries": _static_libraries(binaries[name])})
    document = _sbom.bom("scs-kaas-node-binaries", version, entries)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=1, sort_keys=True)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)
    return document


def ensure_node_binaries(source_dir, runner, version, names=None, cache_dir=None, log=_build._stderr_log,
                         check_mode=False):
    """Make sure the node set of Kubernetes ``version`` (or its binaries ``names``) is in the cache
    with its bill of materials; build what is missing.

    Returns :func:`embedded.build.build_set`'s result plus ``sbom`` (the document's path) and
    ``sbom_written`` (False when it was there already, or in check mode).
    """
    wanted = records(version, names)
    cache_dir = os.path.abspath(cache_dir or default_cache_dir())
    result = _build.build_set(source_dir, runner, wanted, modules=NODE_WRAPPER_MODULES, cache_dir=cache_dir,
                              log=log, check_mode=check_mode)
    path = bom_path(cache_dir, version, result["binaries"])
    result["sbom"], result["sbom_written"] = path, False
    if not check_mode and not os.path.isfile(path):
        write_bom(runner, version, result["binaries"], path)
        result["sbom_written"] = True
        log("bill of materials: %s" % path)
    return result
