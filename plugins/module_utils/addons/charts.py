# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Helm chart packages and a chart repository index, made without helm (pure, no network).

CAAPH fetches add-on charts from a Helm repository over HTTP, but the charts come from the source
trees of pinned Go modules, so the collection packages a chart directory itself, as ``helm package``
does (helm.sh/helm/v3 ``pkg/chart/loader/directory.go``, ``pkg/ignore/rules.go``,
``pkg/chartutil/save.go``): the chart's ``.helmignore`` with Helm's semantics, symbolic links
followed, every entry under ``<name>/``, Chart.yaml first. Unlike Helm, the bytes depend only on the
files' relative paths and contents (no clock, mtime or owner), so ``sha256`` is a stable digest
and an unchanged chart is not rewritten.

Public API: ``package_chart(source_dir, dest_dir, version=None, app_version=None, check=False) ->
dict`` (name, version, app_version, filename, path, sha256, metadata, changed),
``render_index(packages) -> str``, ``write_index(packages, dest_dir, check=False) -> dict``
(path, changed), ``semver_key(version)``, ``IgnoreRules.parse(text).ignores(path, is_dir)``. With
``check=True`` nothing is written and ``changed`` tells whether a write would happen (check mode).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import hashlib
import io
import json
import os
import re
import stat
import tarfile
import zlib

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - reported by the module with missing_required_lib
    HAS_YAML = False

from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.files import write_atomic, write_if_changed

# The Unix epoch stands for "no time": tar entries, the gzip header and the index all carry it,
# so two runs over the same files give the same bytes.
FIXED_MTIME = 0
FIXED_TIMESTAMP = "1970-01-01T00:00:00Z"
HELMIGNORE = ".helmignore"
INDEX_FILE = "index.yaml"
# pkg/chartutil/create.go; Helm also refuses "." and ".." and names over 250 characters.
CHART_NAME = re.compile(r"^[a-zA-Z0-9._-]+\Z")
SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?\Z")
# The files chartutil.Save writes before templates and the other files, in its order.
_LEADING_FILES = ("Chart.yaml", "Chart.lock", "values.yaml", "values.schema.json")
# Fields of Helm's chart.Metadata: what `helm repo index` copies from Chart.yaml into an entry.
_INDEX_FIELDS = ("apiVersion", "name", "version", "appVersion", "description", "type", "kubeVersion", "home",
                 "sources", "keywords", "maintainers", "icon", "condition", "tags", "deprecated", "annotations",
                 "dependencies")
_UTF8_BOM = b"\xef\xbb\xbf"


class ChartError(KaasError):
    """A chart directory that cannot be packaged, or packages that do not make an index."""


def _require_yaml():
    if not HAS_YAML:
        raise ChartError("PyYAML is required to package Helm charts; install it for the controller's Python")


def semver_key(version):
    """Sort key of a SemVer 2 version (SemVer precedence; build metadata only breaks ties)."""
    match = SEMVER.match(version)
    if not match:
        raise ChartError("version %r is not SemVer 2; use MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], optionally "
                         "with a leading 'v' (e.g. 1.4.0 or v1.4.0-rc.1)" % (version,))
    major, minor, patch, prerelease = match.groups()
    # A release ranks above its pre-releases; numeric identifiers rank below alphanumeric ones.
    if prerelease is None:
        rank = (1,)
    else:
        rank = (0,) + tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                            for part in prerelease.split("."))
    return (int(major), int(minor), int(patch), rank, version)


# --- .helmignore (helm.sh/helm/v3 pkg/ignore/rules.go) ---------------------------------------

def _glob_class_char(pattern, index):
    # Go's getEsc: a member may not be a bare '-' or ']', '\\' escapes, and the class must go on.
    if index < len(pattern) and pattern[index] == "\\":
        index += 1
    elif index < len(pattern) and pattern[index] in "-]":
        raise ValueError("malformed character class")
    if index + 1 >= len(pattern):
        raise ValueError("unterminated character class")
    return pattern[index], index + 1


def _glob_class(pattern, index):
    negated = index < len(pattern) and pattern[index] == "^"
    index += 1 if negated else 0
    ranges = []
    while True:
        if index < len(pattern) and pattern[index] == "]" and ranges:
            index += 1
            break
        low, index = _glob_class_char(pattern, index)
        high = low
        if pattern[index] == "-":
            high, index = _glob_class_char(pattern, index + 1)
        ranges.append((low, high))
    # Go matches nothing for a reversed range where Python's re would refuse the pattern.
    body = "".join(re.escape(low) + "-" + re.escape(high) for low, high in ranges if low <= high)
    if not body:
        return ("(?s:.)" if negated else "(?!)"), index
    return ("[^%s]" if negated else "[%s]") % body, index


def glob_regex(pattern):
    """Go's path/filepath.Match pattern as a compiled regex; ValueError when Go calls it malformed."""
    parts = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        elif char == "\\":
            if index + 1 == len(pattern):
                raise ValueError("trailing backslash")
            index += 1
            parts.append(re.escape(pattern[index]))
        elif char == "[":
            klass, index = _glob_class(pattern, index + 1)
            parts.append(klass)
            continue
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts), re.S)


class IgnoreRules(object):
    """Helm's .helmignore rules, evaluated as Helm does (which is not how git reads .gitignore).

    Rules are tried in order and the first that decides wins. A rule without '/' matches the base
    name at any depth; a rule with '/' matches the whole path relative to the chart root ('/' in
    front only anchors what already is anchored); a trailing '/' limits a rule to directories. A
    '!' rule ignores every path it does NOT match and lets the ones it matches fall through to the
    next rules (so '!x' keeps only x, not "x despite earlier rules"). '**' is an error. The default
    rule ``templates/.?*`` comes after the file's rules.
    """

    def __init__(self):
        self.patterns = []

    @classmethod
    def parse(cls, text, source=HELMIGNORE):
        rules = cls()
        for number, line in enumerate(text.split("\n"), 1):
            try:
                rules.add(line)
            except ValueError as exc:
                raise ChartError("%s line %d: %r: %s" % (source, number, line.strip(), exc))
        rules.add("templates/.?*")
        return rules

    def add(self, rule):
        rule = rule.strip()
        if not rule or rule.startswith("#"):
            return
        if "**" in rule:
            raise ValueError("double-star (**) syntax is not supported by Helm; use one '*' per path level")
        try:
            glob_regex(rule)
        except ValueError as exc:
            raise ValueError("%s; use Go filepath.Match syntax (*, ?, [a-z], [^a-z], \\ to escape)" % exc)
        negate = rule.startswith("!")
        rule = rule[1:] if negate else rule
        must_dir = rule.endswith("/")
        rule = rule[:-1] if must_dir else rule
        whole_path = "/" in rule
        # Helm trims one leading '/' and then matches the whole path, as for any rule with a '/'.
        self.patterns.append((negate, must_dir, whole_path, glob_regex(rule[1:] if rule.startswith("/") else rule)))

    def ignores(self, path, is_dir):
        """Whether Helm leaves out ``path`` (relative to the chart root, '/'-separated)."""
        for negate, must_dir, whole_path, regex in self.patterns:
            matched = regex.fullmatch(path if whole_path else path.rsplit("/", 1)[-1]) is not None
            if negate:
                if (must_dir and not is_dir) or not matched:
                    return True
            elif matched and (is_dir or not must_dir):
                return True
        return False


# --- reading a chart directory (pkg/chart/loader/directory.go) --------------------------------

def _chart_files(source_dir, rules):
    """{relative path: absolute path} of the files Helm would load, symlinks followed."""
    found = {}

    def visit(directory, prefix, ancestors):
        for entry in sorted(os.listdir(directory)):
            path = os.path.join(directory, entry)
            relative = prefix + entry
            try:
                info = os.stat(path)
            except OSError as exc:
                raise ChartError("%s: cannot read %s (%s); a dangling symbolic link? Remove it or add it to %s"
                                 % (source_dir, relative, exc.strerror, HELMIGNORE))
            is_dir = stat.S_ISDIR(info.st_mode)
            if rules.ignores(relative, is_dir):
                continue
            if is_dir:
                # Helm would loop forever on a link to an ancestor; refuse it instead.
                if (info.st_dev, info.st_ino) in ancestors:
                    raise ChartError("%s: %s is a symbolic link loop; remove it or add it to %s"
                                     % (source_dir, relative, HELMIGNORE))
                visit(path, relative + "/", ancestors | {(info.st_dev, info.st_ino)})
            elif stat.S_ISREG(info.st_mode):
                found[relative] = path
            else:
                raise ChartError("%s: %s is not a regular file (device, socket or pipe); Helm cannot package it"
                                 % (source_dir, relative))

    root = os.stat(source_dir)
    visit(source_dir, "", frozenset([(root.st_dev, root.st_ino)]))
    return found


def _read(path):
    with open(path, "rb") as handle:
        data = handle.read()
    # Helm's directory loader drops a UTF-8 byte order mark from every file.
    return data[len(_UTF8_BOM):] if data.startswith(_UTF8_BOM) else data


def _package_order(relative):
    parts = tuple(relative.split("/"))
    if relative in _LEADING_FILES:
        return (0, _LEADING_FILES.index(relative), parts)
    group = {"templates": 1, "charts": 3}.get(parts[0], 2) if len(parts) > 1 else 2
    return (group, 0, parts)


def _load_metadata(source_dir, data, version, app_version):
    where = os.path.join(source_dir, "Chart.yaml")
    try:
        metadata = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise ChartError("%s is not valid YAML: %s" % (where, exc))
    if not isinstance(metadata, dict):
        raise ChartError("%s must be a mapping (apiVersion, name, version, ...)" % where)
    metadata = dict(metadata)
    if metadata.get("apiVersion") not in ("v1", "v2"):
        raise ChartError("%s: apiVersion %r is not a Helm 3 chart API version; use v1 or v2"
                         % (where, metadata.get("apiVersion")))
    name = metadata.get("name")
    if not isinstance(name, str) or not CHART_NAME.match(name) or name in (".", "..") or len(name) > 250:
        raise ChartError("%s: name %r is not a valid chart name; use letters, digits, '.', '_' and '-' "
                         "(at most 250 characters)" % (where, name))
    for key, override, argument in (("version", version, "version"), ("appVersion", app_version, "app_version")):
        if override is not None:
            metadata[key] = override
        value = metadata.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = metadata[key] = str(value)
        if value is None and key == "version":
            raise ChartError("%s has no version; add one or pass %s" % (where, argument))
        if value is not None and not isinstance(value, str):
            raise ChartError("%s: %s %r is not a string (YAML reads it as %s); quote it in Chart.yaml or pass %s"
                             % (where, key, value, type(value).__name__, argument))
    try:
        semver_key(metadata["version"])
    except ChartError as exc:
        raise ChartError("%s: %s%s" % (where, exc.message, "" if version is None else " (the version argument)"))
    if metadata.get("type") not in (None, "", "application", "library"):
        raise ChartError("%s: type %r is invalid; use application or library" % (where, metadata.get("type")))
    return metadata


def _check_content(source_dir, relative, data):
    # Helm refuses these at load or save time; fail here rather than in the workload cluster.
    where = os.path.join(source_dir, relative)
    if relative == "values.yaml":
        try:
            values = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise ChartError("%s is not valid YAML: %s" % (where, exc))
        if values is not None and not isinstance(values, dict):
            raise ChartError("%s must be a mapping of values (or empty)" % where)
    elif relative == "values.schema.json":
        try:
            json.loads(data.decode("utf-8"))
        except ValueError as exc:
            raise ChartError("%s is not valid JSON: %s" % (where, exc))


def _archive(entries):
    """gzip'd tar of (name, bytes) with every header field fixed: same entries, same bytes."""
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.type = len(data), 0o644, FIXED_MTIME, tarfile.REGTYPE
            info.uid, info.gid, info.uname, info.gname = 0, 0, "", ""
            archive.addfile(info, io.BytesIO(data))
    gzip_buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gzip_buffer, compresslevel=9, mtime=FIXED_MTIME) as zipped:
        zipped.write(tar_buffer.getvalue())
    return tar_buffer.getvalue(), gzip_buffer.getvalue()


def _existing_package(path, tar_bytes):
    """The bytes at ``path`` when they hold exactly ``tar_bytes``, else None."""
    # The tar is compared, not the gzip bytes: another zlib build may compress the same tar otherwise.
    try:
        with open(path, "rb") as handle:
            existing = handle.read()
        return existing if gzip.decompress(existing) == tar_bytes else None
    except (IOError, OSError, EOFError, zlib.error):
        return None


def package_chart(source_dir, dest_dir, version=None, app_version=None, check=False):
    """Package the chart in ``source_dir`` as ``<dest_dir>/<name>-<version>.tgz``.

    ``version``/``app_version`` replace Chart.yaml's ``version``/``appVersion`` (release templates
    carry placeholders such as v0.0.0). The file is written (atomically, mode 0644) only when its
    content differs; with ``check`` nothing is written. Returns name, version, app_version,
    filename, path, sha256 (of the file as it is or would be), metadata (the packaged Chart.yaml)
    and changed.
    """
    _require_yaml()
    if not os.path.isdir(source_dir):
        raise ChartError("%s is not a directory; give the chart directory (the one holding Chart.yaml)" % source_dir)
    ignore_file = os.path.join(source_dir, HELMIGNORE)
    try:
        ignore_text = _read(ignore_file).decode("utf-8") if os.path.isfile(ignore_file) else ""
    except UnicodeDecodeError as exc:
        raise ChartError("%s is not UTF-8 text: %s" % (ignore_file, exc))
    files = _chart_files(source_dir, IgnoreRules.parse(ignore_text, ignore_file))
    if "Chart.yaml" not in files:
        reason = "is ignored by %s" % HELMIGNORE if os.path.isfile(os.path.join(source_dir, "Chart.yaml")) \
            else "is missing"
        raise ChartError("%s: Chart.yaml %s; a chart directory holds Chart.yaml (apiVersion, name, version)"
                         % (source_dir, reason))
    metadata = _load_metadata(source_dir, _read(files["Chart.yaml"]), version, app_version)
    name = metadata["name"]
    entries = []
    for relative in sorted(files, key=_package_order):
        if relative == "Chart.yaml":
            data = yaml.safe_dump(metadata, sort_keys=False, default_flow_style=False,
                                  allow_unicode=True).encode("utf-8")
        else:
            data = _read(files[relative])
            _check_content(source_dir, relative, data)
        entries.append(("%s/%s" % (name, relative), data))
    tar_bytes, package = _archive(entries)
    filename = "%s-%s.tgz" % (name, metadata["version"])
    path = os.path.join(dest_dir, filename)
    existing = _existing_package(path, tar_bytes)
    if existing is not None:
        package = existing
    elif not check:
        os.makedirs(dest_dir, exist_ok=True)
        write_atomic(path, package, mode=0o644)
    return {
        "name": name, "version": metadata["version"], "app_version": metadata.get("appVersion"),
        "filename": filename, "path": path, "sha256": hashlib.sha256(package).hexdigest(),
        "metadata": metadata, "changed": existing is None,
    }


# --- the repository index (helm.sh/helm/v3 pkg/repo/index.go) ---------------------------------

def render_index(packages):
    """index.yaml text for ``packages`` (results of :func:`package_chart`), newest version first."""
    _require_yaml()
    entries = {}
    for package in packages:
        metadata = package["metadata"]
        entry = dict((key, metadata[key]) for key in _INDEX_FIELDS
                     if metadata.get(key) not in (None, "", False, [], {}))
        entry.update(digest=package["sha256"], urls=[package["filename"]], created=FIXED_TIMESTAMP)
        versions = entries.setdefault(package["name"], [])
        if any(other["version"] == entry["version"] for other in versions):
            raise ChartError("chart %s version %s is given twice; each chart version can be in the index once"
                             % (package["name"], entry["version"]))
        versions.append(entry)
    for versions in entries.values():
        versions.sort(key=lambda entry: semver_key(entry["version"]), reverse=True)
    index = {"apiVersion": "v1", "entries": entries, "generated": FIXED_TIMESTAMP}
    return yaml.safe_dump(index, sort_keys=True, default_flow_style=False, allow_unicode=True)


def write_index(packages, dest_dir, check=False):
    """Write ``<dest_dir>/index.yaml`` for ``packages`` unless it already says the same.

    Returns path and changed; with ``check`` nothing is written.
    """
    text = render_index(packages)
    path = os.path.join(dest_dir, INDEX_FILE)
    if check:
        try:
            with open(path, "rb") as handle:
                return {"path": path, "changed": handle.read() != text.encode("utf-8")}
        except (IOError, OSError):
            return {"path": path, "changed": True}
    os.makedirs(dest_dir, exist_ok=True)
    return {"path": path, "changed": write_if_changed(path, text, mode=0o644)}
