#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: node_cluster_images
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Build the node image and the images kubeadm and the CNI run, and push them to the nodes' mirror
description:
  - For Kubernetes O(version), builds with the engine at O(docker_host) the node image (kind's node contract
    on C(node-base), with the node binaries of that version) and the images kubeadm's control plane, kube-proxy
    and the baseline CNI (flannel) run, each under the name a node asks for (C(registry.k8s.io/kube-apiserver:v1.36.5)).
  - The node image stays in the engine, where Cluster API's development provider starts it from; the other
    images are pushed to the registry at O(mirror) under their upstream names as the path
    (C(<mirror>/registry.k8s.io/kube-apiserver:v1.36.5)), so nodes pull them through it as through any mirror.
  - Every image carries the content key of what went into it; a run that finds each image under its key and the
    registry serving each digest builds and pushes nothing and changes nothing. Each image's bill of materials
    (CycloneDX) is written into the cache when missing.
  - Builds no binaries. The node binaries of O(version) must be in the cache (C(make binaries) builds them, as
    does C(build-binaries.py --node-binaries <version>) in the management_cluster role's C(files/embedded)),
    and kind's node files must be in the Go module cache (the pinned C(sigs.k8s.io/kind) module, which
    C(make binaries) fetches). When either is missing the module fails before it builds anything.
  - The load balancer image is not built here - M(scs.kaas.node_image) with O(scs.kaas.node_image#module:image=haproxy)
    builds it; it does not depend on the Kubernetes version and is never pushed.
  - Also returns the baseline CNI's manifests for O(pod_cidr) (apply them to the workload cluster, e.g. with
    M(kubernetes.core.k8s)) and, given O(nodes_mirror_url), the docker class variable C(registryMirrors).
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
  - scs.kaas.node_build
options:
  version:
    description: Kubernetes version of the nodes (one the collection builds node binaries for).
    type: str
    required: true
    choices: [v1.35.4, v1.36.5]
  mirror:
    description:
      - C(host:port) of the registry the images are pushed to, a loopback address (the engine pushes over plain
        HTTP only to C(127.0.0.0/8), C(localhost) and C([::1]) without configuration), e.g. V(127.0.0.1:5000) for
        a registry of M(scs.kaas.node_registry) listening on V(0.0.0.0:5000).
    type: str
    required: true
  nodes_mirror_url:
    description:
      - The URL the nodes reach that registry at, C(http://host:port), e.g. the gateway of the engine's network
        C(kind) (RV(scs.kaas.docker_engine#module:networks)). When given, RV(registry_mirrors) holds the docker
        class variable C(registryMirrors) for it.
    type: str
  pod_cidr:
    description: The workload cluster's pod network (IPv4), written into the CNI's configuration in RV(cni_manifests).
    type: str
    default: 10.244.0.0/16
  source_dir:
    description:
      - Directory holding the node binaries' wrapper Go modules in its C(go/) subdirectory, the management_cluster
        role's C(files/embedded) (the binaries' cache keys are computed from it).
    type: path
    required: true
notes:
  - In check mode the module reports what a run would build and push (RV(built), RV(pushed)) and builds, pushes
    and writes nothing; it still reads the engine, the registry and the caches.
"""

EXAMPLES = r"""
- name: Images of v1.36.5 nodes, pushed to the registry the nodes use as their mirror
  scs.kaas.node_cluster_images:
    version: v1.36.5
    docker_host: "{{ engine.docker_host }}"
    mirror: 127.0.0.1:5000
    nodes_mirror_url: "http://{{ engine.networks.kind.gateway }}:5000"
    source_dir: "{{ playbook_dir }}/../roles/management_cluster/files/embedded"
  register: node_images

- name: Apply the baseline CNI to the workload cluster
  kubernetes.core.k8s:
    kubeconfig: "{{ workload_kubeconfig }}"
    definition: "{{ node_images.cni_manifests }}"
"""

RETURN = r"""
node_image:
  description: The node image in the engine (the docker class variable C(image.name)).
  returned: always
  type: str
  sample: scs-kaas/node:v1.36.5-4f0c2a9d1e7b3c55
images:
  description: Upstream name -> name in the mirror of every pushed image.
  returned: always
  type: dict
  sample: {"registry.k8s.io/kube-apiserver:v1.36.5": "127.0.0.1:5000/registry.k8s.io/kube-apiserver:v1.36.5"}
sboms:
  description: Image reference -> its bill of materials (CycloneDX 1.6 JSON) in the cache, C(node-base) included.
  returned: always
  type: dict
built:
  description: The images this run built (in check mode, would build).
  returned: always
  type: list
  elements: str
pushed:
  description: The images this run pushed (in check mode, would push).
  returned: always
  type: list
  elements: str
seconds:
  description: Seconds the builds and pushes took (0 in check mode).
  returned: always
  type: float
registries:
  description: The upstream registries the nodes pull these images from (each needs a mirror entry).
  returned: always
  type: list
  elements: str
  sample: [ghcr.io, registry.k8s.io]
registry_mirrors:
  description:
    - The docker class variable C(registryMirrors) for O(nodes_mirror_url) - one entry per registry of RV(registries),
      pulling only through the mirror (C(mirrorOnly)) under the registry's path (C(overridePath)); empty without
      O(nodes_mirror_url).
  returned: always
  type: list
  elements: dict
  sample: [{registry: registry.k8s.io, endpoints: ["http://172.18.0.1:5000/v2/registry.k8s.io"], overridePath: true, mirrorOnly: true}]
etcd_image_tag:
  description: Tag of the etcd image built here (the docker class variable C(etcdImageTag); kubeadm's default differs).
  returned: always
  type: str
  sample: 3.6.16-0
cni_image:
  description: The baseline CNI's image as the nodes ask for it.
  returned: always
  type: str
  sample: ghcr.io/flannel-io/flannel:v0.28.10
cni_manifests:
  description: The objects that run the baseline CNI (flannel, C(host-gw) backend) on every node, for O(pod_cidr).
  returned: always
  type: list
  elements: dict
"""

import ipaddress

from urllib.parse import urlsplit

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule
from ansible_collections.scs.kaas.plugins.module_utils.nodes import cluster_images, cni_flannel, layered_build
from ansible_collections.scs.kaas.plugins.module_utils.nodes import node_binaries, oci_registry
from ansible_collections.scs.kaas.plugins.module_utils.nodes.module_args import NODE_BUILD_ARGS
from ansible_collections.scs.kaas.plugins.module_utils.providers import repository

# The addresses an engine pushes to over plain HTTP without an insecure-registries entry.
_LOOPBACK_NAMES = ("localhost", "[::1]")


class NodeImagesError(KaasError):
    """The images cannot be built from what is here."""


def check_mirror(mirror):
    """``mirror`` if it is a loopback ``host:port``; NodeImagesError naming the option otherwise."""
    try:
        host, _port = oci_registry.parse_address(mirror, "mirror")
    except oci_registry.RegistryError as exc:
        raise NodeImagesError(str(exc))
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host in _LOOPBACK_NAMES
    if not loopback:
        raise NodeImagesError("mirror: %r is not a loopback address; the engine pushes over plain HTTP only to "
                              "127.0.0.0/8, localhost or [::1], e.g. 127.0.0.1:5000 for a registry listening on "
                              "0.0.0.0:5000 (the nodes reach it by nodes_mirror_url)" % mirror)
    return mirror


def check_nodes_mirror_url(url):
    """``url`` (``http(s)://host:port``, no path) with no trailing slash, or None; NodeImagesError otherwise."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise NodeImagesError("nodes_mirror_url: %r is not a registry URL; use http://host:port with the address the "
                              "nodes reach the registry at, e.g. http://172.18.0.1:5000 (the gateway of the "
                              "engine's network kind), without a path" % url)
    return url.rstrip("/")


def check_pod_cidr(pod_cidr):
    """``pod_cidr`` if it is an IPv4 network; NodeImagesError naming the option otherwise."""
    try:
        network = ipaddress.ip_network(pod_cidr)
    except ValueError:
        network = None
    if network is None or network.version != 4:
        raise NodeImagesError("pod_cidr: %r is not an IPv4 network in CIDR notation (host bits zero), e.g. "
                              "10.244.0.0/16" % pod_cidr)
    return pod_cidr


def images_result(outcome, pod_cidr, nodes_mirror_url=None):
    """The module's result from ``layered_build``'s ``outcome`` (ensure_cluster_images or, in
    check mode, pending_cluster_images): the images as built, plus what a workload cluster on them
    needs - the CNI's manifests and image, the etcd tag, the mirror entries."""
    upstream = sorted(outcome["images"])
    cni_image = [name for name in upstream if name.startswith(cni_flannel.UPSTREAM_IMAGE + ":")][0]
    etcd = [name for name in upstream if name.startswith(cluster_images.UPSTREAM_REGISTRY + "/etcd:")][0]
    result = dict((key, outcome[key]) for key in ("node_image", "images", "sboms", "built", "pushed", "seconds",
                                                  "changed"))
    result.update(
        registries=sorted(set(name.split("/", 1)[0] for name in upstream)),
        registry_mirrors=cluster_images.registry_mirrors_variable(upstream, nodes_mirror_url) if nodes_mirror_url
        else [],
        etcd_image_tag=etcd.rpartition(":")[2], cni_image=cni_image,
        cni_manifests=cni_flannel.manifests(pod_cidr, cni_image))
    return result


class NodeClusterImagesModule(KaasModule):
    argument_spec = dict(
        version=dict(type="str", required=True, choices=list(pins.NODE_KUBERNETES_VERSIONS)),
        mirror=dict(type="str", required=True),
        nodes_mirror_url=dict(type="str"),
        pod_cidr=dict(type="str", default="10.244.0.0/16"),
        source_dir=dict(type="path", required=True),
        **NODE_BUILD_ARGS
    )
    kubeconfig_options = False

    def run(self):
        p = self.params
        mirror, pod_cidr = check_mirror(p["mirror"]), check_pod_cidr(p["pod_cidr"])
        nodes_mirror_url = check_nodes_mirror_url(p["nodes_mirror_url"])
        binaries = self._cached_node_binaries()
        try:
            kind_dir = repository.module_dir(self.runner, "sigs.k8s.io/kind", pins.KIND_VERSION, download=False)
        except repository.RepositoryError as exc:
            raise NodeImagesError("kind's node files: %s; `make binaries` fetches the module" % exc)
        common = (p["docker"], p["docker_host"], self.runner, oci_registry.registry_head)
        if self.module.check_mode:
            plan = layered_build.cluster_images_plan(p["version"], binaries, kind_dir, mirror, self.runner,
                                                     p["repository"])
            outcome = layered_build.pending_cluster_images(plan, *common, repository=p["repository"],
                                                           cache_dir=p["cache_dir"])
        else:
            outcome = layered_build.ensure_cluster_images(p["version"], binaries, kind_dir, mirror, *common,
                                                          repository=p["repository"], cache_dir=p["cache_dir"],
                                                          log=self.module.debug)
        return images_result(outcome, pod_cidr, nodes_mirror_url)

    def _cached_node_binaries(self):
        """``{name: path}`` of the node binaries of the version, all from the cache (nothing is built)."""
        p = self.params
        try:
            found = node_binaries.ensure_node_binaries(p["source_dir"], self.runner, p["version"],
                                                       cache_dir=p["cache_dir"], log=self.module.debug,
                                                       check_mode=True)
        except KaasError as exc:
            raise NodeImagesError("node binaries of %s: %s; `make binaries` builds and fetches what they need"
                                  % (p["version"], exc))
        if found["built"]:
            raise NodeImagesError(
                "node binaries of %s are missing from the cache: %s. This module builds no binaries: `make binaries` "
                "builds them (or roles/management_cluster/files/embedded/build-binaries.py --node-binaries %s)"
                % (p["version"], ", ".join(sorted(found["built"])), p["version"]))
        return found["binaries"]


def main():
    NodeClusterImagesModule()()


if __name__ == "__main__":
    main()
