# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Checksum table of every pinned artifact, with the upstream source of each checksum.

Rules (see docs/management-clusters.md, "Checksums"):

* An entry is ``verified`` only when its checksum was read from an upstream, authoritative
  source that is cited next to it (a release checksum file, the Go checksum database, the
  upstream source tree at the pinned tag). Checksums of things this project builds are never
  recorded here as upstream's.
* An entry whose checksum could not be obtained is ``unverified`` with ``sha256: None`` and the
  address of the upstream checksum file to read it from. :func:`expected_sha256` refuses such an
  artifact unless the operator supplies the checksum (``overrides``) or explicitly allows
  unverified artifacts (``allow_unverified=True``).

Public API (pure Python, stdlib only):

``ArtifactError(ValueError)``
``ARTIFACTS``: list of dicts ``name, version, arch, filename, url, sha256, status, source``
``GO_MODULES``: dict ``module@version -> {"h1": ..., "source": ...}`` (Go checksum database)
``IMAGES``: list of dicts ``name, reference, digest, status, source``
``find(name, version, arch, filename=None) -> list``
``expected_sha256(name, version, arch, filename, overrides=None, allow_unverified=False,
var_name='artifact') -> dict(sha256, origin)``
``sha256_file(path) -> str``
``verify_file(path, expected, var_name) -> str`` (raises on mismatch)
``missing_entries(required) -> list`` (``required``: iterable of (name, version, arch, filename))
``go_dirhash(directory, module, version) -> str`` ("h1:..." as computed by the Go tool)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import os
import re

from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError

VERIFIED = "verified"
UNVERIFIED = "unverified"

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class ArtifactError(KaasError, ValueError):
    """An artifact is unknown, unverified or does not match its checksum."""


def _k3s_entries(version, arch, filename):
    tag = version.replace("+", "%2B")
    return {
        "name": "k3s",
        "version": version,
        "arch": arch,
        "filename": filename,
        "url": "https://github.com/k3s-io/k3s/releases/download/%s/%s" % (tag, filename),
        "sha256": None,
        "status": UNVERIFIED,
        "source": "https://github.com/k3s-io/k3s/releases/download/%s/sha256sum-%s.txt "
                  "(not reachable from the build environment; read the line for %s there)"
                  % (tag, arch, filename),
    }


def _kind_entry(version, arch):
    filename = "kind-linux-%s" % arch
    base = "https://github.com/kubernetes-sigs/kind/releases/download/%s/" % version
    return {
        "name": "kind",
        "version": version,
        "arch": arch,
        "filename": filename,
        "url": base + filename,
        "sha256": None,
        "status": UNVERIFIED,
        "source": base + filename + ".sha256sum (not reachable from the build environment)",
    }


# Every downloadable file the roles install. Keep one entry per (name, version, arch, filename).
ARTIFACTS = [
    _k3s_entries("v1.34.4+k3s1", "amd64", "k3s"),
    _k3s_entries("v1.34.4+k3s1", "amd64", "k3s-airgap-images-amd64.tar.zst"),
    _k3s_entries("v1.34.4+k3s1", "arm64", "k3s-arm64"),
    _k3s_entries("v1.34.4+k3s1", "arm64", "k3s-airgap-images-arm64.tar.zst"),
    _kind_entry("v0.33.0", "amd64"),
    _kind_entry("v0.33.0", "arm64"),
    {
        "name": "cert-manager",
        "version": "v1.21.1",
        "arch": "all",
        "filename": "cert-manager.yaml",
        "url": "https://github.com/cert-manager/cert-manager/releases/download/v1.21.1/cert-manager.yaml",
        "sha256": None,
        "status": UNVERIFIED,
        "source": "cert-manager publishes no checksum file for cert-manager.yaml; compare with the "
                  "release page https://github.com/cert-manager/cert-manager/releases/tag/v1.21.1",
    },
]

# Go modules whose own config/ trees the provider repository is built from (and the kind
# module whose source pins the node image). h1 hashes as recorded by the Go checksum database;
# the Go tool verifies each download against it (GOSUMDB=sum.golang.org).
GO_MODULES = {
    "sigs.k8s.io/cluster-api@v1.14.2": {
        "h1": "h1:o3GFNaeNFAOEEMpDPfhCK+2CjmV6gtQ8yLEcUwCg7bA=",
        "source": "https://sum.golang.org/lookup/sigs.k8s.io/cluster-api@v1.14.2",
    },
    "sigs.k8s.io/cluster-api-provider-openstack@v0.14.7": {
        "h1": "h1:paxhYMaCVkoOBBL3IL02Su2x+/ocXOxqNgZ0AyG2KSI=",
        "source": "https://sum.golang.org/lookup/sigs.k8s.io/cluster-api-provider-openstack@v0.14.7",
    },
    "github.com/k-orc/openstack-resource-controller/v2@v2.4.0": {
        "h1": "h1:5sRLIe24eIwICl/210LuH3BgeF3LAMq+MI0qyCaZ7MI=",
        "source": "https://sum.golang.org/lookup/github.com/k-orc/openstack-resource-controller/v2@v2.4.0",
    },
    "sigs.k8s.io/cluster-api-addon-provider-helm@v0.5.3": {
        "h1": "h1:izbtRk627MbPeH5HtxX7rRuCPEfCphtRtI29Ij442mE=",
        "source": "https://sum.golang.org/lookup/sigs.k8s.io/cluster-api-addon-provider-helm@v0.5.3",
    },
    "github.com/SovereignCloudStack/cluster-stack-operator@v0.1.0-alpha.7": {
        "h1": "h1:Kuu+fBAs190SSthXR+jDMMU/I58zDLNfkYMwvmWnXys=",
        "source": "https://sum.golang.org/lookup/github.com/!sovereign!cloud!stack/"
                  "cluster-stack-operator@v0.1.0-alpha.7",
    },
    "sigs.k8s.io/kind@v0.33.0": {
        "h1": "h1:AjvDv3vOygb/VKLVQW87lfktIBzkxR8Ump9DjxC8+Lk=",
        "source": "https://sum.golang.org/lookup/sigs.k8s.io/kind@v0.33.0",
    },
    # Add-on chart sources (addons/catalog.py); each h1 is what `go mod download` reported and what
    # sum.golang.org's lookup (read through the module proxy) records.
    "github.com/cilium/cilium@v1.20.2": {
        "h1": "h1:dqiEGIcXc+gqCLYG/l7VCFJ8GHyb4HUrwbZOpkX5dL8=",
        "source": "https://sum.golang.org/lookup/github.com/cilium/cilium@v1.20.2",
    },
    "github.com/cert-manager/cert-manager@v1.21.2": {
        "h1": "h1:UWgoYM+KLNtRlqmoWOKjKBOBUPVHeepQ6/ac3ERJW68=",
        "source": "https://sum.golang.org/lookup/github.com/cert-manager/cert-manager@v1.21.2",
    },
    "sigs.k8s.io/metrics-server@v0.8.0": {
        "h1": "h1:Zlsi3sBWEtFKCD3+xSysThvXyLQ363rUAlqpnsY5JwI=",
        "source": "https://sum.golang.org/lookup/sigs.k8s.io/metrics-server@v0.8.0",
    },
    # The source of the image metrics-server chart 3.12.2 deploys (appVersion 0.7.2).
    "sigs.k8s.io/metrics-server@v0.7.2": {
        "h1": "h1:0t1FhxdEHKHF/SduSRdkNHIYb24TpHqew2B/64GzOq8=",
        "source": "https://sum.golang.org/lookup/sigs.k8s.io/metrics-server@v0.7.2",
    },
}

# Container images pinned by digest.
IMAGES = [
    {
        "name": "kind-node",
        "version": "v0.33.0",
        "reference": "kindest/node:v1.37.0",
        "digest": "sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
        "status": VERIFIED,
        "source": "sigs.k8s.io/kind@v0.33.0 pkg/apis/config/defaults/image.go (module verified "
                  "against https://sum.golang.org/lookup/sigs.k8s.io/kind@v0.33.0)",
    },
]


def find(name, version, arch, filename=None):
    """Entries of ``ARTIFACTS`` matching name, version, arch (and filename when given)."""
    return [a for a in ARTIFACTS
            if a["name"] == name and a["version"] == version and a["arch"] == arch
            and (filename is None or a["filename"] == filename)]


def _valid_sha(value):
    return isinstance(value, str) and bool(_SHA256_RE.match(value))


def override_key(name, version, arch, filename):
    """Key of an operator override: ``<name>/<version>/<arch>/<filename>``."""
    return "%s/%s/%s/%s" % (name, version, arch, filename)


def expected_sha256(name, version, arch, filename, overrides=None, allow_unverified=False,
                    var_name="artifact"):
    """The sha256 an artifact must have, and where that value comes from.

    Returns ``{"sha256": str or None, "origin": "table"|"override"|"unverified-allowed",
    "entry": dict}``. Raises :class:`ArtifactError` when the table has no entry, or the entry
    is unverified and neither an override nor ``allow_unverified`` is given.
    """
    entries = find(name, version, arch, filename)
    if not entries:
        known = sorted({"%s/%s/%s" % (a["version"], a["arch"], a["filename"])
                        for a in ARTIFACTS if a["name"] == name})
        raise ArtifactError(
            "%s: no checksum entry for %s %s (%s, %s); the checksum table "
            "(plugins/module_utils/artifacts.py) knows: %s"
            % (var_name, name, version, arch, filename, ", ".join(known) or "nothing"))
    entry = entries[0]
    key = override_key(name, version, arch, filename)
    overrides = overrides or {}
    if key in overrides:
        value = str(overrides[key]).strip().lower()
        if not _valid_sha(value):
            raise ArtifactError(
                "%s: override for %s is %r, which is not a sha256 (64 lowercase hex digits)"
                % (var_name, key, overrides[key]))
        if entry["status"] == VERIFIED and value != entry["sha256"]:
            raise ArtifactError(
                "%s: override for %s (%s) contradicts the verified upstream checksum %s (%s)"
                % (var_name, key, value, entry["sha256"], entry["source"]))
        return {"sha256": value, "origin": "override", "entry": entry}
    if entry["status"] == VERIFIED:
        return {"sha256": entry["sha256"], "origin": "table", "entry": entry}
    if allow_unverified:
        return {"sha256": None, "origin": "unverified-allowed", "entry": entry}
    raise ArtifactError(
        "%s: %s has no verified upstream checksum in this collection (read it from %s). "
        "Give it explicitly as an override with key %r, or allow unverified artifacts "
        "explicitly; refusing to install it."
        % (var_name, key, entry["source"], key))


def sha256_file(path, chunk=1024 * 1024):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            data = handle.read(chunk)
            if not data:
                break
            digest.update(data)
    return digest.hexdigest()


def verify_file(path, expected, var_name="artifact"):
    """Check ``path`` against ``expected`` (the dict of :func:`expected_sha256`).

    Returns the actual sha256. Raises :class:`ArtifactError` when the file is missing or differs.
    """
    if not os.path.isfile(path):
        raise ArtifactError("%s: artifact file %s does not exist" % (var_name, path))
    actual = sha256_file(path)
    want = expected.get("sha256")
    if want is not None and actual != want:
        raise ArtifactError(
            "%s: checksum mismatch for %s: sha256 is %s, expected %s (%s)"
            % (var_name, path, actual, want, expected.get("origin")))
    return actual


def missing_entries(required):
    """Items of ``required`` ((name, version, arch, filename) tuples) the table lacks."""
    return [tuple(r) for r in required if not find(*r)]


def kind_node_image(version):
    """The pinned node image reference (``name:tag@digest``) for a kind version."""
    for image in IMAGES:
        if image["name"] == "kind-node" and image["version"] == version:
            return "%s@%s" % (image["reference"], image["digest"])
    raise ArtifactError("no pinned kind node image for kind %s" % version)


def go_dirhash(directory, module, version):
    """The Go module hash ("h1:...", golang.org/x/mod/sumdb/dirhash Hash1) of an extracted module.

    Used to check a module directory in the Go module cache against ``GO_MODULES``.
    """
    prefix = "%s@%s" % (module, version)
    files = []
    for root, _dirs, names in os.walk(directory):
        for name in names:
            full = os.path.join(root, name)
            rel = os.path.relpath(full, directory).replace(os.sep, "/")
            files.append((prefix + "/" + rel, full))
    files.sort()
    summary = hashlib.sha256()
    for name, full in files:
        if "\n" in name:
            raise ArtifactError("file name with newline in %s" % directory)
        summary.update(("%s  %s\n" % (sha256_file(full), name)).encode("utf-8"))
    return "h1:" + base64.b64encode(summary.digest()).decode("ascii")


def verify_go_module(directory, module, version):
    """Raise unless ``directory`` hashes to the h1 recorded in ``GO_MODULES``."""
    key = "%s@%s" % (module, version)
    if key not in GO_MODULES:
        raise ArtifactError("no Go checksum database entry recorded for %s" % key)
    actual = go_dirhash(directory, module, version)
    want = GO_MODULES[key]["h1"]
    if actual != want:
        raise ArtifactError("Go module %s in %s hashes to %s, expected %s (%s)"
                            % (key, directory, actual, want, GO_MODULES[key]["source"]))
    return actual
