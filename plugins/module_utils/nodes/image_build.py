# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Images built on this machine with no registry: a Debian root file system from debootstrap, cached
as a tar file under the content key of its recipe (``image_recipes.py``), imported into an engine
with ``docker import``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile
import time

from ansible_collections.scs.kaas.plugins.module_utils.embedded.build_cache import default_cache_dir
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.nodes import image_recipes

# Every image the collection builds carries the key of what went into it.
CONTENT_KEY_LABEL = "org.scs-kaas.content-key"


class ImageBuildError(KaasError):
    """A root file system could not be built or imported."""


def rootfs_cache_path(cache_dir, recipe, key):
    return os.path.join(cache_dir or default_cache_dir(), "images", "%s-%s-%s.tar"
                        % (recipe["name"], image_recipes.DEBIAN_SUITE, key))


def debootstrap_argv(recipe, target, suite=image_recipes.DEBIAN_SUITE, mirror=image_recipes.DEBIAN_MIRROR):
    return ["debootstrap", "--variant=minbase", "--include=" + ",".join(recipe["packages"]), suite, target, mirror]


def import_argv(docker, tar_path, reference, recipe, key):
    argv = [docker, "import"]
    for change in recipe["changes"] + ["LABEL %s=%s" % (CONTENT_KEY_LABEL, key)]:
        argv += ["--change", change]
    return argv + [tar_path, reference]


def mounts_below(root, mountinfo="/proc/self/mountinfo"):
    """Mount points at or below ``root``, deepest first (debootstrap may leave ``proc`` mounted)."""
    root = os.path.realpath(root)
    found = []
    with open(mountinfo, "r") as handle:
        for line in handle:
            point = line.split()[4].replace("\\040", " ")
            if point == root or point.startswith(root + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def _place_files(root, files):
    for path, spec in sorted(files.items()):
        target = os.path.join(root, path.lstrip("/"))
        if not os.path.isdir(os.path.dirname(target)):
            os.makedirs(os.path.dirname(target), 0o755)
        if os.path.lexists(target):
            os.unlink(target)
        if "symlink" in spec:
            os.symlink(spec["symlink"], target)
            continue
        with open(target, "w") as handle:
            handle.write(spec["content"])
        os.chmod(target, spec["mode"])


def _trim(root):
    """Remove what only the build needed (package downloads, apt lists, logs)."""
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists", "var/log"):
        path = os.path.join(root, sub)
        if not os.path.isdir(path):
            continue
        for entry in os.listdir(path):
            full = os.path.join(path, entry)
            if os.path.isdir(full) and not os.path.islink(full):
                if entry != "partial":
                    shutil.rmtree(full)
            elif entry != "lock":
                os.unlink(full)


def build_rootfs(recipe, runner, cache_dir=None, log=None):
    """The cached root file system tar of ``recipe``, built when missing.

    Returns ``{"path", "key", "cached", "seconds"}``; a failed build leaves nothing in the cache.
    """
    log = log or (lambda msg: None)
    key = image_recipes.content_key(recipe)
    path = rootfs_cache_path(cache_dir, recipe, key)
    if os.path.isfile(path):
        return {"path": path, "key": key, "cached": True, "seconds": 0.0}
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    started = time.time()
    work = tempfile.mkdtemp(prefix=".build-%s-" % recipe["name"], dir=parent)
    root = os.path.join(work, "rootfs")
    try:
        log("debootstrap %s into %s" % (recipe["name"], root))
        runner.run(debootstrap_argv(recipe, root), timeout=1800).check("debootstrap of the %s image" % recipe["name"])
        for point in mounts_below(root):
            runner.run(["umount", "--lazy", point], timeout=60).check("unmounting %s" % point)
        _place_files(root, recipe["files"])
        _trim(root)
        partial = os.path.join(work, "rootfs.tar")
        runner.run(["tar", "--one-file-system", "--numeric-owner", "--xattrs", "-C", root, "-cf", partial, "."],
                   timeout=900).check("packing the %s root file system" % recipe["name"])
        os.rename(partial, path)
    finally:
        for point in mounts_below(work):
            runner.run(["umount", "--lazy", point], timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    return {"path": path, "key": key, "cached": False, "seconds": round(time.time() - started, 1)}


def engine_content_key(reference, docker, docker_host, runner):
    """The content key label of the engine's image ``reference``; None when the engine lacks it."""
    inspect = runner.run([docker, "image", "inspect", "--format",
                          '{{ index .Config.Labels "%s" }}' % CONTENT_KEY_LABEL, reference],
                         env={"DOCKER_HOST": docker_host}, timeout=60)
    return inspect.stdout.strip() if inspect.ok else None


def image_present(recipe, repository, docker, docker_host, runner):
    """True when the engine holds ``recipe``'s image under its reference and content key."""
    key = image_recipes.content_key(recipe)
    reference = image_recipes.image_reference(repository, recipe, key)
    return engine_content_key(reference, docker, docker_host, runner) == key


def ensure_image(recipe, repository, docker, docker_host, runner, cache_dir=None, log=None):
    """Build (or reuse) ``recipe``'s root file system and import it into the engine at ``docker_host``.

    Returns ``{"changed", "image", "key", "rootfs", "rootfs_cached", "build_seconds"}``; ``changed`` is
    False when the engine already holds the image under that reference and content key.
    """
    env = {"DOCKER_HOST": docker_host}
    key = image_recipes.content_key(recipe)
    reference = image_recipes.image_reference(repository, recipe, key)
    result = {"image": reference, "key": key, "rootfs": rootfs_cache_path(cache_dir, recipe, key)}
    if image_present(recipe, repository, docker, docker_host, runner):
        return dict(result, changed=False, rootfs_cached=os.path.isfile(result["rootfs"]), build_seconds=0.0)
    built = build_rootfs(recipe, runner, cache_dir, log)
    runner.run(import_argv(docker, built["path"], reference, recipe, key), env=env, timeout=900) \
        .check("docker import of %s" % reference)
    if recipe.get("stop_signal"):
        # docker import cannot set STOPSIGNAL; a build with no context adds it as metadata only.
        dockerfile = "FROM %s\nSTOPSIGNAL %s\n" % (reference, recipe["stop_signal"])
        runner.run([docker, "build", "--quiet", "--tag", reference, "-"], data=dockerfile,
                   env=dict(env, DOCKER_BUILDKIT="0"), timeout=300).check("setting the stop signal of %s" % reference)
    return dict(result, changed=True, rootfs_cached=built["cached"], build_seconds=built["seconds"])
