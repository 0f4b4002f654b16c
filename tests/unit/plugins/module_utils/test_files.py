# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Atomic file writes and links."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.scs.kaas.plugins.module_utils import files


def test_ensure_link_replaces_a_stale_link_atomically(tmp_path):
    link = str(tmp_path / "kubectl")
    assert files.ensure_link(link, "/opt/a/kubectl") is True
    assert files.ensure_link(link, "/opt/a/kubectl") is False
    assert files.ensure_link(link, "/opt/b/kubectl") is True
    assert os.readlink(link) == "/opt/b/kubectl"
    assert sorted(os.listdir(str(tmp_path))) == ["kubectl"]


def test_write_if_changed_reports_changes_and_fixes_the_mode(tmp_path):
    path = str(tmp_path / "state.json")
    assert files.write_if_changed(path, "{}\n", 0o600) is True
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert files.write_if_changed(path, b"{}\n", 0o600) is False
    os.chmod(path, 0o644)
    assert files.write_if_changed(path, "{}\n", 0o600) is False
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert files.write_if_changed(path, "{\"a\": 1}\n", 0o600) is True
    with open(path) as handle:
        assert handle.read() == "{\"a\": 1}\n"
    assert sorted(os.listdir(str(tmp_path))) == ["state.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    path = str(tmp_path / "kubeconfig")
    files.write_atomic(path, "old", 0o600)
    with pytest.raises(TypeError):
        files.write_atomic(path, 42, 0o600)  # not bytes: fails after the temporary file exists
    with open(path) as handle:
        assert handle.read() == "old"
    assert sorted(os.listdir(str(tmp_path))) == ["kubeconfig"]
