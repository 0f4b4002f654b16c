# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Bills of materials (CycloneDX 1.6 JSON) of the images built here: pure functions, no I/O.

One document per image. The image is the metadata component (type ``container``, named by its
reference, versioned by its content key); its components are:

- the Debian packages of the root file system it is (an image from debootstrap) or sits on:
  ``library`` components with the package URL ``pkg:deb/debian/<name>@<version>?arch=<arch>`` and
  the SHA-256 of the .deb each was installed from (``image_build.package_list``);
- each binary built here that it holds: an ``application`` component with every Go module compiled
  into it, exactly as in the binary sets' documents (``sbom.binary_components``), plus its paths
  in the image;
- every other file the build adds (configuration, scripts, kind's node files): a ``file``
  component with its SHA-256 (a symbolic link with its target instead).

An image built on another one lists that base as a ``container`` component which depends on the
base's packages; the image depends on its base, binaries and files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

from ansible_collections.scs.kaas.plugins.module_utils.nodes import sbom

TOOL = "scs.kaas images"


def file_records(files, digest, binary_sources=()):
    """A recipe's ``files`` (``{path in the image: {"content" | "source" | "symlink", "mode"}}``)
    -> ``[{"path", "sha256", "mode"} | {"path", "symlink"}]`` in path order, leaving out the files
    whose source is one of ``binary_sources`` (they are listed as binaries). ``digest(path)`` is
    the hex SHA-256 of a source file; it is only asked for those."""
    records = []
    for path, spec in sorted(files.items()):
        if "symlink" in spec:
            records.append({"path": path, "symlink": spec["symlink"]})
        elif "source" in spec:
            if spec["source"] not in binary_sources:
                records.append({"path": path, "sha256": digest(spec["source"]), "mode": spec["mode"]})
        else:
            records.append({"path": path, "sha256": hashlib.sha256(spec["content"].encode("utf-8")).hexdigest(),
                            "mode": spec["mode"]})
    return records


def _deb_component(package):
    ref = sbom.deb_purl(package["package"], package["version"], package["architecture"])
    return {"type": "library", "bom-ref": ref, "name": package["package"], "version": package["version"],
            "purl": ref, "hashes": [{"alg": "SHA-256", "content": package["sha256"]}],
            "properties": [sbom.prop("deb:file", package["deb"])]}


def _file_component(record):
    component = {"type": "file", "bom-ref": "file:" + record["path"], "name": record["path"]}
    if "symlink" in record:
        component["properties"] = [sbom.prop("file:symlink", record["symlink"])]
    else:
        component["hashes"] = [{"alg": "SHA-256", "content": record["sha256"]}]
        component["properties"] = [sbom.prop("file:mode", "%04o" % record["mode"])]
    return component


def _rootfs_properties(rootfs):
    """Where a root file system's packages came from and the digest of its cached tar (what
    ``docker import`` read)."""
    return [sbom.prop("debian:suite", rootfs["suite"]), sbom.prop("debian:mirror", rootfs["mirror"]),
            sbom.prop("rootfs:sha256", rootfs["rootfs_sha256"])]


def _packages(rootfs, libraries):
    """Add the installed packages of ``rootfs`` to ``libraries``; their refs."""
    refs = []
    for package in rootfs["packages"]:
        component = _deb_component(package)
        libraries[component["bom-ref"]] = component
        refs.append(component["bom-ref"])
    return refs


def image_bom(reference, key, rootfs=None, base=None, binaries=(), binary_paths=None, files=()):
    """The CycloneDX document (a dict) of the image ``reference`` with content key ``key``.

    ``rootfs``: the package list of the image's own root file system (``image_build``'s
    ``.packages.json``: ``packages``, ``suite``, ``mirror``, ``rootfs_sha256``), for an image from
    debootstrap. ``base``: ``{"reference", "key", "rootfs"}`` of the image it is built on (None
    for an image of its own root file system or built from scratch). ``binaries``: the entries of
    the binaries it holds (as :func:`sbom.bom` takes them), ``binary_paths`` ``{binary name:
    [paths in the image]}``. ``files``: :func:`file_records` of every other file the build adds.
    """
    subject_ref = "image:" + reference
    subject = {"type": "container", "bom-ref": subject_ref, "name": reference, "version": key,
               "description": "an image built by the scs.kaas collection"}
    # Debian packages first: a static library of a binary that is also installed in the image
    # stays the installed package's component (with its .deb hash).
    libraries, containers, dependencies, contents = {}, [], [], []
    if rootfs:
        subject["properties"] = _rootfs_properties(rootfs)
        contents += _packages(rootfs, libraries)
    if base:
        base_ref = "image:" + base["reference"]
        containers.append({"type": "container", "bom-ref": base_ref, "name": base["reference"],
                           "version": base["key"], "description": "the base image",
                           "properties": _rootfs_properties(base["rootfs"])})
        dependencies.append({"ref": base_ref, "dependsOn": sorted(_packages(base["rootfs"], libraries))})
        contents.append(base_ref)
    applications, binary_dependencies = sbom.binary_components(binaries, libraries)
    for application in applications:
        for path in sorted((binary_paths or {}).get(application["name"], ())):
            application["properties"].append(sbom.prop("image:path", path))
    file_components = [_file_component(record) for record in files]
    contents += [c["bom-ref"] for c in applications + file_components]
    dependencies.insert(0, {"ref": subject_ref, "dependsOn": sorted(set(contents))})
    dependencies += binary_dependencies
    dependencies += [{"ref": c["bom-ref"]} for c in file_components]
    dependencies += [{"ref": ref} for ref in sorted(libraries)]
    components = containers + applications + file_components + [libraries[ref] for ref in sorted(libraries)]
    return sbom.document(subject, components, dependencies, TOOL)
