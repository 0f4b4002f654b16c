# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Proof that the openstack.cloud collection we ship against works with our openstacksdk.

Runs a real ``openstack.cloud.compute_flavor_info`` module call through ``ansible-playbook``
(openstack.cloud from the collection tree, openstacksdk/keystoneauth from the venv). The cloud
is a tiny HTTP responder on 127.0.0.1 (a random port) that fakes exactly these calls:

- ``GET /identity`` and ``GET /identity/v3``: Keystone version discovery;
- ``POST /identity/v3/auth/tokens``: password authentication, answered with a project-scoped
  token and a catalog whose compute endpoint points back at this responder;
- ``GET /compute/v2.1`` and ``GET /compute``: Nova version discovery (microversions 2.1..2.96);
- ``GET /compute/v2.1/flavors/detail``: two flavors.

Anything else answers 404 and is recorded, so the test fails when the module or SDK starts to
need calls the responder does not know. The test checks the flavors the module returns, the
token it sent, and the exact sequence of calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "gAAAAAB-scs-kaas-fake-token"
PROJECT_ID = "7a1f4e0e9f8b4d54b0d3c0b5d6f0e2a1"
USER_ID = "3b8f5d8c3c6f4a51a9ae5d5c0d7c1e2f"
FLAVORS = [
    {"id": "1", "name": "SCS-2V-4", "vcpus": 2, "ram": 4096, "disk": 0, "OS-FLV-EXT-DATA:ephemeral": 0,
     "swap": 0, "rxtx_factor": 1.0, "os-flavor-access:is_public": True, "description": None,
     "extra_specs": {"scs:name-v2": "SCS-2V-4"}, "links": []},
    {"id": "2", "name": "SCS-4V-16-50", "vcpus": 4, "ram": 16384, "disk": 50, "OS-FLV-EXT-DATA:ephemeral": 0,
     "swap": 0, "rxtx_factor": 1.0, "os-flavor-access:is_public": True, "description": None,
     "extra_specs": {}, "links": []},
]


class FakeCloud(object):
    """Minimal Keystone v3 + Nova responder; records every request."""

    def __init__(self):
        self.requests = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def _identity_version(self):
        return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                "links": [{"rel": "self", "href": self.base + "/identity/v3/"}],
                "media-types": [{"base": "application/json",
                                 "type": "application/vnd.openstack.identity-v3+json"}]}

    def _compute_version(self):
        return {"id": "v2.1", "status": "CURRENT", "version": "2.96", "min_version": "2.1",
                "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": self.base + "/compute/v2.1/"}]}

    @staticmethod
    def _endpoints(url):
        return [{"id": "e-%s" % iface, "interface": iface, "region": "RegionOne", "region_id": "RegionOne",
                 "url": url} for iface in ("public", "internal", "admin")]

    def _token(self):
        endpoints = self._endpoints
        return {"token": {
            "methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z",
            "issued_at": "2026-01-01T00:00:00.000000Z", "audit_ids": ["scs-kaas-test"],
            "user": {"id": USER_ID, "name": "demo", "domain": {"id": "default", "name": "Default"},
                     "password_expires_at": None},
            "project": {"id": PROJECT_ID, "name": "demo", "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r1", "name": "member"}],
            "catalog": [
                {"id": "s-identity", "type": "identity", "name": "keystone",
                 "endpoints": endpoints(self.base + "/identity")},
                {"id": "s-compute", "type": "compute", "name": "nova",
                 "endpoints": endpoints(self.base + "/compute/v2.1")},
            ],
        }}

    def _handler(self):
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def _reply(self, status, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _record(self, body=None):
                path = self.path.split("?", 1)[0].rstrip("/")
                cloud.requests.append({"method": self.command, "path": path,
                                       "token": self.headers.get("X-Auth-Token"), "body": body})
                return path

            def do_GET(self):
                path = self._record()
                if path == "/identity":
                    self._reply(300, {"versions": {"values": [cloud._identity_version()]}})
                elif path == "/identity/v3":
                    self._reply(200, {"version": cloud._identity_version()})
                elif path == "/compute":
                    self._reply(200, {"versions": [cloud._compute_version()]})
                elif path == "/compute/v2.1":
                    self._reply(200, {"version": cloud._compute_version()})
                elif path == "/compute/v2.1/flavors/detail" and self.headers.get("X-Auth-Token") == TOKEN:
                    self._reply(200, {"flavors": FLAVORS})
                else:
                    self._reply(404, {"error": {"code": 404, "message": "not faked: GET %s" % path}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                path = self._record(body)
                password = body.get("auth", {}).get("identity", {}).get("password", {}).get("user", {})
                if path == "/identity/v3/auth/tokens" and password.get("password") == "s3cret":
                    self._reply(201, cloud._token(), {"X-Subject-Token": TOKEN})
                elif path == "/identity/v3/auth/tokens":
                    self._reply(401, {"error": {"code": 401, "message": "bad credentials"}})
                else:
                    self._reply(404, {"error": {"code": 404, "message": "not faked: POST %s" % path}})

        return Handler


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
            auth:
              auth_url: "%(auth_url)s"
              username: demo
              password: s3cret
              project_name: demo
              user_domain_name: Default
              project_domain_name: Default
            region_name: RegionOne
            interface: public
          register: flavors
        - name: Hand the result to the test
          ansible.builtin.copy:
            content: "{{ flavors | to_json }}"
            dest: "%(result)s"
            mode: "0600"
    """)


def test_compute_flavor_info_through_ansible_playbook(tmp_path, ansible_env):
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

    result_file = tmp_path / "flavors.json"
    with FakeCloud() as cloud:
        playbook = tmp_path / "playbook.yml"
        playbook.write_text(PLAYBOOK % {"auth_url": cloud.base + "/identity", "result": result_file})
        proc = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", str(playbook)],
            env=env, capture_output=True, text=True, check=False, timeout=300, stdin=subprocess.DEVNULL,
        )
    print(proc.stdout[-4000:])
    print(proc.stderr[-4000:])
    calls = ["%s %s" % (r["method"], r["path"]) for r in cloud.requests]
    print("requests:", calls)
    assert proc.returncode == 0, "ansible-playbook failed (rc %d)" % proc.returncode

    registered = json.loads(result_file.read_text())
    assert registered["changed"] is False
    names = sorted(f["name"] for f in registered["flavors"])
    assert names == ["SCS-2V-4", "SCS-4V-16-50"]
    big = [f for f in registered["flavors"] if f["name"] == "SCS-4V-16-50"][0]
    assert (big["vcpus"], big["ram"], big["disk"]) == (4, 16384, 50)

    # The module authenticated with the password and used the issued token for Nova.
    auth = [r for r in cloud.requests if r["path"] == "/identity/v3/auth/tokens"]
    assert len(auth) == 1 and auth[0]["method"] == "POST"
    assert auth[0]["body"]["auth"]["identity"]["methods"] == ["password"]
    flavor_calls = [r for r in cloud.requests if r["path"] == "/compute/v2.1/flavors/detail"]
    assert [r["token"] for r in flavor_calls] == [TOKEN]
    not_faked = [c for c in calls if c not in {
        "GET /identity", "GET /identity/v3", "POST /identity/v3/auth/tokens",
        "GET /compute", "GET /compute/v2.1", "GET /compute/v2.1/flavors/detail"}]
    assert not_faked == [], "calls the responder does not fake: %s" % not_faked


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
