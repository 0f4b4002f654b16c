# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Images built on this machine with no registry: a Debian root file system from debootstrap, cached
as a tar file under the content key of its recipe (``image_recipes.py``), imported into an engine
with ``docker import``.

Beside each tar lies the list of the Debian packages in it (``<tar name>.packages.json``: name,
version, architecture and the sha256 of the .deb each was installed from), the input of the
image's bill of materials (``image_sbom.py``), written to ``<cache>/nodes/images/``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import shutil
import tempfile
import time

from urllib.parse import unquote

from ansible_collections.scs.kaas.plugins.module_utils.embedded.build_cache import default_cache_dir, file_sha256
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.files import write_json
from ansible_collections.scs.kaas.plugins.module_utils.nodes import image_recipes, image_sbom

# Every image the collection builds carries the key of what went into it.
CONTENT_KEY_LABEL = "org.scs-kaas.content-key"


class ImageBuildError(KaasError):
    """A root file system could not be built or imported."""


def rootfs_cache_path(cache_dir, recipe, key):
    return os.path.join(cache_dir or default_cache_dir(), "images", "%s-%s-%s.tar"
                        % (recipe["name"], image_recipes.DEBIAN_SUITE, key))


def packages_path(tar_path):
    """The package list beside a cached root file system tar."""
    return tar_path[:-len(".tar")] + ".packages.json"


def image_bom_path(cache_dir, reference, key):
    """Where the bill of materials of the image ``reference`` with content ``key`` is written."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", reference)
    return os.path.join(cache_dir or default_cache_dir(), "nodes", "images", "%s-%s.cdx.json" % (name, key))


def installed_packages_of_status(status_text):
    """``{(package, architecture): version}`` of the packages ``var/lib/dpkg/status`` reports as
    installed (paragraphs of deb822 fields; continuation lines start with a blank)."""
    installed = {}
    for paragraph in re.split(r"\n\s*\n", status_text):
        fields = {}
        for line in paragraph.splitlines():
            if line[:1] in (" ", "\t") or ":" not in line:
                continue
            name, _sep, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if fields.get("package") and fields.get("status", "").split()[-1:] == ["installed"]:
            installed[(fields["package"], fields.get("architecture", ""))] = fields.get("version", "")
    return installed


def deb_file_identity(file_name):
    """``(package, version, architecture)`` of a .deb named as debootstrap and apt name them,
    ``<package>_<version>_<architecture>.deb`` with the epoch's colon written ``%3a``; None for
    another name (neither package names nor versions may contain ``_``)."""
    if not file_name.endswith(".deb"):
        return None
    parts = file_name[:-len(".deb")].split("_")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], unquote(parts[1]), parts[2]


def package_list(status_text, deb_digests):
    """The Debian packages of a root file system: ``var/lib/dpkg/status``'s text and ``{.deb file
    name: sha256}`` of the downloaded packages -> ``{"packages": [{"package", "version",
    "architecture", "sha256", "deb"}], "not_installed": [.deb file names]}`` (sorted).

    The version and architecture are dpkg's (what is installed); the .deb must match all three,
    so a package installed from a file that was not recorded fails the build (ImageBuildError)
    rather than leaving a bill of materials with a hole."""
    debs = {}
    for file_name, digest in deb_digests.items():
        identity = deb_file_identity(file_name)
        if identity:
            debs[identity] = (file_name, digest)
    packages, missing, used = [], [], set()
    for (package, architecture), version in sorted(installed_packages_of_status(status_text).items()):
        found = debs.get((package, version, architecture))
        if not found:
            missing.append("%s %s (%s)" % (package, version, architecture))
            continue
        used.add(found[0])
        packages.append({"package": package, "version": version, "architecture": architecture,
                         "sha256": found[1], "deb": found[0]})
    if missing:
        raise ImageBuildError("installed without a recorded .deb (the bill of materials would miss them): %s"
                              % ", ".join(missing))
    return {"packages": packages, "not_installed": sorted(set(deb_digests) - used)}


def _record_packages(root):
    """:func:`package_list` of the root file system at ``root`` (before :func:`_trim` removes the
    downloads)."""
    archives = os.path.join(root, "var", "cache", "apt", "archives")
    downloaded = os.listdir(archives) if os.path.isdir(archives) else []
    digests = dict((name, file_sha256(os.path.join(archives, name))) for name in downloaded if name.endswith(".deb"))
    with open(os.path.join(root, "var", "lib", "dpkg", "status"), "r", encoding="utf-8") as handle:
        return package_list(handle.read(), digests)


def read_packages(tar_path):
    """The package list of a cached root file system, or None when it has none."""
    path = packages_path(tar_path)
    if not os.path.isfile(path):
        return None
    with open(path, "r", encoding="utf-8") as handle:
        return json.load(handle)


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
    """The cached root file system tar of ``recipe`` and its package list, built when either is
    missing.

    Returns ``{"path", "packages", "key", "cached", "seconds"}``; a failed build leaves neither
    file in the cache. The package list is renamed into place first: the tar is the mark of a
    complete build.
    """
    log = log or (lambda msg: None)
    key = image_recipes.content_key(recipe)
    path = rootfs_cache_path(cache_dir, recipe, key)
    packages = packages_path(path)
    if os.path.isfile(path) and os.path.isfile(packages):
        return {"path": path, "packages": packages, "key": key, "cached": True, "seconds": 0.0}
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
        recorded = dict(_record_packages(root), suite=image_recipes.DEBIAN_SUITE, mirror=image_recipes.DEBIAN_MIRROR)
        _place_files(root, recipe["files"])
        _trim(root)
        partial = os.path.join(work, "rootfs.tar")
        runner.run(["tar", "--one-file-system", "--numeric-owner", "--xattrs", "-C", root, "-cf", partial, "."],
                   timeout=900).check("packing the %s root file system" % recipe["name"])
        recorded["rootfs_sha256"] = file_sha256(partial)
        write_json(packages, recorded)
        try:
            os.rename(partial, path)
        except OSError:
            os.unlink(packages)
            raise
        log("%s: %d Debian packages recorded in %s" % (recipe["name"], len(recorded["packages"]), packages))
    finally:
        for point in mounts_below(work):
            runner.run(["umount", "--lazy", point], timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    return {"path": path, "packages": packages, "key": key, "cached": False,
            "seconds": round(time.time() - started, 1)}


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


def write_rootfs_bom(recipe, reference, key, tar_path, bom_path):
    """Write the bill of materials of ``recipe``'s image from its cached package list."""
    rootfs = read_packages(tar_path)
    if rootfs is None:
        raise ImageBuildError("%s: no package list beside %s" % (reference, tar_path))
    files = image_sbom.file_records(recipe["files"], digest=file_sha256)
    write_json(bom_path, image_sbom.image_bom(reference, key, rootfs=rootfs, files=files))


def ensure_image(recipe, repository, docker, docker_host, runner, cache_dir=None, log=None):
    """Build (or reuse) ``recipe``'s root file system and import it into the engine at ``docker_host``.

    Returns ``{"changed", "image", "key", "rootfs", "rootfs_cached", "build_seconds", "sbom",
    "sbom_written"}``; ``changed`` is False when the engine already holds the image under that
    reference and content key. The bill of materials (``sbom``) is written when missing or when
    the root file system was just built. An image the engine holds whose package list is gone
    from the cache cannot be described: it is built and imported again.
    """
    env = {"DOCKER_HOST": docker_host}
    key = image_recipes.content_key(recipe)
    reference = image_recipes.image_reference(repository, recipe, key)
    rootfs = rootfs_cache_path(cache_dir, recipe, key)
    result = {"image": reference, "key": key, "rootfs": rootfs, "sbom": image_bom_path(cache_dir, reference, key)}
    bom_missing = not os.path.isfile(result["sbom"])
    if image_present(recipe, repository, docker, docker_host, runner) and \
            not (bom_missing and read_packages(rootfs) is None):
        if bom_missing:
            write_rootfs_bom(recipe, reference, key, rootfs, result["sbom"])
        return dict(result, changed=False, rootfs_cached=os.path.isfile(rootfs), build_seconds=0.0,
                    sbom_written=bom_missing)
    built = build_rootfs(recipe, runner, cache_dir, log)
    runner.run(import_argv(docker, built["path"], reference, recipe, key), env=env, timeout=900) \
        .check("docker import of %s" % reference)
    if recipe.get("stop_signal"):
        # docker import cannot set STOPSIGNAL; a build with no context adds it as metadata only.
        dockerfile = "FROM %s\nSTOPSIGNAL %s\n" % (reference, recipe["stop_signal"])
        runner.run([docker, "build", "--quiet", "--tag", reference, "-"], data=dockerfile,
                   env=dict(env, DOCKER_BUILDKIT="0"), timeout=300).check("setting the stop signal of %s" % reference)
    bom_written = bom_missing or not built["cached"]
    if bom_written:
        write_rootfs_bom(recipe, reference, key, built["path"], result["sbom"])
    return dict(result, changed=True, rootfs_cached=built["cached"], build_seconds=built["seconds"],
                sbom_written=bom_written)
