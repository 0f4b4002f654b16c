# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Unit tests of Helm chart packaging and the repository index (synthetic charts on disk)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import hashlib
import io
import os
import tarfile

import pytest
import yaml

from ansible_collections.scs.kaas.plugins.module_utils.addons import charts

CHART_YAML = """apiVersion: v2
name: demo
description: A demo chart
type: application
version: 1.2.3
appVersion: "4.5.6"
"""

FILES = {
    "Chart.yaml": CHART_YAML,
    "values.yaml": "replicas: 1\n",
    "templates/deployment.yaml": "kind: Deployment\n",
    "templates/_helpers.tpl": "{{/* helpers */}}\n",
    "README.md": "# demo\n",
    "files/config.txt": "a=b\n",
    "crds/crd.yaml": "kind: CustomResourceDefinition\n",
}


def _write(root, relative, content):
    path = os.path.join(str(root), relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _chart(root, files=None, **changes):
    content = dict(FILES if files is None else files)
    content.update(changes)
    for relative, data in content.items():
        if data is not None:
            _write(root, relative, data)
    return str(root)


def _members(package_path):
    with tarfile.open(package_path, "r:gz") as archive:
        return archive.getmembers()


def _names(package_path):
    return [member.name for member in _members(package_path)]


def _member_text(package_path, name):
    with tarfile.open(package_path, "r:gz") as archive:
        return archive.extractfile(name).read().decode("utf-8")


def _read_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def _packaged(tmp_path, helmignore, extra):
    files = dict(FILES)
    files[".helmignore"] = helmignore
    files.update(extra)
    source = _chart(tmp_path / "src", files)
    result = charts.package_chart(source, str(tmp_path / "repo"))
    return set(name.split("/", 1)[1] for name in _names(result["path"]))


def test_package_bytes_depend_only_on_paths_and_contents(tmp_path):
    first = _chart(tmp_path / "first")
    second_root = tmp_path / "second"
    for relative in reversed(list(FILES)):
        _write(second_root, relative, FILES[relative])
    for number, relative in enumerate(sorted(FILES)):
        os.utime(os.path.join(first, relative), (1000000 + number, 1000000 + number))
        os.utime(str(second_root / relative), (2000000000 - number, 2000000000 - number))
    os.chmod(str(second_root / "README.md"), 0o755)

    one = charts.package_chart(first, str(tmp_path / "repo-one"))
    two = charts.package_chart(str(second_root), str(tmp_path / "repo-two"))

    assert _read_bytes(one["path"]) == _read_bytes(two["path"])
    assert one["sha256"] == two["sha256"]
    data = _read_bytes(one["path"])
    assert data[3:8] == b"\0" * 5  # gzip header: no flags (so no file name) and mtime 0
    for member in _members(one["path"]):
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname, member.mode) == \
            (0, 0, 0, "", "", 0o644)
        assert member.isreg()


def test_unchanged_package_is_not_rewritten(tmp_path):
    source = _chart(tmp_path / "src")
    first = charts.package_chart(source, str(tmp_path / "repo"))
    before = os.stat(first["path"])
    second = charts.package_chart(source, str(tmp_path / "repo"))
    after = os.stat(second["path"])

    assert first["changed"] is True and second["changed"] is False
    assert second["sha256"] == first["sha256"]
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_changed_file_rewrites_package(tmp_path):
    source = _chart(tmp_path / "src")
    first = charts.package_chart(source, str(tmp_path / "repo"))
    _write(source, "templates/deployment.yaml", "kind: StatefulSet\n")
    second = charts.package_chart(source, str(tmp_path / "repo"))

    assert second["changed"] is True and second["sha256"] != first["sha256"]
    assert _member_text(second["path"], "demo/templates/deployment.yaml") == "kind: StatefulSet\n"


def test_sha256_is_the_digest_of_the_file(tmp_path):
    result = charts.package_chart(_chart(tmp_path / "src"), str(tmp_path / "repo"))
    assert result["sha256"] == hashlib.sha256(_read_bytes(result["path"])).hexdigest()


def test_tar_layout_follows_helm_save_order_under_the_chart_name(tmp_path):
    files = dict(FILES)
    files["charts/sub/Chart.yaml"] = "apiVersion: v2\nname: sub\nversion: 0.1.0\n"
    files["Chart.lock"] = "dependencies: []\n"
    files["values.schema.json"] = "{}\n"
    result = charts.package_chart(_chart(tmp_path / "not-the-name", files), str(tmp_path / "repo"))

    assert _names(result["path"]) == [
        "demo/Chart.yaml", "demo/Chart.lock", "demo/values.yaml", "demo/values.schema.json",
        "demo/templates/_helpers.tpl", "demo/templates/deployment.yaml",
        "demo/README.md", "demo/crds/crd.yaml", "demo/files/config.txt",
        "demo/charts/sub/Chart.yaml",
    ]
    assert result["filename"] == "demo-1.2.3.tgz"
    assert result["path"] == os.path.join(str(tmp_path / "repo"), "demo-1.2.3.tgz")
    assert _member_text(result["path"], "demo/files/config.txt") == "a=b\n"


def test_version_and_app_version_are_substituted(tmp_path):
    chart_yaml = "apiVersion: v2\nname: cert-manager\nversion: v0.0.0\nappVersion: v0.0.0\nkubeVersion: '>= 1.22'\n"
    source = _chart(tmp_path / "src", {"Chart.yaml": chart_yaml})
    result = charts.package_chart(source, str(tmp_path / "repo"), version="v1.19.1", app_version="v1.19.1")

    assert result["filename"] == "cert-manager-v1.19.1.tgz"
    assert (result["version"], result["app_version"]) == ("v1.19.1", "v1.19.1")
    packaged = _member_text(result["path"], "cert-manager/Chart.yaml")
    assert packaged == ("apiVersion: v2\nname: cert-manager\nversion: v1.19.1\nappVersion: v1.19.1\n"
                        "kubeVersion: '>= 1.22'\n")
    assert yaml.safe_load(packaged) == result["metadata"]


def test_helmignore_rules_follow_helm(tmp_path):
    helmignore = "\n".join([
        "#comment.txt",
        "",
        "*.bak",
        "build/",
        "/root-only.txt",
        "templates/skip-*.yaml",
        "templates/*.txt",
    ]) + "\n"
    packaged = _packaged(tmp_path, helmignore, {
        "#comment.txt": "a comment line is not a rule\n",
        "top.bak": "x", "templates/deep/nested.bak": "x",
        "build/out.txt": "x", "templates/build": "a file, not a directory\n",
        "root-only.txt": "x", "files/root-only.txt": "kept below the root\n",
        "templates/skip-me.yaml": "x", "templates/deep/skip-deep.yaml": "x",
        "templates/NOTES.txt": "x", "templates/deep/kept.txt": "'*' does not cross '/'\n",
        "templates/.hidden": "x", "templates/deep/.hidden": "x", ".hidden": "x",
    })

    assert packaged == set(FILES) | {
        ".helmignore", "#comment.txt", "templates/build", "files/root-only.txt",
        "templates/deep/skip-deep.yaml", "templates/deep/kept.txt", "templates/deep/.hidden", ".hidden",
    }


def test_helmignore_negation_keeps_only_what_it_matches(tmp_path):
    packaged = _packaged(tmp_path, "!*.yaml\n", {"extra.yaml": "x"})
    assert packaged == {"Chart.yaml", "values.yaml", "extra.yaml"}


def test_helmignore_negation_that_drops_chart_yaml_is_reported(tmp_path):
    with pytest.raises(charts.ChartError, match="Chart.yaml is ignored by .helmignore"):
        _packaged(tmp_path, "*.md\n!README.md\n", {})


@pytest.mark.parametrize("line, problem", [
    ("docs/**/x.md", "double-star"),
    ("[z-", "character class"),
    ("[]a]", "character class"),
    ("trailing\\", "backslash"),
])
def test_malformed_helmignore_rule_names_file_and_line(tmp_path, line, problem):
    with pytest.raises(charts.ChartError) as caught:
        _packaged(tmp_path, "# rules\n*.bak\n%s\n" % line, {})
    message = str(caught.value)
    assert ".helmignore line 3" in message and problem in message


# Helm's own table (pkg/ignore/rules_test.go TestIgnore) plus Go filepath.Match class cases.
@pytest.mark.parametrize("pattern, path, is_dir, ignored", [
    ("helm.txt", "helm.txt", False, True),
    ("helm.*", "helm.txt", False, True),
    ("helm.*", "rudder.txt", False, False),
    ("*.txt", "tiller.txt", False, True),
    ("*.txt", "cargo/a.txt", False, True),
    ("cargo/*.txt", "cargo/a.txt", False, True),
    ("cargo/*.*", "cargo/a.txt", False, True),
    ("cargo/*.txt", "mast/a.txt", False, False),
    ("cargo/*.txt", "cargo/deep/a.txt", False, False),
    ("cargo/a?b", "cargo/a/b", False, False),
    ("ru[c-e]?er.txt", "rudder.txt", False, True),
    ("templates/.?*", "templates/.dotfile", False, True),
    (".*", ".joonix", False, True),
    (".*", "helm.txt", False, False),
    ("cargo/", "cargo", True, True),
    ("cargo/", "mast", True, False),
    ("helm.txt/", "helm.txt", False, False),
    ("!helm.txt", "helm.txt", False, False),
    ("!helm.txt", "tiller.txt", False, True),
    ("!*.txt", "cargo", True, True),
    ("!cargo/", "mast", True, True),
    ("!cargo/", "cargo", False, True),
    ("/a.txt", "a.txt", False, True),
    ("/a.txt", "cargo/a.txt", False, False),
    ("/cargo/a.txt", "cargo/a.txt", False, True),
    ("//a.txt", "a.txt", False, False),
    ("[^a]x", "bx", False, True),
    ("[^a]x", "ax", False, False),
    ("[!a]x", "!x", False, True),
    ("[!a]x", "bx", False, False),
    ("\\*.txt", "*.txt", False, True),
    ("\\*.txt", "a.txt", False, False),
    ("[z-a]x", "mx", False, False),
])
def test_ignore_rule_table(pattern, path, is_dir, ignored):
    assert charts.IgnoreRules.parse(pattern).ignores(path, is_dir) is ignored


def test_symlinks_are_followed_and_loops_refused(tmp_path):
    outside = _write(tmp_path, "outside/shared.txt", "shared\n")
    source = _chart(tmp_path / "src")
    os.symlink(outside, os.path.join(source, "files", "shared.txt"))
    os.symlink(os.path.dirname(outside), os.path.join(source, "linked"))
    result = charts.package_chart(source, str(tmp_path / "repo"))

    assert _member_text(result["path"], "demo/files/shared.txt") == "shared\n"
    assert _member_text(result["path"], "demo/linked/shared.txt") == "shared\n"
    assert all(member.isreg() for member in _members(result["path"]))

    os.symlink("..", os.path.join(source, "files", "loop"))
    with pytest.raises(charts.ChartError, match="files/loop is a symbolic link loop"):
        charts.package_chart(source, str(tmp_path / "repo"))


def test_dangling_symlink_is_reported(tmp_path):
    source = _chart(tmp_path / "src")
    os.symlink(str(tmp_path / "gone"), os.path.join(source, "templates", "gone.yaml"))
    with pytest.raises(charts.ChartError, match="templates/gone.yaml"):
        charts.package_chart(source, str(tmp_path / "repo"))


def test_byte_order_mark_is_dropped_like_helm(tmp_path):
    source = _chart(tmp_path / "src", **{"templates/bom.yaml": b"\xef\xbb\xbfkind: ConfigMap\n"})
    result = charts.package_chart(source, str(tmp_path / "repo"))
    assert _member_text(result["path"], "demo/templates/bom.yaml") == "kind: ConfigMap\n"


def test_check_mode_writes_nothing(tmp_path):
    source = _chart(tmp_path / "src")
    repo = str(tmp_path / "repo")
    planned = charts.package_chart(source, repo, check=True)
    index = charts.write_index([planned], repo, check=True)

    assert planned["changed"] is True and index["changed"] is True
    assert not os.path.exists(repo)

    written = charts.package_chart(source, repo)
    charts.write_index([written], repo)
    assert written["sha256"] == planned["sha256"]
    replanned = charts.package_chart(source, repo, check=True)
    assert replanned["changed"] is False
    assert charts.write_index([replanned], repo, check=True)["changed"] is False
    _write(source, "values.yaml", "replicas: 2\n")
    assert charts.package_chart(source, repo, check=True)["changed"] is True
    assert _member_text(written["path"], "demo/values.yaml") == "replicas: 1\n"


def _versions(tmp_path, versions, name="demo"):
    packages = []
    for version in versions:
        source = _chart(tmp_path / ("src-%s-%s" % (name, version)),
                        **{"Chart.yaml": CHART_YAML.replace("name: demo", "name: %s" % name)})
        packages.append(charts.package_chart(source, str(tmp_path / "repo"), version=version))
    return packages


def test_index_lists_versions_newest_first_with_digests(tmp_path):
    packages = _versions(tmp_path, ["1.2.3", "1.10.0", "1.10.0-rc.1"]) + _versions(tmp_path, ["0.1.0"], "other")
    result = charts.write_index(packages, str(tmp_path / "repo"))
    with open(result["path"], encoding="utf-8") as handle:
        index = yaml.safe_load(handle)

    assert result == {"path": str(tmp_path / "repo" / "index.yaml"), "changed": True}
    assert (index["apiVersion"], index["generated"]) == ("v1", "1970-01-01T00:00:00Z")
    assert sorted(index["entries"]) == ["demo", "other"]
    assert [entry["version"] for entry in index["entries"]["demo"]] == ["1.10.0", "1.10.0-rc.1", "1.2.3"]
    newest = index["entries"]["demo"][0]
    package = [p for p in packages if p["version"] == "1.10.0"][0]
    assert newest == {
        "apiVersion": "v2", "name": "demo", "version": "1.10.0", "appVersion": "4.5.6",
        "description": "A demo chart", "type": "application", "digest": package["sha256"],
        "urls": ["demo-1.10.0.tgz"], "created": "1970-01-01T00:00:00Z",
    }


def test_index_is_reproducible_and_not_rewritten_when_unchanged(tmp_path):
    packages = _versions(tmp_path, ["1.0.0", "2.0.0"])
    repo = str(tmp_path / "repo")
    first = charts.write_index(packages, repo)
    before = os.stat(first["path"])
    second = charts.write_index(list(reversed(packages)), repo)
    after = os.stat(second["path"])

    assert (first["changed"], second["changed"]) == (True, False)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert charts.render_index(packages) == charts.render_index(list(reversed(packages)))
    assert charts.write_index(packages[:1], repo)["changed"] is True


def test_index_refuses_a_version_twice(tmp_path):
    packages = _versions(tmp_path, ["1.0.0"])
    with pytest.raises(charts.ChartError, match="demo version 1.0.0 is given twice"):
        charts.render_index(packages + packages)


def test_semver_precedence():
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
               "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "v1.0.1", "1.2.0", "1.10.0", "2.0.0"]
    assert sorted(reversed(ordered), key=charts.semver_key) == ordered


@pytest.mark.parametrize("files, arguments, message", [
    ({"values.yaml": "a: 1\n"}, {}, "Chart.yaml is missing"),
    ({"Chart.yaml": "- a list\n"}, {}, "must be a mapping"),
    ({"Chart.yaml": "name: [unclosed\n"}, {}, "is not valid YAML"),
    ({"Chart.yaml": "apiVersion: v3\nname: demo\nversion: 1.0.0\n"}, {}, "use v1 or v2"),
    ({"Chart.yaml": "apiVersion: v2\nname: my chart\nversion: 1.0.0\n"}, {}, "is not a valid chart name"),
    ({"Chart.yaml": "apiVersion: v2\nname: ../up\nversion: 1.0.0\n"}, {}, "is not a valid chart name"),
    ({"Chart.yaml": "apiVersion: v2\nname: demo\n"}, {}, "has no version"),
    ({"Chart.yaml": "apiVersion: v2\nname: demo\nversion: 1.2\n"}, {}, "not a string"),
    ({"Chart.yaml": "apiVersion: v2\nname: demo\nversion: '1.2'\n"}, {}, "is not SemVer 2"),
    ({"Chart.yaml": CHART_YAML}, {"version": "latest"}, "'latest' is not SemVer 2; use MAJOR.MINOR.PATCH"),
    ({"Chart.yaml": CHART_YAML.replace('"4.5.6"', "4.5")}, {}, "appVersion 4.5 is not a string"),
    ({"Chart.yaml": CHART_YAML.replace("application", "plugin")}, {}, "use application or library"),
    ({"Chart.yaml": CHART_YAML, "values.yaml": "- a\n"}, {}, "values.yaml must be a mapping"),
    ({"Chart.yaml": CHART_YAML, "values.schema.json": "{"}, {}, "values.schema.json is not valid JSON"),
])
def test_invalid_charts_are_refused_with_the_reason(tmp_path, files, arguments, message):
    source = _chart(tmp_path / "src", files)
    with pytest.raises(charts.ChartError) as caught:
        charts.package_chart(source, str(tmp_path / "repo"), **arguments)
    assert message in str(caught.value)
    assert source in str(caught.value)
    assert not os.path.exists(str(tmp_path / "repo"))


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(charts.ChartError, match="is not a directory"):
        charts.package_chart(str(tmp_path / "nowhere"), str(tmp_path / "repo"))


def test_package_reads_back_as_the_source_files(tmp_path):
    result = charts.package_chart(_chart(tmp_path / "src"), str(tmp_path / "repo"))
    with gzip.open(result["path"]) as handle, tarfile.open(fileobj=io.BytesIO(handle.read())) as archive:
        contents = dict((m.name, archive.extractfile(m).read().decode("utf-8")) for m in archive.getmembers())
    expected = dict(("demo/" + name, data) for name, data in FILES.items() if name != "Chart.yaml")
    assert dict((k, v) for k, v in contents.items() if k != "demo/Chart.yaml") == expected


def test_integer_app_version_is_packaged_as_a_string(tmp_path):
    source = _chart(tmp_path / "src", **{"Chart.yaml": CHART_YAML.replace('"4.5.6"', "2")})
    result = charts.package_chart(source, str(tmp_path / "repo"))
    assert result["app_version"] == "2"
    assert "appVersion: '2'\n" in _member_text(result["path"], "demo/Chart.yaml")
