# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The binaries of a real node and its control plane images, per workload Kubernetes version,
built from pinned Go modules with a bill of materials.

One set per version of ``pins.NODE_KUBERNETES_VERSIONS``: kubelet, kubeadm, kubectl,
kube-apiserver, kube-controller-manager, kube-scheduler and kube-proxy of that version, the
CoreDNS and pause its kubeadm deploys (pause is compiled from C: ``c_binaries.py``), and the
node's runtime (containerd with its runc shim and ctr, runc, crictl, the CNI plugins a kind-style
node uses, flanneld). Each binary is a :class:`~..embedded.registry.Binary` built by the embedded build
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
import re
import time

from ansible_collections.scs.kaas.plugins.module_utils import pins as _pins
from ansible_collections.scs.kaas.plugins.module_utils.embedded import build as _build
from ansible_collections.scs.kaas.plugins.module_utils.embedded import registry as _registry
from ansible_collections.scs.kaas.plugins.module_utils.embedded.build_cache import (
    _is_executable, default_cache_dir, file_sha256)
from ansible_collections.scs.kaas.plugins.module_utils.embedded.go_tool import (
    _run, download_modules, find_go, go_env, wrapper_dir)
from ansible_collections.scs.kaas.plugins.module_utils.errors import BuildError
from ansible_collections.scs.kaas.plugins.module_utils.files import write_json
from ansible_collections.scs.kaas.plugins.module_utils.nodes import c_binaries as _c_binaries
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
_COREDNS = "github.com/coredns/coredns"
_FLANNEL = "github.com/flannel-io/flannel"
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
    # kubeadm's etcd static pod runs upstream's etcd command, not the embedded cluster's wrapper.
    Binary("etcd-server", "etcd-node", "go.etcd.io/etcd/server/v3", _pins.ETCD_VERSION),
    # The baseline CNI's daemon (its pod network config is rendered for the bridge plugin above).
    Binary("flanneld", "flannel", _FLANNEL, _pins.FLANNEL_VERSION),
)

# The images the add-on charts run on real nodes (addons/catalog.py), built beside the node's own.
ADDON_IMAGES = (
    Binary("metrics-server", "metrics-server", "sigs.k8s.io/metrics-server/cmd/metrics-server",
           _pins.METRICS_SERVER_IMAGE_VERSION),
)

# CoreDNS at the version kubeadm of each node version deploys: one wrapper module per CoreDNS
# release (its own dependency versions), like the Kubernetes wrappers.
COREDNS_WRAPPERS = {"v1.36.5": "coredns", "v1.35.4": "coredns-1.13"}

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
    "etcd-node": WrapperModule("go.etcd.io/etcd/server/v3", stamp_vars=(
        ("go.etcd.io/etcd/api/v3/version.GitSHA", "commit"),), env=_STATIC),
    # CoreDNS as its Makefile builds it: CGO_ENABLED=0, GitCommit stamped with `git describe
    # --always` (the short commit: its release tags are not annotated), tags GOTAGS (grpcnotrace
    # since v1.14; none before).
    "coredns": WrapperModule(_COREDNS, stamp_vars=((_COREDNS + "/coremain.GitCommit", "short_commit"),),
                             env=_STATIC, tags=("grpcnotrace",)),
    "coredns-1.13": WrapperModule(_COREDNS, stamp_vars=((_COREDNS + "/coremain.GitCommit", "short_commit"),),
                                  env=_STATIC),
    # flanneld as its Makefile builds it on amd64: cgo on (the UDP backend's C proxy), linked
    # statically, pkg/version.Version stamped. Upstream links musl (Alpine); here Debian's glibc,
    # so the netgo and osusergo tags keep name lookups in Go (a static glibc cannot load NSS
    # modules safely), as runc does. The edit step leaves the Tencent Cloud VPC backend out
    # (build.EDITS).
    "flannel": WrapperModule(_FLANNEL, stamp_vars=((_FLANNEL + "/pkg/version.Version", "version"),),
                             env={"CGO_ENABLED": "1"}, tags=("netgo", "osusergo"), extldflags="-static",
                             static_libraries=("libc6-dev",), edits=(_FLANNEL,)),
    # metrics-server as its Makefile builds it: CGO_ENABLED=0, client-go's version variables stamped.
    "metrics-server": WrapperModule("sigs.k8s.io/metrics-server", stamp_packages=("k8s.io/client-go/pkg/version",),
                                    env=_STATIC),
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
    full.append(Binary("coredns", COREDNS_WRAPPERS[version], _COREDNS, _pins.COREDNS_VERSIONS[version]))
    full.append(_c_binaries.pause(version, _pins.PAUSE_VERSIONS[version]))
    full += list(RUNTIME) + list(ADDON_IMAGES)
    valid = [b.name for b in full]
    unknown = sorted(set(names or ()) - set(valid))
    if unknown:
        raise BuildError("node binaries: unknown %s; valid: %s" % (", ".join(unknown), ", ".join(valid)))
    return dict((b.name, b) for b in full if names is None or b.name in names)


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


def _bom_entry(runner, name, binary):
    entry = {"name": name, "sha256": file_sha256(binary)}
    c_build = _c_binaries.read_build_info(binary)
    if c_build:
        entry.update(c_build=c_build, static_libraries=c_build["static_libraries"])
    else:
        entry.update(build_info=_run(runner, [find_go(), "version", "-m", binary], None, go_env(),
                                     "go version -m %s" % name),
                     static_libraries=_static_libraries(binary))
    return entry


# The entries read in this process, by name, path, size and mtime: the set's document and the
# documents of the images holding its binaries ask for the same ones.
_BOM_ENTRIES = {}


def bom_entries(runner, binaries):
    """The bill-of-materials entries (``sbom.bom``'s input) of ``binaries`` (``{name: path}``), in
    name order: each binary's sha256 and build information (``go version -m``, or the
    ``build.json`` of a C build), read once per process."""
    entries = []
    for name in sorted(binaries):
        stat = os.stat(binaries[name])
        marker = (name, binaries[name], stat.st_size, stat.st_mtime_ns)
        if marker not in _BOM_ENTRIES:
            _BOM_ENTRIES[marker] = _bom_entry(runner, name, binaries[name])
        entries.append(_BOM_ENTRIES[marker])
    return entries


def write_bom(runner, version, binaries, path):
    """Write the CycloneDX document of the set ``binaries`` (``{name: path}``) to ``path``
    (atomically)."""
    document = _sbom.bom("scs-kaas-node-binaries", version, bom_entries(runner, binaries))
    write_json(path, document)
    return document


def kubeadm_image_versions(constants_go):
    """``{"coredns": ..., "pause": ...}``: the CoreDNSVersion and PauseVersion constants of a
    kubeadm ``cmd/kubeadm/app/constants/constants.go`` text; BuildError when one is missing."""
    found = dict((name, re.search(r'^\s*%s\s*=\s*"([^"]+)"' % constant, constants_go, re.M))
                 for name, constant in (("coredns", "CoreDNSVersion"), ("pause", "PauseVersion")))
    missing = sorted(name for name, match in found.items() if not match)
    if missing:
        raise BuildError("kubeadm constants: no version of %s found" % ", ".join(missing))
    return dict((name, match.group(1)) for name, match in found.items())


def _check_kubeadm_pins(version, kubernetes_dir):
    """The CoreDNS and pause pins of ``version`` are what its kubeadm deploys (else BuildError)."""
    with open(os.path.join(kubernetes_dir, "cmd", "kubeadm", "app", "constants", "constants.go"), "r",
              encoding="utf-8") as f:
        expected = kubeadm_image_versions(f.read())
    pinned = {"coredns": _pins.COREDNS_VERSIONS[version], "pause": _pins.PAUSE_VERSIONS[version]}
    if pinned != expected:
        raise BuildError("pins.py: kubeadm %s deploys CoreDNS %s and pause %s, the pins say %s and %s"
                         % (version, expected["coredns"], expected["pause"], pinned["coredns"], pinned["pause"]))


def _kubernetes_module(source_dir, runner, version):
    """``go mod download -json`` information of the set's k8s.io/kubernetes (verified by the go.sum
    of the wrapper that builds kubeadm)."""
    wdir = wrapper_dir(source_dir, KUBERNETES_WRAPPERS[version]["kubeadm"])
    return download_modules(runner, find_go(), wdir, ["k8s.io/kubernetes"], go_env())["k8s.io/kubernetes"]


def _ensure_c_binaries(runner, records_c, kubernetes, cache_dir, log, check_mode, result):
    """Build (or find) the C binaries ``records_c`` (sources in the ``kubernetes`` module) and
    merge them into ``result``."""
    tools = _c_binaries.toolchain(runner) if records_c else None
    for record in records_c:
        step = _c_binaries.plan(record, kubernetes, cache_dir, tools)
        result["binaries"][record.name] = step["binary"]
        if not _is_executable(step["binary"]):
            if not check_mode:
                result["timings"].setdefault("build", {})[record.name] = _c_binaries.build(runner, step, log)
            result["built"].append(record.name)


def ensure_node_binaries(source_dir, runner, version, names=None, cache_dir=None, log=_build._stderr_log,
                         check_mode=False):
    """Make sure the node set of Kubernetes ``version`` (or its binaries ``names``) is in the cache
    with its bill of materials; build what is missing.

    Returns :func:`embedded.build.build_set`'s result plus ``sbom`` (the document's path) and
    ``sbom_written`` (False when it was there already, or in check mode).
    """
    wanted = records(version, names)
    go_records = dict((n, r) for n, r in wanted.items() if isinstance(r, Binary))
    c_records = [r for r in wanted.values() if not isinstance(r, Binary)]
    cache_dir = os.path.abspath(cache_dir or default_cache_dir())
    kubernetes, start = None, time.time()
    if c_records or "coredns" in wanted:
        # Before anything is built: the pins must be what this kubeadm deploys.
        kubernetes = _kubernetes_module(source_dir, runner, version)
        _check_kubeadm_pins(version, kubernetes["Dir"])
    took = round(time.time() - start, 2)
    if go_records:
        result = _build.build_set(source_dir, runner, go_records, modules=NODE_WRAPPER_MODULES,
                                  cache_dir=cache_dir, log=log, check_mode=check_mode)
    else:
        result = {"binaries": {}, "module_dirs": {}, "timings": {}, "built": [], "patched_sources": {}}
    if kubernetes:
        result["timings"].setdefault("resolve", {})["kubeadm constants"] = took
    _ensure_c_binaries(runner, c_records, kubernetes, cache_dir, log, check_mode, result)
    path = bom_path(cache_dir, version, result["binaries"])
    result["sbom"], result["sbom_written"] = path, False
    if not check_mode and not os.path.isfile(path):
        write_bom(runner, version, result["binaries"], path)
        result["sbom_written"] = True
        log("bill of materials: %s" % path)
    return result
