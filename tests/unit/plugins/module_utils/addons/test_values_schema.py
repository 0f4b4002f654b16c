# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Add-on values against the values schema of the packaged chart (addons/schema.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.addons import charts, schema

REPO = "http://127.0.0.1:8879"
SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["image"],
    "properties": {
        "replicas": {"type": "integer", "minimum": 1},
        "mode": {"enum": ["tunnel", "native"]},
        "image": {"type": "object", "required": ["tag"], "properties": {"tag": {"type": "string"}}},
    },
}


def _chart(tmp_path, with_schema=True):
    source = tmp_path / "src" / "demo"
    (source / "templates").mkdir(parents=True)
    (source / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 1.2.3\n")
    (source / "values.yaml").write_text("replicas: 2\nmode: tunnel\nimage:\n  tag: v1\n")
    (source / "templates" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n")
    if with_schema:
        (source / "values.schema.json").write_text(json.dumps(SCHEMA))
    out = tmp_path / "repo"
    out.mkdir()
    package = charts.package_chart(str(source), str(out))
    charts.write_index([package], str(out))
    return out


def _serving(directory, requested):
    """What the repository at REPO answers: the files of ``directory`` (no network in unit tests)."""
    def fetch(url):
        requested.append(url)
        name = url[len(REPO) + 1:]
        path = os.path.join(str(directory), name)
        if not os.path.isfile(path):
            raise schema.SchemaUnavailable("cannot fetch %s: HTTP Error 404: Not Found" % url)
        with open(path, "rb") as handle:
            return handle.read()
    return fetch


def test_valid_values_pass_and_the_chart_is_fetched_once_per_run(tmp_path):
    requested = []
    schemas = schema.ValuesSchemas(REPO, fetch=_serving(_chart(tmp_path), requested))
    for _attempt in range(3):
        assert schemas.check("demo", "1.2.3", {"replicas": 3}, "wc.addons.demo.values") == ([], None)
    assert requested == [REPO + "/index.yaml", REPO + "/demo-1.2.3.tgz"]


def test_problems_name_the_path_and_the_rule_but_never_the_value(tmp_path):
    schemas = schema.ValuesSchemas(REPO, fetch=_serving(_chart(tmp_path), []))
    secret = "s3cret-value"
    found, warning = schemas.check("demo", "1.2.3", {"replicas": secret, "mode": secret, "image": {"tag": 7}},
                                   "wc.addons.demo.values")
    assert warning is None
    assert found == [
        "wc.addons.demo.values.image.tag: does not match the chart's values schema (type \"string\")",
        "wc.addons.demo.values.mode: does not match the chart's values schema (enum [\"tunnel\", \"native\"])",
        "wc.addons.demo.values.replicas: does not match the chart's values schema (type \"integer\")",
    ]
    assert secret not in repr(found)


def test_values_are_coalesced_with_the_chart_defaults_like_helm(tmp_path):
    """The chart's values.yaml fills ``image.tag``: overriding another key keeps it; removing it (null) does not."""
    schemas = schema.ValuesSchemas(REPO, fetch=_serving(_chart(tmp_path), []))
    assert schemas.check("demo", "1.2.3", {"image": {"pullPolicy": "Always"}}, "v")[0] == []
    assert schemas.check("demo", "1.2.3", {"replicas": 0}, "v")[0] == [
        "v.replicas: does not match the chart's values schema (minimum 1)"]


def test_a_chart_without_schema_is_not_checked(tmp_path):
    schemas = schema.ValuesSchemas(REPO, fetch=_serving(_chart(tmp_path, with_schema=False), []))
    assert schemas.check("demo", "1.2.3", {"replicas": "many"}, "v") == ([], None)


@pytest.mark.parametrize("chart,version,reason", [
    ("demo", "9.9.9", "demo 9.9.9 is not in the index of http://127.0.0.1:8879"),
    ("other", "1.2.3", "other 1.2.3 is not in the index"),
])
def test_a_chart_missing_from_the_repository_leaves_the_values_unchecked_with_a_warning(tmp_path, chart, version,
                                                                                        reason):
    schemas = schema.ValuesSchemas(REPO, fetch=_serving(_chart(tmp_path), []))
    found, warning = schemas.check(chart, version, {"replicas": "many"}, "v")
    assert found == [] and warning.startswith("v: values not checked against the chart's schema: ")
    assert reason in warning


def test_an_unreachable_repository_leaves_the_values_unchecked_with_a_warning(tmp_path):
    schemas = schema.ValuesSchemas(REPO, fetch=_serving(tmp_path / "empty", []))
    found, warning = schemas.check("demo", "1.2.3", {}, "v")
    assert found == [] and "HTTP Error 404" in warning


def test_chart_files_refuses_what_is_not_a_chart_archive():
    with pytest.raises(schema.SchemaUnavailable, match="not a chart archive"):
        schema.chart_files(b"not a tar", "demo")
