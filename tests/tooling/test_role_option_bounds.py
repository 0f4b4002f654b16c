# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Every int and float option of every role has a bound that the role checks before it writes.

The workload_cluster role passes its numbers to the module, whose rules (capi/batch_options.py)
are checked by the unit tests; every other role keeps a ``_<role>_option_bounds`` table in
``vars/main.yml`` that its first task checks. tests/e2e/test_role_option_bounds.py runs each bound
against the real management cluster.
"""

from __future__ import annotations

import glob
import os

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE_BOUNDED_ROLES = {"workload_cluster"}


def numeric_options(role):
    with open(os.path.join(REPO_ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    return {name for entry in specs.values() for name, option in (entry.get("options") or {}).items()
            if option.get("type") in ("int", "float")}


def bounds(role):
    with open(os.path.join(REPO_ROOT, "roles", role, "vars", "main.yml")) as handle:
        return (yaml.safe_load(handle) or {}).get("_%s_option_bounds" % role) or {}


def roles():
    return sorted(os.path.basename(os.path.dirname(os.path.dirname(p)))
                  for p in glob.glob(os.path.join(REPO_ROOT, "roles", "*", "meta", "argument_specs.yml")))


def test_every_numeric_role_option_has_a_bound():
    missing = {}
    for role in roles():
        if role in MODULE_BOUNDED_ROLES:
            continue
        lacking = numeric_options(role) - set(bounds(role))
        if lacking:
            missing[role] = sorted(lacking)
    assert not missing, "numeric role options without a bound in vars/main.yml: %s" % missing


def test_every_bound_names_a_declared_option_and_its_default_is_inside():
    for role in roles():
        with open(os.path.join(REPO_ROOT, "roles", role, "defaults", "main.yml")) as handle:
            defaults = yaml.safe_load(handle)
        for name, bound in bounds(role).items():
            assert name in numeric_options(role), "%s: bound for %s, which is no int/float option" % (role, name)
            assert bound["min"] <= float(defaults[name]) <= bound.get("max", float("inf")), (role, name)
