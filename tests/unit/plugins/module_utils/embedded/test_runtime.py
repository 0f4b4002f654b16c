# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Pure parts of runtime.py (no cluster): argument checks before anything is written."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.embedded import runtime


def test_state_dir_is_required():
    with pytest.raises(runtime.EmbeddedError, match="state_dir"):
        runtime.EmbeddedCluster("")


def test_validate_names_the_missing_binary(tmp_path):
    cluster = runtime.EmbeddedCluster(str(tmp_path), binaries={"etcd": "/nonexistent/etcd"}, module_dirs={})
    with pytest.raises(runtime.EmbeddedError, match=r"binaries\['etcd'\]: /nonexistent/etcd is not an executable file"):
        cluster.validate()
    with pytest.raises(runtime.EmbeddedError, match="binaries: no path for 'kube-apiserver'"):
        cluster.validate(files=False)


def test_user_agent_and_field_manager_are_the_embedded_ones():
    assert runtime.USER_AGENT.startswith("scs.kaas-embedded/")
    assert runtime.FIELD_MANAGER == "scs.kaas-embedded"
