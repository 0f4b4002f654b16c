# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""A real build of the cheapest node binaries (the CNI plugins, and pause, compiled from C) into an
empty cache, their bill of materials checked against the official CycloneDX schema and the
wrapper's go.sum, and a warm second call that builds and writes nothing.

The heavy node binaries (kubelet, containerd, ...) go through the same code; their build minutes
are in docs/real-nodes.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import struct
import subprocess

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils.embedded import build
from ansible_collections.scs.kaas.plugins.module_utils.nodes import node_binaries
from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SOURCE_DIR = os.path.join(REPO, "roles", "management_cluster", "files", "embedded")
PLUGINS = ["bridge", "host-local", "loopback", "portmap", "ptp"]


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def cold_and_warm(tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("cache"))
    version = pins.KUBERNETES_MANAGEMENT_VERSION
    cold = node_binaries.ensure_node_binaries(SOURCE_DIR, local_command.runner(), version, names=PLUGINS,
                                              cache_dir=cache, log=lambda msg: None)
    stamps = dict((n, os.stat(p).st_mtime_ns) for n, p in cold["binaries"].items())
    stamps["sbom"] = os.stat(cold["sbom"]).st_mtime_ns
    warm = node_binaries.ensure_node_binaries(SOURCE_DIR, local_command.runner(), version, names=PLUGINS,
                                              cache_dir=cache, log=lambda msg: None)
    return cache, cold, warm, stamps


def test_the_cold_call_builds_every_plugin_into_the_cache(cold_and_warm):
    cache, cold, _warm, _stamps = cold_and_warm
    assert sorted(cold["built"]) == sorted(PLUGINS) and cold["sbom_written"]
    with open(os.path.join(SOURCE_DIR, "go", "cni-plugins", "go.mod"), "r", encoding="utf-8") as f:
        release = build.parse_go_mod_requires(f.read())["github.com/containernetworking/plugins"]
    for name, path in cold["binaries"].items():
        assert path.startswith(os.path.join(cache, "embedded", name) + os.sep)
        # A CNI plugin run without CNI_COMMAND reports its name and the release it was stamped with.
        proc = subprocess.run([path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env={"PATH": "/usr/bin:/bin"}, check=False)
        assert ("CNI %s plugin %s" % (name, release)).encode() in proc.stdout, (name, proc.stdout)


def test_the_warm_call_builds_and_writes_nothing(cold_and_warm):
    _cache, cold, warm, stamps = cold_and_warm
    assert warm["built"] == [] and not warm["sbom_written"]
    assert warm["binaries"] == cold["binaries"] and warm["sbom"] == cold["sbom"]
    for name, path in warm["binaries"].items():
        assert os.stat(path).st_mtime_ns == stamps[name], name
    assert os.stat(warm["sbom"]).st_mtime_ns == stamps["sbom"]


def test_the_bill_of_materials_is_valid_cyclonedx(cold_and_warm):
    _cache, cold, _warm, _stamps = cold_and_warm
    with open(cold["sbom"], "r", encoding="utf-8") as f:
        text = f.read()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None


def test_the_bill_of_materials_names_each_binary_by_its_sha256_and_every_module_as_go_sum_does(cold_and_warm):
    _cache, cold, _warm, _stamps = cold_and_warm
    with open(cold["sbom"], "r", encoding="utf-8") as f:
        document = json.load(f)
    apps = dict((c["name"], c) for c in document["components"] if c["type"] == "application")
    assert sorted(apps) == sorted(PLUGINS)
    for name, path in cold["binaries"].items():
        assert apps[name]["hashes"] == [{"alg": "SHA-256", "content": _sha256(path)}]
    # Every Go module in the document is pinned, with that very hash, by the wrapper's go.sum.
    with open(os.path.join(SOURCE_DIR, "go", "cni-plugins", "go.sum"), "r", encoding="utf-8") as f:
        go_sum = set(tuple(line.split()) for line in f if line.strip())
    modules = [c for c in document["components"] if c["purl"].startswith("pkg:golang/") and c["name"] != "std"
               and c["type"] == "library"]
    assert len(modules) >= 5
    for module in modules:
        recorded = dict((p["name"], p["value"]) for p in module["properties"])["scs.kaas:go.sum"]
        assert (module["name"], module["version"], recorded) in go_sum, module["name"]
    depends = dict((d["ref"], d.get("dependsOn", [])) for d in document["dependencies"])
    plugins_module = "pkg:golang/github.com/containernetworking/plugins@%s" % apps["bridge"]["version"]
    assert all(plugins_module in depends["binary:%s" % name] for name in PLUGINS)


def _has_program_interpreter(path):
    """Whether an ELF64 little-endian executable asks for a dynamic loader (a PT_INTERP program
    header): a statically linked one does not."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x7fELF\x02\x01", "not an ELF64 little-endian file"
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    return any(struct.unpack_from("<I", data, phoff + i * phentsize)[0] == 3 for i in range(phnum))


def _kubernetes_module_dir():
    """The management pin's k8s.io/kubernetes source, as the Go module cache holds it."""
    proc = subprocess.run([build.find_go(), "mod", "download", "-json",
                           "k8s.io/kubernetes@" + pins.KUBERNETES_MANAGEMENT_VERSION],
                          cwd=SOURCE_DIR, stdout=subprocess.PIPE, check=True)
    return json.loads(proc.stdout)["Dir"]


@pytest.fixture(scope="module")
def pause_cold_and_warm(tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("cache"))
    version = pins.KUBERNETES_MANAGEMENT_VERSION
    cold = node_binaries.ensure_node_binaries(SOURCE_DIR, local_command.runner(), version, names=["pause"],
                                              cache_dir=cache, log=lambda msg: None)
    stamps = (os.stat(cold["binaries"]["pause"]).st_mtime_ns, os.stat(cold["sbom"]).st_mtime_ns)
    warm = node_binaries.ensure_node_binaries(SOURCE_DIR, local_command.runner(), version, names=["pause"],
                                              cache_dir=cache, log=lambda msg: None)
    return cache, cold, warm, stamps


def test_pause_is_compiled_into_the_cache_and_reports_the_version_kubeadm_expects(pause_cold_and_warm):
    cache, cold, _warm, _stamps = pause_cold_and_warm
    path = cold["binaries"]["pause"]
    assert cold["built"] == ["pause"] and path.startswith(os.path.join(cache, "embedded", "pause") + os.sep)
    out = subprocess.run([path, "-v"], stdout=subprocess.PIPE, check=True).stdout.decode()
    # The version kubeadm of the management pin names in its constants (read from the module).
    kubernetes = _kubernetes_module_dir()
    with open(os.path.join(kubernetes, "cmd", "kubeadm", "app", "constants", "constants.go"), "r",
              encoding="utf-8") as f:
        expected = node_binaries.kubeadm_image_versions(f.read())["pause"]
    assert out == "pause.c v%s-%s\n" % (expected, pins.KUBERNETES_MANAGEMENT_VERSION)
    assert not _has_program_interpreter(path)


def test_pause_warm_call_writes_nothing_and_its_bill_of_materials_names_its_source(pause_cold_and_warm):
    _cache, cold, warm, stamps = pause_cold_and_warm
    assert warm["built"] == [] and not warm["sbom_written"] and warm["binaries"] == cold["binaries"]
    assert (os.stat(warm["binaries"]["pause"]).st_mtime_ns, os.stat(warm["sbom"]).st_mtime_ns) == stamps
    with open(cold["sbom"], "r", encoding="utf-8") as f:
        text = f.read()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    pause = [c for c in json.loads(text)["components"] if c["name"] == "pause"][0]
    properties = dict((p["name"], p["value"]) for p in pause["properties"])
    with open(os.path.join(os.path.dirname(cold["binaries"]["pause"]), "build.json"), "r", encoding="utf-8") as f:
        source = json.load(f)["source"]
    kubernetes = _kubernetes_module_dir()
    assert properties["scs.kaas:c:source:sha256"] == _sha256(os.path.join(kubernetes, source))
    assert pause["hashes"] == [{"alg": "SHA-256", "content": _sha256(cold["binaries"]["pause"])}]
