# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Each numeric role option out of its bound fails the role before it writes anything.

The options and bounds come from the roles' ``_<role>_option_bounds`` tables (see
tests/tooling/test_role_option_bounds.py); each is tried just below its minimum against the real
management cluster, and the audit log must show no write.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

import helpers

ROLES = ("management_cluster", "capi_providers", "cluster_classes")


def _cases():
    for role in ROLES:
        with open(os.path.join(helpers.REPO_ROOT, "roles", role, "vars", "main.yml")) as handle:
            table = yaml.safe_load(handle)["_%s_option_bounds" % role]
        for name, bound in sorted(table.items()):
            yield role, name, bound["min"] - 1


@pytest.mark.parametrize("role, option, value", list(_cases()))
def test_an_option_below_its_bound_fails_before_any_write(management_cluster, ansible_env, tmp_path, role,
                                                          option, value):
    playbook = tmp_path / "role.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "apply the role", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "roles": [{"role": "scs.kaas.%s" % role}],
    }]))
    marker = management_cluster.mark()
    extra = {
        option: value,
        "management_cluster_embedded_state_dir": management_cluster.state_dir,
        "management_cluster_kubeconfig": management_cluster.kubeconfig,
        "capi_providers_clusterctl": management_cluster.binaries["clusterctl"],
        "ansible_python_interpreter": sys.executable,
    }
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           str(playbook), "-e", yaml.safe_dump(extra, default_flow_style=True).strip()],
                          env=ansible_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300, check=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "%s: %s is out of range" % (option, value) in proc.stdout, proc.stdout[-3000:]
    assert management_cluster.count_writes("scs.kaas", since=marker) == 0
