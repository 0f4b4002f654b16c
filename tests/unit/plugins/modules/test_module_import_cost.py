# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Every module run pays for its imports: heavy libraries are imported where they are used, not
with the module, so a run that does not need them does not pay for them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

import pytest

# library -> what importing it costs, and which runs need it
LAZY = {
    "jsonschema": "about 2 s (its format checkers build a grammar); only a run that writes add-on proxies",
    "ansible.module_utils.urls": "0.2 s; only a run that fetches a chart or an image",
    "openstack": "about 1 s; only a run that connects to a cloud",
    "keystoneauth1": "0.2 s (its exceptions alone); only a run that connects to a cloud",
    "cryptography": "0.06 s; only a run whose inventory holds a CA certificate",
    "kubernetes": "0.5 s (every generated API and model class); only a kubeconfig with a credential plugin",
}
# what a module needs on every run anyway: embedded_cluster checks or makes its PKI each time
NEEDED = {"embedded_cluster": ["cryptography"]}
MODULES = ("workload_cluster", "workload_cluster_info", "cluster_class", "capi_providers", "embedded_cluster",
           "openstack_app_credential", "openstack_preflight", "openstack_server_groups", "openstack_cluster_cleanup")


def _imported_after(module):
    code = ("import sys; import ansible_collections.scs.kaas.plugins.modules.%s; "
            "print(sorted(m for m in %r if m in sys.modules))" % (module, sorted(LAZY)))
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)), check=True)
    return out.stdout.decode().strip(), out.stderr.decode()[-2000:]


@pytest.mark.parametrize("module", MODULES)
def test_a_module_imports_no_heavy_library_until_it_uses_it(module):
    imported, stderr = _imported_after(module)
    assert imported == str(NEEDED.get(module, [])), (imported, stderr, LAZY)
