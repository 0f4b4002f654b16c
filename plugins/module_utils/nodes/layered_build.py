# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Build the images of ``cluster_images.py`` with the engine's builder and push them to the
local registry. Each image carries its content key as a label, so a second run builds nothing;
a push is skipped when the registry already serves the digest the engine holds. Each image's
bill of materials (``image_sbom.py``) is written into the cache when missing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import tempfile
import time

from ansible_collections.scs.kaas.plugins.module_utils import pins as _pins
from ansible_collections.scs.kaas.plugins.module_utils.embedded.build_cache import file_sha256
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.files import write_json
from ansible_collections.scs.kaas.plugins.module_utils.nodes import (
    addon_images, cluster_images, cni_flannel, image_build)
from ansible_collections.scs.kaas.plugins.module_utils.nodes import image_recipes, image_sbom, node_binaries

KEY_LABEL = image_build.CONTENT_KEY_LABEL


class LayeredBuildError(KaasError):
    """An image could not be built or pushed."""


# The images' content keys hash the binaries they hold.
file_digest = file_sha256


def _place(source, target):
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def layered_image_bom(recipe, reference, key, base_reference, runner, binaries=None, cache_dir=None):
    """The bill of materials of ``recipe`` built as ``reference``: the files whose source is one of
    ``binaries`` (``{name: path}``, the node binaries) are listed as binaries with their Go
    modules, every other file by its sha256, the base's Debian packages from its cached package
    list."""
    binaries = binaries or {}
    names = dict((path, name) for name, path in binaries.items())
    paths = {}
    for destination, entry in recipe["files"].items():
        if entry.get("source") in names:
            paths.setdefault(names[entry["source"]], []).append(destination)
    entries = node_binaries.bom_entries(runner, dict((name, binaries[name]) for name in paths))
    files = image_sbom.file_records(recipe["files"], file_digest, binary_sources=names)
    base = None
    if recipe["base"]:
        base_key = image_recipes.content_key(recipe["base"])
        tar_path = image_build.rootfs_cache_path(cache_dir, recipe["base"], base_key)
        rootfs = image_build.read_packages(tar_path)
        if rootfs is None:
            raise LayeredBuildError("%s: the package list of its base %s is missing (%s); image_build.ensure_image "
                                    "of the base writes it" % (reference, base_reference,
                                                               image_build.packages_path(tar_path)))
        base = {"reference": base_reference, "key": base_key, "rootfs": rootfs}
    return image_sbom.image_bom(reference, key, base=base, binaries=entries, binary_paths=paths, files=files)


def ensure_layered_image(recipe, reference, base_reference, docker, docker_host, runner, log=None, binaries=None,
                         cache_dir=None):
    """Build ``recipe`` as ``reference`` on ``base_reference`` (None for scratch) unless the engine
    holds it under its content key; write its bill of materials when missing or when the image
    was built (``binaries``: see :func:`layered_image_bom`). Returns ``{"image", "key",
    "changed", "seconds", "sbom", "sbom_written"}``."""
    key = cluster_images.content_key(recipe, file_digest)
    bom_path = image_build.image_bom_path(cache_dir, reference, key)
    result = {"image": reference, "key": key, "sbom": bom_path}
    if image_build.engine_content_key(reference, docker, docker_host, runner) == key:
        written = not os.path.isfile(bom_path)
        if written:
            write_json(bom_path, layered_image_bom(recipe, reference, key, base_reference, runner, binaries,
                                                   cache_dir))
        return dict(result, changed=False, seconds=0.0, sbom_written=written)
    started = time.time()
    # Described before the build: a missing base package list fails before anything is built.
    document = layered_image_bom(recipe, reference, key, base_reference, runner, binaries, cache_dir)
    names = cluster_images.context_names(recipe)
    work = tempfile.mkdtemp(prefix="scs-kaas-image-")
    try:
        for destination, entry in recipe["files"].items():
            target = os.path.join(work, names[destination])
            if "source" in entry:
                _place(entry["source"], target)
            else:
                with open(target, "w", encoding="utf-8") as handle:
                    handle.write(entry["content"])
            os.chmod(target, entry["mode"])
        text = cluster_images.dockerfile(recipe, base_reference, names) + 'LABEL %s="%s"\n' % (KEY_LABEL, key)
        with open(os.path.join(work, "Dockerfile"), "w", encoding="utf-8") as handle:
            handle.write(text)
        if log:
            log("building %s (%s)" % (reference, key))
        runner.run([docker, "build", "--quiet", "--tag", reference, work],
                   env={"DOCKER_HOST": docker_host, "DOCKER_BUILDKIT": "0"}, timeout=1800) \
            .check("docker build of %s" % reference)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_json(bom_path, document)
    return dict(result, changed=True, seconds=round(time.time() - started, 1), sbom_written=True)


def _repo_digests(docker, docker_host, runner, reference):
    inspect = runner.run([docker, "image", "inspect", "--format", "{{ json .RepoDigests }}", reference],
                         env={"DOCKER_HOST": docker_host}, timeout=60)
    if not inspect.ok:
        raise LayeredBuildError("the engine has no image %s to push: %s" % (reference, inspect.stderr.strip()))
    return json.loads(inspect.stdout.strip() or "[]") or []


def served_digest(registry_get, reference):
    """The digest the registry serves for ``host:port/name:tag``, or None. ``registry_get(url,
    headers)`` returns ``(status, headers)``."""
    host, _sep, rest = reference.partition("/")
    name, _sep, tag = rest.rpartition(":")
    accept = ", ".join(("application/vnd.docker.distribution.manifest.v2+json",
                        "application/vnd.oci.image.manifest.v1+json",
                        "application/vnd.docker.distribution.manifest.list.v2+json",
                        "application/vnd.oci.image.index.v1+json"))
    answer = registry_get("http://%s/v2/%s/manifests/%s" % (host, name, tag), {"Accept": accept})
    if not answer or answer[0] != 200:
        return None
    return answer[1].get("Docker-Content-Digest")


def ensure_pushed(source_reference, target_reference, docker, docker_host, runner, registry_get):
    """Tag ``source_reference`` as ``target_reference`` and push it, unless the registry already
    serves the digest the engine recorded for it. Returns True when it pushed."""
    env = {"DOCKER_HOST": docker_host}
    runner.run([docker, "tag", source_reference, target_reference], env=env, timeout=60) \
        .check("docker tag %s" % target_reference)
    if not _push_pending(target_reference, docker, docker_host, runner, registry_get):
        return False
    runner.run([docker, "push", target_reference], env=env, timeout=1800).check("docker push %s" % target_reference)
    return True


def cluster_image_recipes(version, binaries):
    """kubeadm's images of Kubernetes ``version`` at the tags its kubeadm asks for, the baseline
    CNI's image and the add-on charts' images."""
    recipes = cluster_images.component_recipes(
        version, binaries, etcd_tag=_pins.ETCD_VERSION.lstrip("v") + "-0", pause_tag=_pins.PAUSE_VERSIONS[version],
        coredns_tag=_pins.COREDNS_VERSIONS[version])
    return recipes + [cni_flannel.image_recipe(_pins.FLANNEL_VERSION, binaries)] + addon_images.recipes(binaries)


def cluster_images_plan(version, binaries, kind_dir, mirror, runner, repository="scs-kaas"):
    """What :func:`ensure_cluster_images` makes, decided without building anything: ``{"node":
    (recipe, reference), "components": [(recipe, mirror reference)]}`` (kubeadm's images and the
    CNI's, in build order). Runs the cached ``ctr`` once for containerd's default OCI spec."""
    spec = runner.run([binaries["ctr"], "oci", "spec"], timeout=60)
    spec.check("ctr oci spec")
    recipes = cluster_image_recipes(version, binaries)
    pause = [recipe for recipe in recipes if recipe["name"] == "pause"][0]
    cri_spec = cluster_images.cri_base_spec(json.loads(spec.stdout))
    node = cluster_images.node_recipe(version, binaries, kind_dir, cri_spec, cluster_images.upstream_reference(pause))
    node_reference = "%s/node:%s-%s" % (repository, version, cluster_images.content_key(node, file_digest))
    return {"node": (node, node_reference),
            "components": [(recipe, cluster_images.mirror_reference(recipe, mirror)) for recipe in recipes]}


def _push_pending(reference, docker, docker_host, runner, registry_get):
    """True unless the registry serves a digest the engine recorded for ``reference``."""
    repository = reference.rpartition(":")[0]
    known = [d.partition("@")[2] for d in _repo_digests(docker, docker_host, runner, reference)
             if d.partition("@")[0] == repository]
    return not (known and served_digest(registry_get, reference) in known)


def pending_cluster_images(plan, docker, docker_host, runner, registry_get, repository="scs-kaas", cache_dir=None):
    """What :func:`ensure_cluster_images` would do with ``plan`` (:func:`cluster_images_plan`) and
    return, reading only (``seconds`` 0): the check mode of a caller."""
    base = image_recipes.NODE_BASE
    base_key = image_recipes.content_key(base)
    base_reference = image_recipes.image_reference(repository, base, base_key)
    base_missing = image_build.engine_content_key(base_reference, docker, docker_host, runner) != base_key
    built, sboms = [], {base_reference: image_build.image_bom_path(cache_dir, base_reference, base_key)}
    for recipe, reference in [plan["node"]] + plan["components"]:
        key = cluster_images.content_key(recipe, file_digest)
        sboms[reference] = image_build.image_bom_path(cache_dir, reference, key)
        if image_build.engine_content_key(reference, docker, docker_host, runner) != key:
            built.append(reference)
    pushed = [reference for _recipe, reference in plan["components"]
              if reference in built or _push_pending(reference, docker, docker_host, runner, registry_get)]
    images = dict((cluster_images.upstream_reference(recipe), reference) for recipe, reference in plan["components"])
    return {"node_image": plan["node"][1], "images": images, "sboms": sboms,
            "changed": base_missing or bool(built or pushed), "built": built, "pushed": pushed, "seconds": 0.0}


def ensure_cluster_images(version, binaries, kind_dir, mirror, docker, docker_host, runner, registry_get,
                          repository="scs-kaas", cache_dir=None, log=None):
    """Every image a node of Kubernetes ``version`` needs: ``node-base`` imported, the node image
    built on it, kubeadm's images and the CNI's built and pushed to ``mirror`` (``host:port``)
    under their upstream names. Returns ``{"node_image", "images": {upstream name: mirror name},
    "sboms": {image reference: bill of materials}, "changed", "built", "pushed", "seconds"}``."""
    started = time.time()
    base = image_build.ensure_image(image_recipes.NODE_BASE, repository, docker, docker_host, runner,
                                    cache_dir=cache_dir, log=log)
    changed = base["changed"]
    plan = cluster_images_plan(version, binaries, kind_dir, mirror, runner, repository)
    node, node_reference = plan["node"]
    built, pushed, images, sboms = [], [], {}, {base["image"]: base["sbom"]}
    node_image = ensure_layered_image(node, node_reference, base["image"], docker, docker_host, runner, log,
                                      binaries=binaries, cache_dir=cache_dir)
    sboms[node_reference] = node_image["sbom"]
    if node_image["changed"]:
        built.append(node_reference)
    for recipe, target in plan["components"]:
        base_reference = base["image"] if recipe["base"] else None
        image = ensure_layered_image(recipe, target, base_reference, docker, docker_host, runner, log,
                                     binaries=binaries, cache_dir=cache_dir)
        sboms[target] = image["sbom"]
        if image["changed"]:
            built.append(target)
        if ensure_pushed(target, target, docker, docker_host, runner, registry_get):
            pushed.append(target)
        images[cluster_images.upstream_reference(recipe)] = target
    changed = changed or bool(built or pushed)
    return {"node_image": node_reference, "images": images, "sboms": sboms, "changed": changed, "built": built,
            "pushed": pushed, "seconds": round(time.time() - started, 1)}
