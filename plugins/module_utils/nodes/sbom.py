# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Bills of materials (CycloneDX 1.6 JSON) of built Go (and C) binaries: pure functions, no I/O.

The input per binary is what the binary says about itself, the build information Go embeds
(``go version -m`` prints it: the main package, every module compiled in with its version and
go.sum hash, replacements, build settings), its sha256 and the Debian packages a cgo build
linked in statically. :func:`bom` makes one document for a set of binaries: the set is the
metadata component, each binary an application component, every Go module (once, however many
binaries use it), the Go standard library and each static library a library component, and the
dependency graph says which binary contains which. A binary compiled from C (pause) carries no
build information; its build record stands in: the source file and its sha256, the Go module and
version it comes from, the flags, the compiler and the Debian versions of the build tools.

:func:`binary_components` and :func:`document` are shared with the documents of images
(``image_sbom.py``), which list the binaries an image holds the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import json
import uuid

from urllib.parse import quote

SPEC_VERSION = "1.6"
PROPERTY_PREFIX = "scs.kaas:"
# The namespace of the documents' serial numbers (a UUID derived from the content, so the same
# binaries give the same document).
_SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/SovereignCloudStack/scs.kaas/sbom")


class BuildInfoError(ValueError):
    """The text is not ``go version -m`` output of one Go binary."""


def parse_build_info(text):
    """``go version -m`` output of one binary -> ``{"go", "path", "main", "deps", "settings"}``.

    ``main`` (the module of the main package; a wrapper module's tool build reports the upstream
    module here) and each of ``deps`` are ``{"path", "version", "sum", "replaced_by"}``
    (``replaced_by`` None or the replacing module, ``{"path", "version", "sum"}``); ``settings``
    the ``build`` lines as a dict (Go leaves ``-ldflags`` out of a ``-trimpath`` build).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or ": go" not in lines[0]:
        raise BuildInfoError("not go version -m output: %r" % (lines[0] if lines else text))
    info = {"go": lines[0].rsplit(": ", 1)[1].strip(), "path": None, "main": None, "deps": [], "settings": {}}
    for line in lines[1:]:
        fields = line.strip("\n").split("\t")
        if fields and fields[0] == "":
            fields = fields[1:]
        kind, rest = fields[0], fields[1:]
        if kind == "path":
            info["path"] = rest[0]
        elif kind in ("mod", "dep", "=>"):
            module = {"path": rest[0], "version": rest[1] if len(rest) > 1 else "",
                      "sum": rest[2] if len(rest) > 2 and rest[2] else None}
            module["replaced_by"] = None
            if kind == "mod":
                info["main"] = module
            elif kind == "dep":
                info["deps"].append(module)
            elif not (info["deps"] or info["main"]):
                raise BuildInfoError("replacement %r without a module before it" % line)
            else:
                (info["deps"] or [info["main"]])[-1]["replaced_by"] = module
        elif kind == "build":
            key, _sep, value = rest[0].partition("=")
            info["settings"][key] = value
        else:
            raise BuildInfoError("unknown line in go version -m output: %r" % line)
    if not info["path"] or not info["main"]:
        raise BuildInfoError("go version -m output without path or mod line")
    return info


def go_sum_to_sha256(go_sum_hash):
    """The hex SHA-256 of a go.sum ``h1:`` hash (the module's directory hash), or None."""
    if not go_sum_hash or not go_sum_hash.startswith("h1:"):
        return None
    try:
        digest = base64.b64decode(go_sum_hash[3:], validate=True)
    except (binascii.Error, ValueError):
        return None
    return binascii.hexlify(digest).decode("ascii") if len(digest) == 32 else None


def golang_purl(path, version=None, subpath=None):
    """Package URL of a Go module (``pkg:golang/<path>@<version>#<subpath>``)."""
    purl = "pkg:golang/" + "/".join(quote(part, safe="") for part in path.split("/"))
    if version and version != "(devel)":
        purl += "@" + quote(version, safe="")
    if subpath:
        purl += "#" + "/".join(quote(part, safe="") for part in subpath.split("/"))
    return purl


def deb_purl(package, version, arch):
    return "pkg:deb/debian/%s@%s?arch=%s" % (quote(package, safe=""), quote(version, safe=""), quote(arch, safe=""))


def prop(name, value):
    """A property in the collection's namespace."""
    return {"name": PROPERTY_PREFIX + name, "value": value}


def _edited(dep):
    """Replaced by a local directory: the build's edited copy of the release (``build.EDITS``),
    whose cache path says nothing to a reader of the document."""
    return bool(dep["replaced_by"]) and dep["replaced_by"]["path"].startswith(("/", "./", "../"))


def _effective(dep):
    """The module actually compiled in (the replacement, when there is one; the release itself
    when the replacement is its edited copy)."""
    return dep if _edited(dep) else (dep["replaced_by"] or dep)


def _module_component(dep):
    module = _effective(dep)
    component = {"type": "library", "bom-ref": golang_purl(module["path"], module["version"]),
                 "name": module["path"], "purl": golang_purl(module["path"], module["version"])}
    if module["version"]:
        component["version"] = module["version"]
    digest = go_sum_to_sha256(module["sum"])
    if digest:
        component["hashes"] = [{"alg": "SHA-256", "content": digest}]
    properties = []
    if module["sum"]:
        properties.append(prop("go.sum", module["sum"]))
    if _edited(dep):
        properties.append(prop("go:edited", "compiled from a copy of this release changed by the build's edit step"))
    elif dep["replaced_by"]:
        properties.append(prop("go:replaces", "%s %s" % (dep["path"], dep["version"])))
    if properties:
        component["properties"] = properties
    return component


def _providing_module(info):
    """Path and version of the module that holds the binary's main package (the longest module
    path the package path starts with; the main module when no dependency holds it)."""
    best = None
    for dep in [info["main"]] + info["deps"]:
        if info["path"] == dep["path"] or info["path"].startswith(dep["path"] + "/"):
            if best is None or len(dep["path"]) > len(best["path"]):
                best = {"path": dep["path"], "version": _effective(dep)["version"]}
    return best or {"path": info["main"]["path"], "version": info["main"]["version"]}


def _binary_component(entry, info):
    provider = _providing_module(info)
    subpath = info["path"][len(provider["path"]):].strip("/") or None
    component = {"type": "application", "bom-ref": "binary:" + entry["name"], "name": entry["name"],
                 "purl": golang_purl(provider["path"], provider["version"], subpath),
                 "hashes": [{"alg": "SHA-256", "content": entry["sha256"]}],
                 "properties": [prop("go:package", info["path"]), prop("go:toolchain", info["go"])]
                 + [prop("go:build:" + key, value) for key, value in sorted(info["settings"].items())]}
    if provider["version"] and provider["version"] != "(devel)":
        component["version"] = provider["version"]
    return component


def _c_binary_component(entry):
    """A binary compiled from one C file of a Go module (``entry["c_build"]``: ``module``,
    ``module_version``, ``module_sum``, ``source``, ``source_sha256``, ``cflags``, ``compiler``,
    ``build_tools`` ``{Debian package: version}``) and the module component it comes from."""
    c = entry["c_build"]
    subpath = c["source"].rsplit("/", 1)[0] if "/" in c["source"] else None
    component = {"type": "application", "bom-ref": "binary:" + entry["name"], "name": entry["name"],
                 "version": c["module_version"], "purl": golang_purl(c["module"], c["module_version"], subpath),
                 "hashes": [{"alg": "SHA-256", "content": entry["sha256"]}],
                 "properties": [prop("c:source", c["source"]), prop("c:source:sha256", c["source_sha256"]),
                                prop("c:compiler", c["compiler"]), prop("c:flags", " ".join(c["cflags"]))]
                 + [prop("c:build-tool:" + package, package_version)
                    for package, package_version in sorted((c.get("build_tools") or {}).items())]}
    module = _module_component({"path": c["module"], "version": c["module_version"], "sum": c.get("module_sum"),
                                "replaced_by": None})
    return component, module


def _go_binary(entry, libraries):
    """The component of a Go binary and the refs of what it contains (added to ``libraries``)."""
    info = parse_build_info(entry["build_info"])
    refs = []
    for dep in [info["main"]] + info["deps"]:
        module = _module_component(dep)
        libraries.setdefault(module["bom-ref"], module)
        refs.append(module["bom-ref"])
    std = {"type": "library", "bom-ref": golang_purl("std", info["go"]), "name": "std", "version": info["go"],
           "purl": golang_purl("std", info["go"]), "description": "the Go standard library and runtime"}
    libraries.setdefault(std["bom-ref"], std)
    refs.append(std["bom-ref"])
    return _binary_component(entry, info), refs, info["settings"].get("GOARCH", "amd64")


def binary_components(entries, libraries):
    """The application components of ``entries`` (see :func:`bom`) and their ``dependencies``
    entries; what they contain is added to ``libraries`` (``{bom-ref: component}``), each once:
    a component already there (a Debian package of an image, say) is kept as it is."""
    applications, dependencies = [], []
    for entry in sorted(entries, key=lambda e: e["name"]):
        if entry.get("c_build"):
            binary, module = _c_binary_component(entry)
            libraries.setdefault(module["bom-ref"], module)
            refs, arch = [module["bom-ref"]], entry["c_build"].get("arch", "amd64")
        else:
            binary, refs, arch = _go_binary(entry, libraries)
        applications.append(binary)
        for package, package_version in sorted((entry.get("static_libraries") or {}).items()):
            ref = deb_purl(package, package_version, arch)
            libraries.setdefault(ref, {"type": "library", "bom-ref": ref, "name": package,
                                       "version": package_version, "purl": ref,
                                       "properties": [prop("linked", "statically")]})
            refs.append(ref)
        dependencies.append({"ref": binary["bom-ref"], "dependsOn": sorted(set(refs))})
    return applications, dependencies


def document(subject, components, dependencies, tool):
    """The CycloneDX document of ``subject`` (the metadata component) made by ``tool``, with a
    serial number derived from its content (the same content gives the same document)."""
    bom_document = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": {"component": subject, "tools": {"components": [{"type": "application", "name": tool}]}},
        "components": components,
        "dependencies": dependencies,
    }
    content = json.dumps(bom_document, sort_keys=True).encode("utf-8")
    bom_document["serialNumber"] = "urn:uuid:%s" % uuid.uuid5(_SERIAL_NAMESPACE, content.decode("utf-8"))
    return bom_document


def bom(name, version, entries):
    """CycloneDX document (a dict) of the set ``name`` ``version`` made of ``entries``: dicts with
    ``name``, ``sha256`` (hex), ``build_info`` (``go version -m`` text) or, for a binary compiled
    from C, ``c_build`` (see :func:`_c_binary_component`), and ``static_libraries``
    (``{Debian package: version}`` linked in statically; may be absent)."""
    set_ref = "set:%s@%s" % (name, version)
    libraries = {}
    applications, dependencies = binary_components(entries, libraries)
    dependencies.insert(0, {"ref": set_ref, "dependsOn": sorted(c["bom-ref"] for c in applications)})
    dependencies.extend({"ref": ref} for ref in sorted(libraries))
    subject = {"type": "platform", "bom-ref": set_ref, "name": name, "version": version,
               "description": "binaries built from pinned Go modules by the scs.kaas collection"}
    return document(subject, applications + [libraries[ref] for ref in sorted(libraries)], dependencies,
                    "scs.kaas node binaries")
