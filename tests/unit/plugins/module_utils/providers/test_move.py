# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.scs.kaas.plugins.module_utils.providers import move


def _executable(tmp_path):
    path = tmp_path / "clusterctl"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def _params(tmp_path, **overrides):
    kubeconfig = tmp_path / "source.kubeconfig"
    kubeconfig.write_text("apiVersion: v1\n")
    params = dict((k, None) for k in move.ARGUMENT_SPEC)
    params.update(mode="to_directory", kubeconfig=str(kubeconfig), clusterctl=_executable(tmp_path),
                  directory=str(tmp_path / "new-backup"), dry_run=False, timeout=900)
    params.update(overrides)
    return params


def test_valid_options_have_no_problems(tmp_path):
    assert move.validate(_params(tmp_path)) == []


def test_mode_specific_options_are_required_and_refused_elsewhere(tmp_path):
    problems = move.validate(_params(tmp_path, mode="to_kubeconfig", directory=str(tmp_path / "x"), dry_run=True))
    assert any(p.startswith("directory=") and "mode=to_kubeconfig" in p and "to_directory or from_directory" in p
               for p in problems), problems
    assert any(p.startswith("to_kubeconfig is required for mode=to_kubeconfig") for p in problems), problems
    problems = move.validate(_params(tmp_path, to_context="other"))
    assert problems == ['to_context="other" has no meaning for mode=to_directory; it applies to mode to_kubeconfig']


def test_missing_files_are_named_without_showing_kubeconfig_paths(tmp_path):
    secret_path = str(tmp_path / "missing.kubeconfig")
    problems = move.validate(_params(tmp_path, kubeconfig=secret_path, clusterctl=str(tmp_path / "none"),
                                     config=str(tmp_path / "clusterctl.yaml")))
    assert len(problems) == 3, problems
    assert any(p.startswith("kubeconfig=<given> is not a file") for p in problems)
    assert any(p.startswith("clusterctl=%s is not an executable file" % (tmp_path / "none")) for p in problems)
    assert any(p.startswith('config="%s" is not a file' % (tmp_path / "clusterctl.yaml")) for p in problems)
    assert not any(secret_path in p for p in problems)


def test_to_directory_needs_a_new_or_empty_private_directory(tmp_path):
    used = tmp_path / "used"
    used.mkdir(mode=0o700)
    (used / "Cluster_ns_a.yaml").write_text("{}")
    assert "is not empty" in move.validate(_params(tmp_path, directory=str(used)))[0]
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    assert "mode 0o755" in move.validate(_params(tmp_path, directory=str(shared)))[0]
    private = tmp_path / "private"
    private.mkdir()
    private.chmod(0o700)
    assert move.validate(_params(tmp_path, directory=str(private))) == []


def test_from_directory_needs_backup_files(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert move.validate(_params(tmp_path, mode="from_directory", directory=str(empty))) == [
        "directory=%s holds no clusterctl backup files (*.yaml)" % empty]
    assert "is not a directory" in move.validate(_params(tmp_path, mode="from_directory",
                                                         directory=str(tmp_path / "nope")))[0]


def test_source_and_target_must_differ(tmp_path):
    params = _params(tmp_path, mode="to_kubeconfig", directory=None)
    params["to_kubeconfig"] = params["kubeconfig"]
    assert any("the target must be another cluster" in p for p in move.validate(params))
    params["to_context"] = "other"
    assert move.validate(params) == []


def test_timeout_bounds(tmp_path):
    assert move.validate(_params(tmp_path, timeout=0)) == ["timeout=0 is out of range; valid: 1 to 86400 seconds"]


def test_logged_objects_reads_clusterctl_lines():
    output = "\n".join([
        "Performing move...",
        'Moving Cluster API objects Clusters=1',
        'Creating Namespace="tenant-a"',
        'Creating Cluster="prod" Namespace="tenant-a"',
        'Creating KubeadmControlPlane="prod-abc" Namespace="tenant-a"',
        'Creating Cluster="prod" Namespace="tenant-a"',
        'Saving Machine="prod-m1" Namespace="tenant-a"',
        'Creating ExtensionConfig="global"',
    ])
    assert move.logged_objects(output, ("Creating",)) == [
        "Cluster/tenant-a/prod", "ExtensionConfig/global", "KubeadmControlPlane/tenant-a/prod-abc"]
    assert move.logged_objects(output, ("Saving",)) == ["Machine/tenant-a/prod-m1"]
    assert move.counts(move.logged_objects(output, ("Creating",))) == {
        "Cluster": 1, "ExtensionConfig": 1, "KubeadmControlPlane": 1}


def test_read_backup(tmp_path):
    for kind, name in (("Cluster", "prod"), ("Machine", "prod-m1")):
        (tmp_path / ("%s_tenant-a_%s.yaml" % (kind, name))).write_text(json.dumps(
            {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": kind,
             "metadata": {"name": name, "namespace": "tenant-a"}}))
    (tmp_path / "notes.txt").write_text("ignored")
    assert move.read_backup(str(tmp_path)) == [
        ("cluster.x-k8s.io/v1beta2", "Cluster", "tenant-a", "prod"),
        ("cluster.x-k8s.io/v1beta2", "Machine", "tenant-a", "prod-m1")]
    (tmp_path / "Broken_x_y.yaml").write_text("not json")
    try:
        move.read_backup(str(tmp_path))
    except move.MoveError as exc:
        assert "Broken_x_y.yaml is not an object clusterctl move wrote" in str(exc)
    else:
        raise AssertionError("a broken file was accepted")
