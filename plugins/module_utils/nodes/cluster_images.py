# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The images a real kubeadm node runs, as plain data layered on the images built from Debian.

- ``node``: the kind node contract (kind's own node files from the pinned ``sigs.k8s.io/kind``
  module, systemd as PID 1 behind kind's entrypoint) on ``node-base``, with containerd, runc,
  crictl, the CNI plugins and kubelet, kubeadm and kubectl built here.
- The images kubeadm runs, under the names kubeadm asks for (``registry.k8s.io/...``), so the
  nodes pull them through their registry mirror like any air-gapped node would.

A recipe names its files by source path; :func:`content_key` hashes their contents, so a rebuilt
binary gives a new key. Everything here is pure: the build lives in ``layered_build.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os

from ansible_collections.scs.kaas.plugins.module_utils.nodes import image_recipes

# Bump when the way a layered image is assembled (not a recipe) changes.
LAYERED_PROCEDURE = 1

UPSTREAM_REGISTRY = "registry.k8s.io"
KIND_BASE_FILES = "images/base/files"
# Not shipped: the rootless snapshotter (we run no fuse-overlayfs) and kind's containerd config,
# replaced by NODE_CONTAINERD_CONFIG.
_KIND_FILES_LEFT_OUT = ("etc/systemd/system/containerd-fuse-overlayfs.service", "etc/containerd/config.toml")

NODE_CONTAINERD_CONFIG = """version = 2

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  base_runtime_spec = "/etc/containerd/cri-base.json"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "%(pause)s"
  tolerate_missing_hugepages_controller = true
  restrict_oom_score_adj = false

[plugins."io.containerd.grpc.v1.cri".registry]
  # one hosts.toml per upstream registry: the registry mirrors a cluster configures
  config_path = "/etc/containerd/certs.d"
"""

# Lowering a process's oom_score_adj needs CAP_SYS_RESOURCE. Where the host cannot grant it,
# every pod sandbox (oom_score_adj -998) fails with "failed to update /proc/self/oom_score_adj:
# Permission denied"; containerd's restrict_oom_score_adj (kind's rootless setting) clamps the
# value to containerd's own instead. Decided at each start from the node's bounding set.
CONTAINERD_CAPABILITY_ADAPTATION = """#!/bin/sh
set -eu
bounding=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)
if [ $(( 0x$bounding >> 24 & 1 )) -eq 0 ]; then
  sed -i 's/^\\([[:space:]]*restrict_oom_score_adj =\\).*/\\1 true/' /etc/containerd/config.toml
fi
"""
CONTAINERD_DROP_IN = """[Service]
ExecStartPre=/kind/bin/scs-kaas-adapt-containerd.sh
"""

# The development provider runs every kubelet with --cgroup-root=/kubelet (kind 0.20 mode, not
# overridable). On a cgroup v1 host kind's entrypoint creates /kubelet and /kubelet.slice only in
# the controllers mounted when it runs; here the engine mounts hugetlb, perf_event and
# net_cls,net_prio later (systemd does), and the kubelet refuses to start: "cgroup ["kubelet"] has
# some missing paths: /sys/fs/cgroup/hugetlb/kubelet.slice". Create them in every v1 controller
# before each kubelet start (cpuset needs its cpus and mems copied, as kind does).
KUBELET_CGROUP_V1_ROOTS = """#!/bin/sh
set -eu
root=${1:-/sys/fs/cgroup}
[ -f "$root/cgroup.controllers" ] && exit 0
findmnt -lun -o target -t cgroup | while read -r controller; do
  for cgroup in kubelet kubelet.slice; do
    mkdir -p "$controller/$cgroup"
    if [ "$controller" = "$root/cpuset" ]; then
      cat "$controller/cpuset.cpus" > "$controller/$cgroup/cpuset.cpus"
      cat "$controller/cpuset.mems" > "$controller/$cgroup/cpuset.mems"
    fi
  done
done
"""
KUBELET_DROP_IN = """[Service]
ExecStartPre=/kind/bin/scs-kaas-kubelet-cgroups-v1.sh
"""

KUBEADM_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")


def _file(source=None, content=None, mode=0o755):
    entry = {"mode": mode}
    if source is not None:
        entry["source"] = source
    else:
        entry["content"] = content
    return entry


def kind_files(kind_dir):
    """``{destination: file entry}`` for kind's node files under ``kind_dir`` (the module root)."""
    root = os.path.join(kind_dir, KIND_BASE_FILES)
    files = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            source = os.path.join(directory, name)
            relative = os.path.relpath(source, root)
            if relative in _KIND_FILES_LEFT_OUT:
                continue
            executable = relative.startswith(("usr/local/bin/", "kind/bin/"))
            files["/" + relative] = _file(source=source, mode=0o755 if executable else 0o644)
    return files


def node_recipe(version, binaries, kind_dir, cri_base_spec, pause_reference):
    """The node image of Kubernetes ``version``.

    ``binaries`` maps binary names to paths (``node_binaries``); ``cri_base_spec`` is the OCI spec
    containerd starts pods from (``ctr oci spec`` with kind's changes: :func:`cri_base_spec`).
    """
    files = kind_files(kind_dir)
    for name in ("containerd", "containerd-shim-runc-v2", "ctr", "crictl"):
        files["/usr/local/bin/" + name] = _file(binaries[name])
    files["/usr/local/sbin/runc"] = _file(binaries["runc"])
    for name in ("kubelet", "kubeadm", "kubectl"):
        files["/usr/bin/" + name] = _file(binaries[name])
    for name in ("bridge", "host-local", "loopback", "portmap", "ptp"):
        files["/opt/cni/bin/" + name] = _file(binaries[name])
    files["/etc/containerd/config.toml"] = _file(content=NODE_CONTAINERD_CONFIG % {"pause": pause_reference},
                                                 mode=0o644)
    files["/etc/containerd/cri-base.json"] = _file(content=json.dumps(cri_base_spec, indent=2, sort_keys=True),
                                                   mode=0o644)
    files["/kind/bin/scs-kaas-adapt-containerd.sh"] = _file(content=CONTAINERD_CAPABILITY_ADAPTATION)
    drop_in = "/etc/systemd/system/containerd.service.d/10-scs-kaas.conf"
    files[drop_in] = _file(content=CONTAINERD_DROP_IN, mode=0o644)
    files["/kind/bin/scs-kaas-kubelet-cgroups-v1.sh"] = _file(content=KUBELET_CGROUP_V1_ROOTS)
    files["/etc/systemd/system/kubelet.service.d/20-scs-kaas.conf"] = _file(content=KUBELET_DROP_IN, mode=0o644)
    files["/kind/version"] = _file(content=version + "\n", mode=0o644)
    return {
        "name": "node",
        "tag": version,
        "base": image_recipes.NODE_BASE,
        "files": files,
        # kind's base image steps: only kubelet, containerd and undo-mount-hacks start at boot.
        "run": ["mkdir -p /etc/kubernetes/manifests /etc/containerd/certs.d",
                "find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete",
                "rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/*"
                " /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev*"
                " /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*",
                "echo ReadKMsg=no >> /etc/systemd/journald.conf",
                "systemctl enable kubelet.service containerd.service undo-mount-hacks.service",
                "systemctl mask systemd-binfmt.service"],
        "changes": ['ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]', "STOPSIGNAL SIGRTMIN+3"],
    }


def cri_base_spec(default_spec):
    """kind's change to ``ctr oci spec``: its product-files hook, no rlimits (they would pin the
    node's limits into every container)."""
    spec = json.loads(json.dumps(default_spec))
    hooks = spec.setdefault("hooks", {}).setdefault("createContainer", [])
    hooks.append({"path": "/kind/bin/mount-product-files.sh"})
    spec.get("process", {}).pop("rlimits", None)
    return spec


def component_recipes(version, binaries, etcd_tag, pause_tag, coredns_tag=None):
    """The images kubeadm's control plane and kube-proxy run, named as kubeadm asks for them.

    The Kubernetes components and etcd are linked against glibc and kube-proxy needs iptables and
    conntrack, so they sit on ``node-base``; pause is static and sits on nothing.
    """
    recipes = []
    for name in KUBEADM_COMPONENTS:
        recipes.append({"name": name, "tag": version, "base": image_recipes.NODE_BASE,
                        "files": {"/usr/local/bin/" + name: _file(binaries[name])},
                        "run": [], "changes": ["ENTRYPOINT []", "CMD []"]})
    recipes.append({"name": "etcd", "tag": etcd_tag, "base": image_recipes.NODE_BASE,
                    "files": {"/usr/local/bin/etcd": _file(binaries["etcd-server"])},
                    "run": [], "changes": ["ENTRYPOINT []", "CMD []"]})
    recipes.append({"name": "pause", "tag": pause_tag, "base": None,
                    "files": {"/pause": _file(binaries["pause"])},
                    "run": [], "changes": ["USER 65535:65535", 'ENTRYPOINT ["/pause"]']})
    if coredns_tag:
        recipes.append({"name": "coredns/coredns", "tag": coredns_tag, "base": None,
                        "files": {"/coredns": _file(binaries["coredns"])},
                        "run": [], "changes": ["USER 65532:65532", 'ENTRYPOINT ["/coredns"]']})
    return recipes


def upstream_reference(recipe):
    """The name a node asks for (``registry.k8s.io/kube-apiserver:v1.36.5``)."""
    return "%s/%s:%s" % (recipe.get("registry", UPSTREAM_REGISTRY), recipe["name"], recipe["tag"])


def mirror_reference(recipe, mirror):
    """Where the image lives in the mirror: under the upstream registry's name, the layout the
    docker class's ``registryMirrors`` (endpoint ``<mirror>/v2/<upstream>``, ``overridePath``)
    points containerd at."""
    return "%s/%s" % (mirror.rstrip("/"), upstream_reference(recipe))


def registry_mirrors_variable(upstream_references, mirror_url):
    """The docker class variable ``registryMirrors`` for nodes that reach the mirror at
    ``mirror_url`` (``http://host:port``): one entry per upstream registry of
    ``upstream_references``, in name order, each pulling only from the mirror under that
    registry's path (the layout of :func:`mirror_reference`)."""
    registries = sorted(set(reference.split("/", 1)[0] for reference in upstream_references))
    return [{"registry": registry, "endpoints": ["%s/v2/%s" % (mirror_url.rstrip("/"), registry)],
             "overridePath": True, "mirrorOnly": True} for registry in registries]


def dockerfile(recipe, base_reference, context_names):
    """The build file: FROM the base (or scratch), one COPY per file from the context under the
    name ``context_names[destination]``, the recipe's RUN steps and settings."""
    lines = ["FROM %s" % (base_reference or "scratch")]
    for destination in sorted(recipe["files"]):
        lines.append("COPY %s %s" % (context_names[destination], destination))
    if recipe["run"]:
        lines.append("RUN " + " \\\n && ".join(recipe["run"]))
    lines.extend(recipe["changes"])
    return "\n".join(lines) + "\n"


def context_names(recipe):
    """Short, stable names of the recipe's files inside the build context."""
    return dict((destination, "f%03d" % index) for index, destination in enumerate(sorted(recipe["files"])))


def content_key(recipe, digest):
    """A short hex digest over the base's key, every file's content (``digest(path)`` for files
    given by source) and mode, the steps and the settings."""
    files = {}
    for destination, entry in recipe["files"].items():
        if "source" in entry:
            files[destination] = [digest(entry["source"]), entry["mode"]]
        else:
            files[destination] = [hashlib.sha256(entry["content"].encode("utf-8")).hexdigest(), entry["mode"]]
    base = recipe["base"]
    document = {"name": recipe["name"], "tag": recipe["tag"], "files": files, "run": recipe["run"],
                "changes": recipe["changes"], "procedure": LAYERED_PROCEDURE,
                "base": image_recipes.content_key(base) if base else None}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode("utf-8")).hexdigest()[:16]
