# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The images' bills of materials in the cache: the package list recorded before the downloads
are trimmed, a failed build leaving nothing, one document per image written once, warm calls
writing nothing. The commands run against a fake host (:class:`FakeHost`): debootstrap writes a
small root file system, tar is the real one, the engine keeps its images in a dict."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import subprocess
import tarfile

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ansible_collections.scs.kaas.plugins.module_utils.command import CommandRunner
from ansible_collections.scs.kaas.plugins.module_utils.nodes import cluster_images, image_build, image_recipes
from ansible_collections.scs.kaas.plugins.module_utils.nodes import layered_build

STATUS = ("Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u13\n\n"
          "Package: bsdutils\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:2.38.1-5+deb12u3\n\n"
          "Package: adduser\nStatus: install ok installed\nArchitecture: all\nVersion: 3.134\n")
DEBS = {"base-files_12.4+deb12u13_amd64.deb": b"base-files deb", "bsdutils_1%3a2.38.1-5+deb12u3_amd64.deb": b"bsd",
        "adduser_3.134_all.deb": b"adduser deb"}
MIRROR = "127.0.0.1:5051"


class FakeHost(object):
    """Answers the commands of the image builds; ``calls`` records each argv (without timeout)."""

    def __init__(self, debs=None):
        self.debs = DEBS if debs is None else debs
        self.images, self.pushed, self.calls = {}, {}, []
        self.runner = CommandRunner(self.execute)

    def execute(self, argv, cwd, env, data):
        if argv[0] == "timeout":
            argv = argv[3:]
        self.calls.append(argv)
        command = os.path.basename(argv[0])
        if command == "debootstrap":
            return self._debootstrap(argv[4])
        if command == "tar":
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            return proc.returncode, proc.stdout, proc.stderr
        if command == "docker":
            return self._docker(argv[1:])
        if command == "ctr" or argv[1:3] == ["oci", "spec"]:
            return 0, json.dumps({"process": {"rlimits": [{"type": "RLIMIT_NOFILE"}]}}), ""
        if argv[1:3] == ["version", "-m"]:
            name = os.path.basename(argv[3])
            return 0, ("%s: go1.26.8\n\tpath\texample.com/%s\n\tmod\texample.com/%s\tv1.0.0\t"
                       "h1:ZN+IMa753KfX5hd8vVaMixjnqRZ3y8CuJKRKj1xcsSM=\n\tbuild\tCGO_ENABLED=0\n"
                       % (argv[3], name, name)), ""
        return 127, "", "%s: not faked" % argv[0]

    def _debootstrap(self, target):
        archives = os.path.join(target, "var", "cache", "apt", "archives")
        os.makedirs(os.path.join(archives, "partial"))
        os.makedirs(os.path.join(target, "var", "lib", "dpkg"))
        with open(os.path.join(target, "var", "lib", "dpkg", "status"), "w") as handle:
            handle.write(STATUS)
        open(os.path.join(archives, "lock"), "w").close()
        for name, content in self.debs.items():
            with open(os.path.join(archives, name), "wb") as handle:
                handle.write(content)
        return 0, "", ""

    def _docker(self, args):
        if args[0] == "import":
            label = [c for c in args if c.startswith("LABEL ")][0]
            self.images[args[-1]] = label.rpartition("=")[2]
        elif args[0] == "build":
            reference, context = args[args.index("--tag") + 1], args[-1]
            if context != "-":
                with open(os.path.join(context, "Dockerfile")) as handle:
                    self.images[reference] = handle.read().rpartition("=")[2].strip().strip('"')
        elif args[:2] == ["image", "inspect"]:
            reference = args[-1]
            if reference not in self.images:
                return 1, "", "Error: No such image: %s" % reference
            if "RepoDigests" in args[3]:
                pushed = self.pushed.get(reference)
                return 0, json.dumps([reference.rpartition(":")[0] + "@" + pushed] if pushed else []), ""
            return 0, self.images[reference] + "\n", ""
        elif args[0] == "tag":
            self.images[args[2]] = self.images[args[1]]
        elif args[0] == "push":
            self.pushed[args[1]] = "sha256:" + hashlib.sha256(self.images[args[1]].encode()).hexdigest()
        else:
            return 1, "", "docker %s: not faked" % args[0]
        return 0, "", ""

    def registry_get(self, url, headers):
        host_and_name, _sep, tag = url[len("http://"):].replace("/v2/", "/", 1).rpartition("/manifests/")
        digest = self.pushed.get("%s:%s" % (host_and_name, tag))
        return (200, {"Docker-Content-Digest": digest}) if digest else (404, {})

    def commands(self, *names):
        return [argv for argv in self.calls if os.path.basename(argv[0]) in names]


def _tree(directory):
    """Every file below ``directory`` with its size and mtime: a write shows up here."""
    found = {}
    for parent, _dirs, names in os.walk(directory):
        for name in names:
            stat = os.stat(os.path.join(parent, name))
            found[os.path.relpath(os.path.join(parent, name), directory)] = (stat.st_size, stat.st_mtime_ns)
    return found


def _valid_document(path):
    with open(path) as handle:
        text = handle.read()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None, path
    return json.loads(text)


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def test_the_rootfs_build_records_every_deb_before_they_are_trimmed(tmp_path):
    host = FakeHost()
    built = image_build.build_rootfs(image_recipes.LOAD_BALANCER, host.runner, cache_dir=str(tmp_path))
    assert built["packages"] == built["path"][:-len(".tar")] + ".packages.json"
    with open(built["packages"]) as handle:
        recorded = json.load(handle)
    assert [(p["package"], p["version"], p["architecture"], p["sha256"]) for p in recorded["packages"]] == [
        ("adduser", "3.134", "all", _sha256(b"adduser deb")),
        ("base-files", "12.4+deb12u13", "amd64", _sha256(b"base-files deb")),
        ("bsdutils", "1:2.38.1-5+deb12u3", "amd64", _sha256(b"bsd"))]
    with open(built["path"], "rb") as handle:
        assert recorded["rootfs_sha256"] == _sha256(handle.read())
    assert (recorded["suite"], recorded["mirror"]) == ("bookworm", image_recipes.DEBIAN_MIRROR)
    with tarfile.open(built["path"]) as archive:
        names = archive.getnames()
    assert "./var/lib/dpkg/status" in names and "./usr/local/sbin/haproxy" in names
    assert not [name for name in names if name.endswith(".deb")]
    # Both in the cache: the second call builds nothing.
    again = image_build.build_rootfs(image_recipes.LOAD_BALANCER, host.runner, cache_dir=str(tmp_path))
    assert again["cached"] and len(host.commands("debootstrap")) == 1


def test_a_package_installed_without_its_deb_fails_the_build_and_leaves_nothing(tmp_path):
    host = FakeHost(debs=dict((name, data) for name, data in DEBS.items() if not name.startswith("bsdutils")))
    with pytest.raises(image_build.ImageBuildError) as err:
        image_build.build_rootfs(image_recipes.LOAD_BALANCER, host.runner, cache_dir=str(tmp_path))
    assert "bsdutils 1:2.38.1-5+deb12u3 (amd64)" in str(err.value)
    assert os.listdir(str(tmp_path / "images")) == []


def test_a_tar_without_its_package_list_is_built_again(tmp_path):
    host = FakeHost()
    built = image_build.build_rootfs(image_recipes.LOAD_BALANCER, host.runner, cache_dir=str(tmp_path))
    os.unlink(built["packages"])
    rebuilt = image_build.build_rootfs(image_recipes.LOAD_BALANCER, host.runner, cache_dir=str(tmp_path))
    assert not rebuilt["cached"] and os.path.isfile(rebuilt["packages"])


def test_ensure_image_writes_the_document_once_and_a_warm_call_writes_nothing(tmp_path):
    host = FakeHost()
    cache = str(tmp_path)
    first = image_build.ensure_image(image_recipes.LOAD_BALANCER, "scs-kaas", "docker", "unix:///x", host.runner,
                                     cache_dir=cache)
    assert first["changed"] and first["sbom_written"]
    assert first["sbom"] == os.path.join(cache, "nodes", "images", "scs-kaas_haproxy_bookworm-%s-%s.cdx.json"
                                         % (first["key"], first["key"]))
    document = _valid_document(first["sbom"])
    assert document["metadata"]["component"]["name"] == first["image"]
    names = sorted(c["name"] for c in document["components"])
    assert names == ["/usr/local/etc/haproxy/haproxy.cfg", "/usr/local/sbin/haproxy", "adduser", "base-files",
                     "bsdutils"]
    before, calls = _tree(cache), len(host.calls)
    again = image_build.ensure_image(image_recipes.LOAD_BALANCER, "scs-kaas", "docker", "unix:///x", host.runner,
                                     cache_dir=cache)
    assert not again["changed"] and not again["sbom_written"]
    assert _tree(cache) == before
    assert [argv[1:3] for argv in host.calls[calls:]] == [["image", "inspect"]]


def test_a_missing_document_of_an_imported_image_is_written_without_importing_again(tmp_path):
    host = FakeHost()
    cache = str(tmp_path)
    first = image_build.ensure_image(image_recipes.NODE_BASE, "scs-kaas", "docker", "unix:///x", host.runner,
                                     cache_dir=cache)
    with open(first["sbom"]) as handle:
        written = handle.read()
    os.unlink(first["sbom"])
    again = image_build.ensure_image(image_recipes.NODE_BASE, "scs-kaas", "docker", "unix:///x", host.runner,
                                     cache_dir=cache)
    assert not again["changed"] and again["sbom_written"]
    with open(again["sbom"]) as handle:
        assert handle.read() == written
    assert len([argv for argv in host.commands("docker") if argv[1] == "import"]) == 1


@pytest.fixture
def kind_dir(tmp_path):
    root = tmp_path / "kind" / cluster_images.KIND_BASE_FILES
    for relative, text in (("usr/local/bin/entrypoint", "#!/bin/bash\n"), ("kind/bin/undo-mount-hacks.sh", "x")):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path / "kind")


@pytest.fixture
def fake_go(tmp_path, monkeypatch):
    """An executable named go: found by the build (SCS_KAAS_GO), answered by :class:`FakeHost`."""
    go = tmp_path / "go-toolchain" / "go"
    go.parent.mkdir()
    go.write_text("#!/bin/sh\nexit 1\n")
    go.chmod(0o755)
    monkeypatch.setenv("SCS_KAAS_GO", str(go))
    return str(go)


def test_cluster_images_get_one_document_each_and_a_warm_call_writes_nothing(tmp_path, binaries, kind_dir, fake_go):
    host = FakeHost()
    cache = str(tmp_path / "cache")

    def ensure():
        return layered_build.ensure_cluster_images("v1.36.5", binaries, kind_dir, MIRROR, "docker", "unix:///x",
                                                   host.runner, host.registry_get, cache_dir=cache)

    first = ensure()
    references = [first["node_image"]] + sorted(first["images"].values())
    assert sorted(first["sboms"]) == sorted(references + ["scs-kaas/node-base:bookworm-%s"
                                                          % image_recipes.content_key(image_recipes.NODE_BASE)])
    documents = dict((reference, _valid_document(path)) for reference, path in first["sboms"].items())
    assert len(set(first["sboms"].values())) == len(first["sboms"])
    node = dict((c["bom-ref"], c) for c in documents[first["node_image"]]["components"])
    assert {"name": "scs.kaas:image:path", "value": "/usr/bin/kubelet"} in node["binary:kubelet"]["properties"]
    assert node["binary:kubelet"]["hashes"] == [{"alg": "SHA-256", "content": _sha256(b"kubelet")}]
    entrypoint = node["file:/usr/local/bin/entrypoint"]
    assert entrypoint["hashes"] == [{"alg": "SHA-256", "content": _sha256(b"#!/bin/bash\n")}]
    assert "pkg:deb/debian/bsdutils@1%3A2.38.1-5%2Bdeb12u3?arch=amd64" in node
    assert "pkg:golang/example.com/kubelet@v1.0.0" in node
    pause = documents[MIRROR + "/registry.k8s.io/pause:3.10.2"]
    assert sorted(c["bom-ref"] for c in pause["components"]) == [
        "binary:pause", "pkg:golang/example.com/pause@v1.0.0", "pkg:golang/std@go1.26.8"]
    etcd = dict((c["bom-ref"], c) for c in documents[[r for r in references if "/etcd:" in r][0]]["components"])
    assert {"name": "scs.kaas:image:path", "value": "/usr/local/bin/etcd"} in etcd["binary:etcd-server"]["properties"]

    before, calls = _tree(tmp_path), len(host.calls)
    again = ensure()
    assert (again["changed"], again["built"], again["pushed"]) == (False, [], [])
    assert again["sboms"] == first["sboms"]
    assert _tree(tmp_path) == before
    assert not [argv for argv in host.calls[calls:] if argv[1:2] in (["build"], ["push"], ["import"], ["version"])]
