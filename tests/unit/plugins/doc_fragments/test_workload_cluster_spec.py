# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The documented suboptions of the workload_cluster module equal the spec declaration.

``plugins/doc_fragments/workload_cluster_spec.py`` is rendered from ``capi/spec.py``; this test
renders it again and compares, key by key. To regenerate after changing the declaration run
this file as a script (with the collection on the Python path).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

import yaml

from ansible_collections.scs.kaas.plugins.doc_fragments import workload_cluster_spec as fragment
from ansible_collections.scs.kaas.plugins.module_utils.capi import spec

FRAGMENT = os.path.join(os.path.dirname(os.path.abspath(fragment.__file__)), "workload_cluster_spec.py")

CLUSTERS_DESCRIPTION = [
    "Several workload cluster specs, reconciled concurrently.",
    "An item is either a spec or a mapping C({host, spec, var_name}); C(host) is the key of the item's result "
    "in RV(clusters) (default C(<namespace>/<name>)), C(var_name) the variable named in its error messages "
    "(default O(var_name)).",
    "The keys of a spec are listed below; they are declared once in C(module_utils/capi/spec.py), which "
    "also drives their validation and defaults.",
    "Durations are seconds or strings such as V(90s), V(5m), V(1h30m).",
]

HEADER = '''# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
# Rendered from plugins/module_utils/capi/spec.py by
# tests/unit/plugins/doc_fragments/test_workload_cluster_spec.py; do not edit by hand.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The option ``clusters`` of scs.kaas.workload_cluster with the keys of a workload cluster spec.
    DOCUMENTATION = r"""
'''


def expected_options():
    return {"clusters": {"description": CLUSTERS_DESCRIPTION, "type": "list", "elements": "dict",
                         "suboptions": spec.doc_suboptions()}}


def render():
    body = yaml.safe_dump({"options": expected_options()}, sort_keys=False, width=100, default_flow_style=False)
    return HEADER + body + '"""\n'


def _pairs(options, path=""):
    for name, entry in options.items():
        yield path + name, dict((k, v) for k, v in entry.items() if k != "suboptions")
        yield from _pairs(entry.get("suboptions") or {}, "%s%s." % (path, name))


def test_fragment_documents_every_declared_option_key_by_key():
    documented = yaml.safe_load(fragment.ModuleDocFragment.DOCUMENTATION)["options"]
    declared = dict(_pairs(expected_options()))
    got = dict(_pairs(documented))
    assert sorted(got) == sorted(declared)
    for path, entry in declared.items():
        assert got[path] == entry, path


def test_every_declared_option_is_documented_with_a_type_and_description():
    for path, option in spec.iter_options():
        assert option.description and option.description.endswith("."), path
        assert option.type in ("str", "int", "bool", "dict", "list", "raw"), path
        if option.choices and option.default is not None:
            assert option.default in option.choices, path


def test_the_fragment_file_is_the_rendering():
    with open(FRAGMENT) as handle:
        assert handle.read() == render()


if __name__ == "__main__":
    with open(sys.argv[1] if len(sys.argv) > 1 else FRAGMENT, "w") as handle:
        handle.write(render())
