# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The OCI runtime wrapper: capability arithmetic, which spec file a runc call reads, and the
rendered executable run for real in front of a stand-in runc."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

from ansible_collections.scs.kaas.plugins.module_utils.nodes import runtime_wrapper as w

ALL = ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"]


def _process():
    return {"capabilities": {name: list(ALL) for name in ("bounding", "effective", "permitted")},
            "args": ["/sbin/init"]}


def test_missing_capabilities_reads_the_bit_of_each_name():
    full = (1 << 41) - 1
    assert w.missing_capabilities(full) == []
    assert w.missing_capabilities(full & ~(1 << 24)) == ["CAP_SYS_RESOURCE"]
    assert w.missing_capabilities(full & ~(1 << 21), ("CAP_SYS_ADMIN", "CAP_SYS_RESOURCE")) == ["CAP_SYS_ADMIN"]


def test_bounding_set_parses_capbnd(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapBnd:\t000001fffeffffff\n")
    assert w.bounding_set(str(status)) == 0x1fffeffffff
    assert w.missing_capabilities(w.bounding_set(str(status))) == ["CAP_SYS_RESOURCE"]


def test_drop_capabilities_touches_every_set_and_nothing_else():
    process = _process()
    process["capabilities"]["ambient"] = []
    assert w.drop_capabilities(process, ("CAP_SYS_RESOURCE",)) is True
    for name in ("bounding", "effective", "permitted"):
        assert process["capabilities"][name] == ["CAP_CHOWN", "CAP_SYS_ADMIN"]
    assert process["capabilities"]["ambient"] == []
    assert process["args"] == ["/sbin/init"]
    assert w.drop_capabilities(process, ("CAP_SYS_RESOURCE",)) is False


def test_spec_files_of_the_calls_the_shim_makes(tmp_path):
    create = ["--root", "/run/r", "--log", "/l.json", "--log-format", "json", "create", "--bundle", "/b",
              "--pid-file", "/b/init.pid", "id1"]
    assert w.spec_files(create) == [("/b/config.json", True)]
    execute = ["--root", "/run/r", "exec", "--process", "/tmp/p.json", "--detach", "id1"]
    assert w.spec_files(execute) == [("/tmp/p.json", False)]
    assert w.spec_files(["--root", "/run/r", "delete", "id1"]) == []
    assert w.spec_files(["run", "--bundle=/c", "x"]) == [("/c/config.json", True)]


def _stand_in_runc(tmp_path):
    """A 'runc' that records its argv and the capabilities it would apply."""
    runc = tmp_path / "runc"
    runc.write_text("#!%s\nimport json, sys\n"
                    "argv = sys.argv[1:]\n"
                    "path = argv[argv.index('--bundle') + 1] + '/config.json' if '--bundle' in argv "
                    "else argv[argv.index('--process') + 1]\n"
                    "doc = json.load(open(path))\n"
                    "json.dump({'argv': argv, 'doc': doc}, sys.stdout)\n" % sys.executable)
    os.chmod(str(runc), 0o755)
    return str(runc)


def _wrapper(tmp_path, drop):
    path = tmp_path / "scs-kaas-runc"
    path.write_text(w.render_executable(sys.executable, _stand_in_runc(tmp_path), drop))
    os.chmod(str(path), 0o755)
    return str(path)


def test_rendered_wrapper_rewrites_the_bundle_then_execs_runc(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "process": _process()}))
    os.chmod(str(bundle / "config.json"), 0o640)
    argv = ["--root", "/run/r", "create", "--bundle", str(bundle), "id1"]
    out = json.loads(subprocess.check_output([_wrapper(tmp_path, ["CAP_SYS_RESOURCE"])] + argv))
    assert out["argv"] == argv
    assert out["doc"]["process"]["capabilities"]["bounding"] == ["CAP_CHOWN", "CAP_SYS_ADMIN"]
    assert out["doc"]["ociVersion"] == "1.0.2"
    assert os.stat(str(bundle / "config.json")).st_mode & 0o777 == 0o640


def test_rendered_wrapper_rewrites_an_exec_process_file(tmp_path):
    process = tmp_path / "process.json"
    process.write_text(json.dumps(_process()))
    out = json.loads(subprocess.check_output([_wrapper(tmp_path, ["CAP_SYS_RESOURCE"]), "exec", "--process",
                                              str(process), "id1"]))
    assert out["doc"]["capabilities"]["effective"] == ["CAP_CHOWN", "CAP_SYS_ADMIN"]


def test_rendered_wrapper_without_drop_changes_nothing(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps({"process": _process()}))
    out = json.loads(subprocess.check_output([_wrapper(tmp_path, []), "create", "--bundle", str(bundle), "x"]))
    assert out["doc"]["process"]["capabilities"]["bounding"] == ALL
