# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Fixtures for end-to-end tests against the real embedded management cluster.

Stable interface for every e2e test in this directory:

``management_cluster`` (session)
    Builds (or finds cached) binaries via ``plugins/module_utils/embedded/build.py`` and starts
    the embedded management cluster (etcd, kube-apiserver, kube-controller-manager, CAPI core,
    kubeadm bootstrap, kubeadm control plane, CAPD with the in-memory backend) in a temporary
    state directory, with the default ports. Yields a :class:`helpers.ManagementCluster`:

    - ``kubeconfig``, ``state_dir``, ``audit_log`` (paths), ``binaries`` (component -> path,
      incl. ``clusterctl`` and ``kubectl``), ``module_dirs``, ``ports``, ``last_start`` (start result);
    - ``kubectl(*args, check=True, input=None, timeout=120)`` -> ``CompletedProcess`` (text), run
      with the kubectl built from the pinned k8s.io/kubernetes (never a system one);
      ``kubectl_json(*args)`` -> parsed ``-o json`` output;
    - ``clusterctl(*args)`` (``CLUSTERCTL_DISABLE_VERSIONCHECK=true``, the kubeconfig appended);
    - ``api_client()`` -> ``kubernetes.client.ApiClient`` (user agent ``scs.kaas-e2e/<galaxy.yml version>``),
      ``custom_objects()`` -> ``CustomObjectsApi``;
    - ``mark()`` -> marker; ``count_writes(user_agent_prefix, since=marker)`` -> number of
      mutating requests (create/update/patch/delete/deletecollection, without ``dryRun=All``)
      in the kube-apiserver audit log after the marker; ``writes(...)`` returns the events,
      ``audit_events(since)`` every event. No read depends on a sleep: each sends a marker request
      and reads up to its event (``helpers.AuditLog``); a line that is not JSON fails the read;
    - ``stop()`` / ``start()`` (the session cluster is started again by the fixture's users
      if they stop it: use ``fresh_management_cluster`` instead where possible).

    At the end of the session it stops the cluster and asserts that no process is left.

``fresh_management_cluster`` (function)
    Stops the session cluster, starts a brand-new one in a new state directory (same ports),
    yields it, stops it, and starts the session cluster again (its data survives). For tests
    that need an empty cluster, e.g. restoring a ``clusterctl move`` backup.

``openstack_build`` (session) / ``openstack_management_cluster`` (module)
    The binaries with CAPO and ORC; a management cluster running them too, in a new state directory
    per test module (the session cluster is stopped meanwhile and started again).

``addons_build`` (session) / ``addons_management_cluster`` (module)
    The same with CAAPH (``optional_providers=[addons]``), for the add-on tests.

``openstack_box`` (session, started on first use)
    The official OpenStack services (``tests/openstack_box``, see docs/testing-openstack.md): Keystone,
    Placement, Glance, Neutron, Nova (3 fake compute hosts in availability zones az-1, az-2), Cinder
    and Octavia, every API over HTTPS on ``openstack_box.endpoint_address`` (a dummy interface of this
    namespace) and 127.0.0.1. Yields an :class:`openstack_box.OpenStackBox`: ``ca_file``,
    ``admin_cloud`` (a clouds.yaml entry), ``admin_connection()``, ``new_project(name)``,
    ``mark()`` / ``requests(since=marker, methods=..., service=...)`` (access-log lines),
    ``log_paths()``, ``url(service)``. ``SCS_KAAS_OPENSTACK_BOX_DIR`` keeps the state (and makes a
    second start warm). At the end of the session it stops every process and asserts that no port
    of the box is still listening.

``openstack_project`` (module)
    A fresh project and user (roles member, load-balancer_member) per test module: a clouds.yaml
    entry dict (``auth``, ``region_name``, ``interface``, ``identity_api_version``, ``cacert``), usable
    as ``openstack.connect(load_yaml_config=False, load_envvars=False, **entry)`` or as the fields of
    an openstack.cloud module call. Everything left in the project, the project and the user are
    deleted after the module.

``ansible_env`` (session)
    Environment for ``subprocess`` runs of ``ansible-playbook``: ``ANSIBLE_COLLECTIONS_PATH``
    starts with a directory holding ``ansible_collections/scs/kaas`` -> this checkout, followed
    by the venv's kubernetes.core/openstack.cloud; ``PATH`` starts with the venv's ``bin`` and
    the directory of the built kubectl.

The in-memory backend binds fixed ports (19000, 20000+): run e2e tests in a private network
namespace when anything else may run them at the same time::

    unshare --net bash -c 'ip link set lo up && .venv/bin/python -m pytest tests/e2e'
"""

from __future__ import annotations

import os
import re
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import helpers  # noqa: E402  (tests/e2e/helpers.py)

helpers.ensure_collection_path()


@pytest.fixture(scope="session")
def embedded_build():
    """The ``ensure_binaries`` result (binaries, module_dirs, timings, built)."""
    return helpers.ensure_binaries()


def _start(state_dir, build):
    mc = helpers.ManagementCluster(str(state_dir), build)
    try:
        mc.start()
    except Exception:
        mc.stop()
        raise
    return mc


def _stop_and_check(mc):
    mc.stop()
    left = mc.leftover_processes()
    assert not left, "processes left after stop: %r" % left


@pytest.fixture(scope="session")
def management_cluster(tmp_path_factory, embedded_build):
    mc = _start(tmp_path_factory.mktemp("embedded"), embedded_build)
    yield mc
    _stop_and_check(mc)


@pytest.fixture
def fresh_management_cluster(tmp_path_factory, embedded_build, management_cluster):
    management_cluster.stop()
    fresh = None
    try:
        fresh = _start(tmp_path_factory.mktemp("embedded-fresh"), embedded_build)
        yield fresh
    finally:
        if fresh is not None:
            _stop_and_check(fresh)
        management_cluster.start()


@pytest.fixture(scope="session")
def openstack_build():
    """The ``ensure_binaries`` result with CAPO and ORC (``optional_providers=[openstack]``)."""
    return helpers.ensure_binaries(optional_providers=["openstack"])


def _switched_management_cluster(tmp_path_factory, build, management_cluster, switch):
    """A management cluster that runs the components of ``switch`` too, in a new state directory. The
    session cluster is stopped for that time (CAPD's in-memory backend binds fixed ports) and started
    again afterwards."""
    management_cluster.stop()
    mc = helpers.ManagementCluster(str(tmp_path_factory.mktemp("embedded-%s" % switch)), build,
                                   optional_providers=[switch])
    try:
        mc.start()
        yield mc
    finally:
        mc.stop()
        left = mc.leftover_processes()
        management_cluster.start()
        assert not left, "processes left after stop: %r" % left


@pytest.fixture(scope="module")
def openstack_management_cluster(tmp_path_factory, openstack_build, management_cluster):
    """A management cluster that runs CAPO and ORC too, one per test module."""
    yield from _switched_management_cluster(tmp_path_factory, openstack_build, management_cluster, "openstack")


@pytest.fixture(scope="session")
def addons_build():
    """The ``ensure_binaries`` result with CAAPH (``optional_providers=[addons]``)."""
    return helpers.ensure_binaries(optional_providers=["addons"])


@pytest.fixture(scope="module")
def addons_management_cluster(tmp_path_factory, addons_build, management_cluster):
    """A management cluster that runs CAAPH too, one per test module."""
    yield from _switched_management_cluster(tmp_path_factory, addons_build, management_cluster, "addons")


@pytest.fixture(scope="session")
def ansible_env(embedded_build):
    return helpers.ansible_environment(helpers.ensure_collection_path(),
                                       kubectl=embedded_build["binaries"]["kubectl"])


@pytest.fixture(scope="session")
def openstack_box(tmp_path_factory):
    from openstack_box import OpenStackBox  # tests/openstack_box

    state_dir = os.environ.get("SCS_KAAS_OPENSTACK_BOX_DIR") or str(tmp_path_factory.mktemp("openstack-box"))
    box = OpenStackBox(state_dir)
    box.start()
    yield box
    box.stop()
    assert box.listening() == [], "ports of the OpenStack box still listening after stop"


def _module_stem(request):
    return re.sub(r"[^a-z0-9]+", "-", request.module.__name__.rsplit(".", 1)[-1].lower()).strip("-")


@pytest.fixture(scope="module")
def openstack_project(openstack_box, request):
    entry, cleanup = openstack_box.new_project("%s-%s" % (_module_stem(request)[:40], uuid.uuid4().hex[:6]))
    yield entry
    cleanup()


@pytest.fixture(scope="module")
def namespace(management_cluster, request):
    """A namespace of the session's management cluster for one test module (deleted afterwards)."""
    name = "%s-%s" % (_module_stem(request)[:40].strip("-"), uuid.uuid4().hex[:6])
    management_cluster.kubectl("create", "namespace", name)
    yield name
    management_cluster.kubectl("delete", "namespace", name, "--wait=false")
