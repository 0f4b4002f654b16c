# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The box: the official OpenStack services (from the cached services venv), MariaDB and RabbitMQ as
processes of the tests' network namespace, every API over HTTPS with the box's CA."""

from __future__ import annotations

import json
import os
import re
import secrets
import ssl
import time
import urllib.error
import urllib.request
import uuid

from . import config, infra, install, seed, services, tls
from .procs import BoxError, Processes, port_open, run, wait_for

ALL_SERVICES = ("keystone", "placement", "glance", "neutron", "nova", "cinder", "octavia")
_ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>[^ ?"]+)[^ "]* HTTP/[0-9.]+" (?P<status>\d{3})'
                          r'(?: \S+ \S+ "(?P<agent>[^"]*)")?')


class OpenStackBox:
    def __init__(self, state_dir, services_to_run=ALL_SERVICES, log=print):
        self.state_dir = os.path.abspath(state_dir)
        self.services = tuple(name for name in ALL_SERVICES if name in services_to_run)
        self.log = log
        self.processes = None
        self.layout = None
        self.timings = {}
        self.debian_versions = {}

    # -- public API ----------------------------------------------------------------------------
    @property
    def ca_file(self):
        return self.layout.ca_file

    @property
    def endpoint_address(self):
        return config.ENDPOINT_ADDRESS

    @property
    def admin_cloud(self):
        return seed.cloud_entry(self.layout, "admin", self.layout.secrets["admin"], "admin")

    def url(self, service):
        return self.layout.url(service)

    def log_paths(self):
        """service/process name -> log file (and ``<service>-access`` -> gunicorn access log)."""
        paths = {name: self.processes.log_path(name) for name in self.processes.running}
        paths.update({service + "-access": services.access_log(self.layout, service) for service in self.services})
        return paths

    def memory_pss_mib(self):
        """Memory of every process of the box (PSS, MiB)."""
        return round(self.processes.pss_kib() / 1024)

    def admin_connection(self):
        return seed.connect(self.admin_cloud)

    def new_project(self, name):
        """(clouds entry, cleanup) for a fresh project + user with roles member, load-balancer_member."""
        conn = self.admin_connection()
        entry, project, user = seed.new_project(conn, self.layout, name, secrets.token_urlsafe(18))

        def cleanup():
            # What the tests left in the project goes first (servers, ports, load balancers, volumes...).
            seed.connect(entry).project_cleanup(dry_run=False, wait_timeout=300)
            admin = self.admin_connection()
            admin.identity.delete_user(user, ignore_missing=True)
            admin.identity.delete_project(project, ignore_missing=True)
        return entry, cleanup

    def _flush(self, service):
        """Offset just past a marker request in the service's access log. gunicorn writes a line after
        sending the response, so a client may read the log before the line of its last request: a
        request sent afterwards and found in the log bounds what is complete."""
        token = "kaas-box-marker=%s" % uuid.uuid4().hex
        context = ssl.create_default_context(cafile=self.ca_file)
        try:
            urllib.request.urlopen("%s/?%s" % (self.layout.url(service), token), context=context,
                                   timeout=30).close()
        except urllib.error.HTTPError:
            pass  # any answer is logged
        path = services.access_log(self.layout, service)

        def marker_end():
            with open(path, "rb") as handle:
                data = handle.read()
            index = data.find(token.encode())
            return data.index(b"\n", index) + 1 if index >= 0 and b"\n" in data[index:] else None
        return wait_for("the marker request in %s" % path, marker_end, 30, self.processes, interval=0.1)

    def mark(self):
        """A marker for :meth:`requests`: the end of every access log, after a marker request."""
        return {service: self._flush(service) for service in self.services}

    def requests(self, since=None, methods=services.MUTATING, service=None):
        """Requests in the access logs after ``since`` and before a marker request sent now: list of
        dicts (service, method, path, status, agent); ``methods=None`` for every method."""
        found = []
        for name in self.services if service is None else (service,):
            end = self._flush(name)
            with open(services.access_log(self.layout, name), "rb") as handle:
                start = (since or {}).get(name, 0)
                handle.seek(start)
                text = handle.read(end - start).decode(errors="replace")
            for line in text.splitlines():
                match = _ACCESS_LINE.search(line)
                if match and "kaas-box-marker=" not in line and (methods is None or match["method"] in methods):
                    found.append(dict(match.groupdict(), service=name))
        return found

    # -- faults (tests/openstack_box/fault_injection.py) ------------------------------------------
    def inject_fault(self, service, method, path, status=503, when="before", times=1, delay=0):
        """Make ``service`` answer ``status`` to the next ``times`` requests of ``method`` whose path
        matches the regular expression ``path``: without doing them (``when="before"``) or after doing
        them (``"after"``: the answer is lost). Returns the rule's id."""
        rule = {"id": uuid.uuid4().hex[:12], "method": method, "path": path, "status": status, "when": when,
                "times": times, "delay": delay}
        path_ = os.path.join(services.faults_dir(self.layout), service + ".json")
        rules = []
        if os.path.exists(path_):
            with open(path_) as handle:
                rules = json.load(handle)
        temporary = path_ + ".tmp"
        with open(temporary, "w") as handle:
            json.dump(rules + [rule], handle)
        os.replace(temporary, path_)
        return rule["id"]

    def injected_faults(self, service):
        """The faults ``service`` injected so far (dicts: id, method, path, status, when, time)."""
        path = os.path.join(services.faults_dir(self.layout), service + ".log")
        if not os.path.exists(path):
            return []
        with open(path) as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def clear_faults(self):
        """No fault is injected from now on."""
        directory = services.faults_dir(self.layout)
        for name in os.listdir(directory) if os.path.isdir(directory) else ():
            if name.endswith(".json"):
                os.remove(os.path.join(directory, name))

    def keystone_audit(self, since=0):
        """(events, end offset): Keystone's token requests and application credential deletions after
        byte offset ``since`` of its audit log, in the order Keystone answered them. Each event: event
        (``token`` / ``delete_application_credential``), application_credential (ID or name),
        methods, user_agent, status, time. The wrapper writes a line before the response leaves, so a
        client that has its answer finds its line."""
        path = services.keystone_audit_log(self.layout)
        if not os.path.exists(path):
            return [], since
        with open(path, "rb") as handle:
            handle.seek(since)
            data = handle.read()
        complete = data[:data.rfind(b"\n") + 1]
        return [json.loads(line) for line in complete.decode().splitlines() if line], since + len(complete)

    # -- lifecycle -----------------------------------------------------------------------------
    def _secrets(self):
        path = os.path.join(self.state_dir, "secrets.json")
        if os.path.exists(path):
            with open(path) as handle:
                return json.load(handle)
        values = {"admin": secrets.token_urlsafe(18), "service": secrets.token_urlsafe(18),
                  "erlang_cookie": secrets.token_hex(20), "octavia_ca": secrets.token_urlsafe(18),
                  "octavia_certs": secrets.token_hex(16)}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle)
        return values

    def _tls(self):
        directory = self.layout.tls
        os.makedirs(directory, mode=0o700, exist_ok=True)
        ca_cert, ca_key = tls.make_ca(directory, "ca", "scs.kaas e2e OpenStack CA")
        tls.make_server_cert(directory, "api", ca_cert, ca_key, config.ENDPOINT_ADDRESS,
                             ips=(config.ENDPOINT_ADDRESS, "127.0.0.1"), dns=("localhost",))
        if "octavia" in self.services:
            tls.make_ca(directory, "octavia-server-ca", "octavia amphora server CA",
                        passphrase=self.layout.secrets["octavia_ca"])
            client_ca, client_ca_key = tls.make_ca(directory, "octavia-client-ca", "octavia client CA")
            cert, key = tls.make_server_cert(directory, "octavia-client", client_ca, client_ca_key,
                                             "octavia controller")
            tls.write_bundle(os.path.join(directory, "octavia-client.pem"), cert, key)

    def _done(self, step):
        return os.path.exists(os.path.join(self.state_dir, "done", step))

    def _mark_done(self, step):
        os.makedirs(os.path.join(self.state_dir, "done"), exist_ok=True)
        open(os.path.join(self.state_dir, "done", step), "w").close()

    def _wait_api(self, service, timeout=300):
        context = ssl.create_default_context(cafile=self.ca_file)
        url = self.layout.url(service) + "/"

        def answers():
            try:
                with urllib.request.urlopen(url, context=context, timeout=10) as response:
                    return response.status < 500
            except urllib.error.HTTPError as exc:
                return exc.code < 500
        wait_for("%s API at %s" % (service, url), answers, timeout, self.processes)

    def _timed(self, name, func, *args):
        started = time.monotonic()
        result = func(*args)
        self.timings[name] = round(time.monotonic() - started, 1)
        return result

    def start(self):
        started = time.monotonic()
        os.makedirs(self.state_dir, exist_ok=True)
        venv, built = install.ensure_services_venv(self.log)
        self.timings["venv_build"] = round(built, 1)
        self.debian_versions = install.ensure_debian_packages(self.log)
        self.layout = config.Layout(self.state_dir, venv, self._secrets())
        for directory in (self.layout.logs, self.layout.data):
            os.makedirs(directory, exist_ok=True)
        self.processes = Processes(self.layout.logs)
        for port in (infra.MARIADB_PORT, infra.RABBIT_PORT, infra.EPMD_PORT) + tuple(config.PORTS.values()):
            if port_open("127.0.0.1", port):
                raise BoxError("port %d is already in use in this network namespace" % port)
        try:
            infra.ensure_dummy_interface()
            self._tls()
            self._timed("mariadb", infra.start_mariadb, self.layout, self.processes)
            self._timed("rabbitmq", infra.start_rabbitmq, self.layout, self.processes)
            self._timed("keystone", self._start_service, "keystone")
            self._step("catalog", seed.services_and_catalog, self.admin_connection(), self.layout)
            conn = self.admin_connection()  # a token whose catalog has every service
            self.service_project = conn.identity.find_project("service", domain_id="default",
                                                              ignore_missing=False)

            for service in self.services:
                if service not in ("keystone", "octavia"):
                    self._timed(service, self._start_service, service)
            if "nova" in self.services:
                self._timed("nova-discovery", self._discover_hosts)
                self._step("compute", seed.compute_layout, conn)
            if "glance" in self.services:
                self._step("image", seed.image, conn)
            if "neutron" in self.services:
                self._step("public-network", seed.public_network, conn)
            if "octavia" in self.services:
                self._timed("octavia", self._start_octavia, conn)
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = round(time.monotonic() - started, 1)
        with open(os.path.join(self.state_dir, "logs", "start-figures.json"), "a") as handle:
            handle.write(json.dumps({"timings": self.timings, "pss_mib": self.memory_pss_mib(),
                                     "debian": self.debian_versions}) + "\n")
        return self

    def _step(self, name, func, *args):
        """A seeding step, once per state directory (a warm start skips it)."""
        if not self._done(name):
            self._timed(name, func, *args)
            self._mark_done(name)

    def _start_service(self, service, sections=None):
        sections = sections or getattr(config, service)(self.layout)
        services.write_config(self.layout, service, sections)
        if not self._done("schema-" + service):
            services.setup_schema(self.layout, self.processes, service)
            self._mark_done("schema-" + service)
        services.start_api(self.layout, self.processes, service)
        services.start_service_daemons(self.layout, self.processes, service)
        self._wait_api(service)

    def _discover_hosts(self):
        conf = services.conf_path(self.layout, "nova")
        conn = self.admin_connection()

        def computes_up():
            up = {svc.host for svc in conn.compute.services(binary="nova-compute") if svc.state == "up"}
            return up >= set(config.COMPUTE_HOSTS)
        wait_for("nova-compute services up", computes_up, 300, self.processes, interval=1)

        def discovered():
            services.manage(self.layout, self.processes, "nova-manage", "--config-file", conf,
                            "cell_v2", "discover_hosts")
            hypervisors = {hv.name for hv in conn.compute.hypervisors()}
            return hypervisors >= set(config.COMPUTE_HOSTS)
        wait_for("compute hosts discovered", discovered, 300, self.processes, interval=1)

    def _start_octavia(self, conn):
        management = seed.octavia_management(conn, self.service_project)
        self._start_service("octavia", config.octavia(self.layout, management))

    def stop(self):
        if self.processes is not None:
            self.processes.stop()
        infra.stop_epmd_leftovers()

    def listening(self):
        """Ports of the box still accepting connections (empty after stop)."""
        ports = (infra.MARIADB_PORT, infra.RABBIT_PORT, infra.EPMD_PORT) + tuple(config.PORTS.values())
        return [port for port in ports if port_open("127.0.0.1", port)
                or port_open(config.ENDPOINT_ADDRESS, port)]


__all__ = ["OpenStackBox", "BoxError", "run"]
