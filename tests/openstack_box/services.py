# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""How each OpenStack service is set up (database schema) and run: the APIs as WSGI apps under
gunicorn with TLS and an access log each, the other daemons as their console scripts."""

from __future__ import annotations

import os
import shutil

from . import config
from .procs import run

# service -> (WSGI module, argv the app's oslo.config sees, env var naming its config dir)
WSGI = {
    "keystone": ("keystone.wsgi.api", [], "OS_KEYSTONE_CONFIG_DIR"),
    "placement": ("placement.wsgi.api", [], "OS_PLACEMENT_CONFIG_DIR"),
    "glance": ("glance.wsgi.api", [], "OS_GLANCE_CONFIG_DIR"),
    "neutron": ("neutron.wsgi.api", [], "OS_NEUTRON_CONFIG_DIR"),
    "nova": ("nova.wsgi.osapi_compute", [], "OS_NOVA_CONFIG_DIR"),
    "cinder": ("cinder.wsgi.api", ["--config-file", "{conf}"], None),
    "octavia": ("octavia.wsgi.api", ["--config-file", "{conf}"], None),
}
# Files each service reads from its config dir.
CONFIG_FILES = {"glance": "glance-api.conf"}
# %(r)s is the request line as received (apps rewrite PATH_INFO on the way, e.g. Nova's /v2.1 prefix);
# %(a)s, the user agent, tells a client's requests from the services' own calls to each other.
ACCESS_LOG_FORMAT = '%(t)s "%(r)s" %(s)s %(b)s %(L)s "%(a)s"'
MUTATING = ("POST", "PUT", "PATCH", "DELETE")


def conf_path(layout, service):
    return layout.conf_path(service, CONFIG_FILES.get(service))


def write_config(layout, service, sections):
    os.makedirs(layout.etc_dir(service), exist_ok=True)
    path = conf_path(layout, service)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(config.render(sections))
    return path


def faults_dir(layout):
    """Where tests put the faults to inject (see fault_injection.py) and find the ones injected."""
    return os.path.join(layout.state, "faults")


def access_log(layout, service):
    return os.path.join(layout.logs, service + "-access.log")


def keystone_audit_log(layout):
    """Token requests (auth methods, application credential ID, user agent, status) and application
    credential deletions, one JSON object per line (``keystone_audit.py``)."""
    return os.path.join(layout.logs, "keystone-audit.log")


def _venv_env(layout, extra=None):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OS_", "PYTHON"))}
    env["PATH"] = os.path.join(layout.venv, "bin") + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    return env


def script(layout, name):
    """argv prefix of a console script of the venv, run by the venv's interpreter."""
    return [os.path.join(layout.venv, "bin", "python"), os.path.join(layout.venv, "bin", name)]


def start_api(layout, processes, service):
    module, argv, env_name = WSGI[service]
    conf = conf_path(layout, service)
    shim_dir = os.path.join(layout.state, "wsgi")
    os.makedirs(shim_dir, exist_ok=True)
    shim = "box_wsgi_%s" % service
    argv = [arg.format(conf=conf) for arg in argv]
    with open(os.path.join(shim_dir, shim + ".py"), "w") as handle:
        # oslo.config parses sys.argv: the app must not see gunicorn's arguments.
        handle.write("import sys\nsys.argv = %r\nfrom %s import application  # noqa: F401,E402\n"
                     % (["%s-api" % service] + argv, module))
        if service == "keystone":
            shutil.copyfile(os.path.join(os.path.dirname(os.path.abspath(__file__)), "keystone_audit.py"),
                            os.path.join(shim_dir, "keystone_audit.py"))
            handle.write("from keystone_audit import audited  # noqa: E402\napplication = audited(application, %r)\n"
                         % keystone_audit_log(layout))
        # Outermost, so an injected fault is what the client (and the access log) sees.
        shutil.copyfile(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_injection.py"),
                        os.path.join(shim_dir, "fault_injection.py"))
        os.makedirs(faults_dir(layout), exist_ok=True)
        handle.write("from fault_injection import injected  # noqa: E402\n"
                     "application = injected(application, %r, %r)\n" % (faults_dir(layout), service))
    env = _venv_env(layout, {env_name: layout.etc_dir(service)} if env_name else None)
    if service == "nova":
        # The first file is also the paste config the app is loaded from.
        shutil.copyfile(os.path.join(layout.venv, "etc", "nova", "api-paste.ini"),
                        os.path.join(layout.etc_dir("nova"), "api-paste.ini"))
        env["OS_NOVA_CONFIG_FILES"] = "api-paste.ini;nova.conf"
    if service == "neutron":
        env["OS_NEUTRON_CONFIG_FILES"] = "neutron.conf"
    port = config.PORTS[service]
    cert = os.path.join(layout.tls, "api.crt")
    key = os.path.join(layout.tls, "api.key")
    processes.start(service + "-api", script(layout, "gunicorn") + [
        "--bind", "%s:%d" % (config.ENDPOINT_ADDRESS, port), "--bind", "127.0.0.1:%d" % port,
        "--workers", "1", "--threads", "8", "--worker-class", "gthread", "--timeout", "300",
        "--graceful-timeout", "5",
        # Longer than any client's idle time between polls: gunicorn's default (2 s) closes idle
        # connections just as a client polling every 2 s reuses them ("Remote end closed connection").
        "--keep-alive", "75", "--certfile", cert, "--keyfile", key,
        "--access-logfile", access_log(layout, service), "--access-logformat", ACCESS_LOG_FORMAT,
        "--pythonpath", shim_dir, "--name", service + "-api", shim + ":application",
    ], env=env)


def start_daemon(layout, processes, name, console_script, conf_files):
    args = []
    for path in conf_files:
        args += ["--config-file", path]
    processes.start(name, script(layout, console_script) + args, env=_venv_env(layout))


def manage(layout, processes, console_script, *args):
    return run(script(layout, console_script) + list(args), env=_venv_env(layout),
               log=processes.log_path("setup"))


def setup_schema(layout, processes, service):
    conf = conf_path(layout, service)
    if service == "keystone":
        manage(layout, processes, "keystone-manage", "--config-file", conf, "db_sync")
        for what in ("fernet_setup", "credential_setup"):
            manage(layout, processes, "keystone-manage", "--config-file", conf, what,
                   "--keystone-user", "root", "--keystone-group", "root")
        url = layout.url("keystone") + "/v3"
        manage(layout, processes, "keystone-manage", "--config-file", conf, "bootstrap",
               "--bootstrap-password", layout.secrets["admin"], "--bootstrap-admin-url", url,
               "--bootstrap-internal-url", url, "--bootstrap-public-url", url,
               "--bootstrap-region-id", config.REGION)
    elif service == "placement":
        env_conf = ["--config-file", conf]
        manage(layout, processes, "placement-manage", *env_conf, "db", "sync")
    elif service == "glance":
        manage(layout, processes, "glance-manage", "--config-file", conf, "db_sync")
    elif service == "neutron":
        manage(layout, processes, "neutron-db-manage", "--config-file", conf, "upgrade", "heads")
    elif service == "nova":
        nova = ["--config-file", conf]
        manage(layout, processes, "nova-manage", *nova, "api_db", "sync")
        manage(layout, processes, "nova-manage", *nova, "cell_v2", "map_cell0", "--database_connection",
               layout.db("nova_cell0"))
        manage(layout, processes, "nova-manage", *nova, "cell_v2", "create_cell", "--name", "cell1")
        manage(layout, processes, "nova-manage", *nova, "db", "sync")
    elif service == "cinder":
        manage(layout, processes, "cinder-manage", "--config-file", conf, "db", "sync")
    elif service == "octavia":
        manage(layout, processes, "octavia-db-manage", "--config-file", conf, "upgrade", "head")


def compute_conf(layout, host):
    path = layout.conf_path("nova", host + ".conf")
    with open(path, "w") as handle:
        handle.write(config.render(config.nova_compute(layout, host)))
    os.makedirs(os.path.join(layout.data, "nova", host), exist_ok=True)
    return path


def start_service_daemons(layout, processes, service):
    conf = conf_path(layout, service)
    if service == "nova":
        for name in ("conductor", "scheduler"):
            start_daemon(layout, processes, "nova-" + name, "nova-" + name, [conf])
        for host in config.COMPUTE_HOSTS:
            start_daemon(layout, processes, "nova-compute-" + host, "nova-compute", [conf, compute_conf(layout, host)])
    elif service == "cinder":
        for name in ("scheduler", "volume"):
            start_daemon(layout, processes, "cinder-" + name, "cinder-" + name, [conf])
    elif service == "octavia":
        start_daemon(layout, processes, "octavia-worker", "octavia-worker", [conf])
