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


def test_a_world_writable_directory_is_refused_before_anything_is_written(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    with pytest.raises(files.UnsafeDestination) as err:
        files.write_atomic(str(shared / "cluster.kubeconfig"), b"secret", 0o600)
    assert "writable by every user" in str(err.value) and "1777" in str(err.value)
    assert os.listdir(str(shared)) == []


def test_a_file_of_another_user_is_not_replaced(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("this check needs root to hand a file to another user (the e2e and CI machines run as root)")
    path = tmp_path / "cluster.kubeconfig"
    path.write_bytes(b"theirs")
    os.chown(str(path), 4242, 4242)
    with pytest.raises(files.UnsafeDestination) as err:
        files.write_atomic(str(path), b"ours", 0o600)
    assert "uid 4242" in str(err.value)
    assert path.read_bytes() == b"theirs"
    assert sorted(os.listdir(str(tmp_path))) == ["cluster.kubeconfig"]
