# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Add-on values checked against the values schema of the chart CAAPH will install, before any write.

Helm refuses a release whose values, coalesced with the chart's ``values.yaml``, do not match the
chart's ``values.schema.json``; CAAPH would only report that in a HelmReleaseProxy's status, after
the proxy was written. So the workload module fetches the very package the proxy names from the chart
repository (``index.yaml``, then the ``.tgz``; once per chart and version in a run), coalesces the
values the same way (:func:`proxies.combine`) and validates them with ``jsonschema``. A chart without
a schema is not checked. Problems name the values path and the schema keyword, never a value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import io
import json
import posixpath
import tarfile
import threading

from ansible.module_utils.six.moves.urllib.parse import urljoin

from ansible_collections.scs.kaas.plugins.module_utils.addons import proxies as _proxies

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML is a requirement of the collection
    HAS_YAML = False

FETCH_TIMEOUT = 30
MAX_PROBLEMS = 10


def _import(name):
    """``name`` imported when first needed, or None: jsonschema takes about 2 s to import and
    ansible.module_utils.urls 0.2 s, which a run that checks no values (a no-op run) must not pay."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


class SchemaUnavailable(Exception):
    """The chart could not be fetched or read: the values stay unchecked (a warning, not a failure)."""


def _fetch(url):
    urls = _import("ansible.module_utils.urls")
    try:
        response = urls.open_url(url, timeout=FETCH_TIMEOUT, follow_redirects="safe")
        return response.read()
    except Exception as exc:  # urllib, socket and HTTP errors alike: reported as one reason
        raise SchemaUnavailable("cannot fetch %s: %s" % (url, exc))


def _package_url(repository_url, chart, version, fetch):
    base = repository_url.rstrip("/") + "/"
    try:
        index = yaml.safe_load(fetch(urljoin(base, "index.yaml")))
    except yaml.YAMLError as exc:
        raise SchemaUnavailable("the index of %s is not YAML: %s" % (repository_url, exc))
    for entry in ((index or {}).get("entries") or {}).get(chart) or []:
        if str(entry.get("version")) == str(version) and entry.get("urls"):
            return urljoin(base, entry["urls"][0])
    raise SchemaUnavailable("%s %s is not in the index of %s" % (chart, version, repository_url))


def chart_files(package, chart):
    """``(values, schema)`` of a chart package (bytes of a .tgz): its ``values.yaml`` (a mapping) and its
    ``values.schema.json`` (None without one)."""
    wanted = {posixpath.join(chart, "values.yaml"): "values", posixpath.join(chart, "values.schema.json"): "schema"}
    found = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(package), mode="r:gz") as archive:
            for member in archive:
                if member.isfile() and member.name in wanted:
                    found[wanted[member.name]] = archive.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SchemaUnavailable("the package of %s is not a chart archive: %s" % (chart, exc))
    try:
        values = yaml.safe_load(found["values"]) if "values" in found else {}
        schema = json.loads(found["schema"].decode("utf-8")) if "schema" in found else None
    except (ValueError, yaml.YAMLError) as exc:
        raise SchemaUnavailable("the values or the values schema of %s cannot be read: %s" % (chart, exc))
    return values if isinstance(values, dict) else {}, schema


def _where(var, path):
    return var + "".join("[%d]" % part if isinstance(part, int) else ".%s" % part for part in path)


def problems(values, chart_values, schema, var):
    """The ways ``values`` coalesced onto ``chart_values`` break ``schema``: at most ``MAX_PROBLEMS``
    messages ``<var><path>: does not match the chart's values schema (<keyword> <schema value>)``."""
    merged = _proxies.combine(chart_values, values)
    validators = _import("jsonschema.validators")
    validator = validators.validator_for(schema)(schema)
    out = []
    for error in sorted(validator.iter_errors(merged), key=lambda e: [str(p) for p in e.absolute_path]):
        expected = error.validator_value if error.validator in ("type", "enum", "required", "minimum", "maximum",
                                                                "pattern", "const") else None
        detail = "%s %s" % (error.validator, json.dumps(expected)) if expected is not None else error.validator
        out.append("%s: does not match the chart's values schema (%s)" % (_where(var, error.absolute_path), detail))
        if len(out) == MAX_PROBLEMS:
            break
    return out


class ValuesSchemas(object):
    """The charts of one run, fetched once each (threads share it)."""

    def __init__(self, repository_url, fetch=None):
        self.repository_url = repository_url
        self._fetch = fetch or _fetch
        self._charts = {}
        self._lock = threading.Lock()

    def _chart(self, chart, version):
        with self._lock:
            key = (chart, version)
            if key not in self._charts:
                try:
                    url = _package_url(self.repository_url, chart, version, self._fetch)
                    self._charts[key] = chart_files(self._fetch(url), chart)
                except SchemaUnavailable as exc:
                    self._charts[key] = exc
            if isinstance(self._charts[key], SchemaUnavailable):
                raise self._charts[key]
            return self._charts[key]

    def check(self, chart, version, values, var):
        """``(problems, warning)``: the schema's problems with ``values``, or a warning why they are unchecked."""
        if _import("jsonschema") is None:
            return [], "%s: values not checked against the chart's schema: the python 'jsonschema' package is " \
                       "missing" % var
        try:
            chart_values, schema = self._chart(chart, version)
        except SchemaUnavailable as exc:
            return [], "%s: values not checked against the chart's schema: %s" % (var, exc)
        if schema is None:
            return [], None
        return problems(values, chart_values, schema, var), None
