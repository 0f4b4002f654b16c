# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Proof that the openstack.cloud collection we ship against works with our openstacksdk.

Runs a real ``openstack.cloud.compute_flavor_info`` module call through ``ansible-playbook``
(openstack.cloud from the collection tree, openstacksdk/keystoneauth from the venv) against the real
Keystone and Nova of the ``openstack_box`` fixture, over HTTPS verified with the box's CA (the
``ca_cert`` of the call), as the user of the module's fresh project. Its answer is compared with what
Nova lists to the admin, and the services' access logs show the calls it made.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import textwrap

PLAYBOOK = textwrap.dedent("""\
    - name: One openstack.cloud module call
      hosts: localhost
      connection: local
      gather_facts: false
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
      tasks:
        - name: List flavors
          openstack.cloud.compute_flavor_info:
            auth: "{{ cloud_auth }}"
            region_name: "{{ cloud_region }}"
            interface: public
            ca_cert: "{{ cloud_ca | default(omit) }}"
          register: flavors
          ignore_errors: true
        - name: Hand the result to the test
          ansible.builtin.copy:
            content: "{{ flavors | to_json }}"
            dest: "%(result)s"
            mode: "0600"
    """)


def _playbook_env(tmp_path, ansible_env):
    env = dict(ansible_env)
    # Nothing from the user's clouds.yaml or OS_* environment may leak in.
    for key in list(env):
        if key.startswith("OS_"):
            del env[key]
    env["OS_CLIENT_CONFIG_FILE"] = str(tmp_path / "clouds.yaml")
    (tmp_path / "clouds.yaml").write_text("clouds: {}\n")
    env["HOME"] = str(tmp_path)
    # ansible-playbook still needs its own writable tmp/local dirs under the new HOME.
    env["ANSIBLE_LOCAL_TEMP"] = str(tmp_path / "ansible-local")
    env["ANSIBLE_REMOTE_TEMP"] = str(tmp_path / "ansible-remote")
    return env


def _list_flavors(tmp_path, ansible_env, cloud, with_ca):
    result_file = tmp_path / "flavors.json"
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(PLAYBOOK % {"result": result_file})
    extra = {"cloud_auth": cloud["auth"], "cloud_region": cloud["region_name"]}
    if with_ca:
        extra["cloud_ca"] = cloud["cacert"]
    vars_file = tmp_path / "vars.json"
    fd = os.open(str(vars_file), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(extra, handle)
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
         "-e", "@" + str(vars_file), str(playbook)],
        env=_playbook_env(tmp_path, ansible_env), capture_output=True, text=True, check=False, timeout=300,
        stdin=subprocess.DEVNULL,
    )
    print(proc.stdout[-4000:])
    print(proc.stderr[-4000:])
    assert proc.returncode == 0, "ansible-playbook failed (rc %d)" % proc.returncode
    return json.loads(result_file.read_text())


def _module_calls(box, marker):
    """The requests openstacksdk sent since ``marker``: the services' own calls to each other (Nova's
    periodic resource reports to Placement, the token checks of their middleware) run at any time."""
    return [call for call in box.requests(since=marker, methods=None)
            if (call.get("agent") or "").startswith("openstacksdk/")]


def test_compute_flavor_info_through_ansible_playbook(tmp_path, ansible_env, openstack_box, openstack_project):
    admin = openstack_box.admin_connection()
    public = {f.name: (f.vcpus, f.ram, f.disk) for f in admin.compute.flavors(is_public=True)}
    assert public, "the box has no public flavors"
    marker = openstack_box.mark()

    registered = _list_flavors(tmp_path, ansible_env, openstack_project, with_ca=True)

    assert registered.get("failed") is not True, registered.get("msg")
    assert registered["changed"] is False
    returned = {f["name"]: (f["vcpus"], f["ram"], f["disk"]) for f in registered["flavors"]}
    assert returned == public
    # The module authenticated once with the project user's password and listed flavors at Nova.
    calls = _module_calls(openstack_box, marker)
    token_issues = [c for c in calls if c["service"] == "keystone" and c["method"] == "POST"
                    and c["path"] == "/v3/auth/tokens"]
    assert [c["status"] for c in token_issues] == ["201"]
    flavor_lists = [c for c in calls if c["service"] == "nova" and c["path"].startswith("/v2.1/flavors")]
    assert flavor_lists and all(c["status"] == "200" for c in flavor_lists), calls
    writes = [c for c in calls if c["method"] in ("POST", "PUT", "PATCH", "DELETE") and c not in token_issues]
    assert writes == []


def test_compute_flavor_info_refuses_a_cloud_it_cannot_verify(tmp_path, ansible_env, openstack_box,
                                                              openstack_project):
    """Without the box's CA the module fails at the TLS handshake, before any credential is sent."""
    marker = openstack_box.mark()
    registered = _list_flavors(tmp_path, ansible_env, openstack_project, with_ca=False)
    assert registered.get("failed") is True
    assert "CERTIFICATE_VERIFY_FAILED" in json.dumps(registered), registered.get("msg")
    assert _module_calls(openstack_box, marker) == []


def test_openstack_cloud_is_the_version_that_matches_openstacksdk(ansible_env):
    """openstack.cloud 2.5.0 breaks with openstacksdk >= 4.15; we need the 2.6 line."""
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-galaxy"), "collection", "list",
         "openstack.cloud", "--format", "json"],
        env=ansible_env, capture_output=True, text=True, check=False, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    found = {}
    for collections in json.loads(proc.stdout).values():
        found.update({name: info["version"] for name, info in collections.items()})
    assert found.get("openstack.cloud", "").split(".")[:2] == ["2", "6"], found
    from importlib.metadata import version

    sdk = version("openstacksdk")
    assert tuple(int(x) for x in sdk.split(".")[:2]) >= (4, 15), sdk
