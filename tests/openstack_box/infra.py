# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""MariaDB, RabbitMQ (with its own epmd) and the dummy interface, all inside the tests' namespace and,
except the dummy address, on loopback only."""

from __future__ import annotations

import os
import shutil
import subprocess

from . import config
from .procs import BoxError, port_open, run, wait_for

MARIADB_PORT = 3306
RABBIT_PORT = 5672
EPMD_PORT = 4369
RABBIT_DIST_PORT = 25672


def ensure_dummy_interface():
    """The API address on a dummy interface of this namespace (created when missing); where the kernel
    has no dummy links (no module, as in some containers) on ``lo``: a local address either way, which
    Linux answers on whatever interface a packet arrives (veth of a container network included).
    Returns the interface that carries it."""
    addr = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True, check=True).stdout
    for line in addr.splitlines():
        if " %s/" % config.ENDPOINT_ADDRESS in line:
            return line.split()[1]
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    device = config.DUMMY_INTERFACE
    if ": %s:" % device not in links and subprocess.run(
            ["ip", "link", "add", device, "type", "dummy"], capture_output=True, check=False).returncode != 0:
        device = "lo"
    run(["ip", "addr", "add", config.ENDPOINT_ADDRESS + "/32", "dev", device])
    run(["ip", "link", "set", device, "up"])
    return device


def start_mariadb(layout, processes):
    datadir = os.path.join(layout.data, "mysql")
    os.makedirs(os.path.dirname(layout.mysql_socket), exist_ok=True)
    fresh = not os.path.isdir(os.path.join(datadir, "mysql"))
    if fresh:
        os.makedirs(datadir, exist_ok=True)
        run(["mariadb-install-db", "--no-defaults", "--datadir=" + datadir, "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            log=processes.log_path("mariadb-install"))
    processes.start("mariadb", [
        shutil.which("mariadbd") or "/usr/sbin/mariadbd", "--no-defaults", "--datadir=" + datadir, "--user=root",
        "--socket=" + layout.mysql_socket, "--bind-address=127.0.0.1", "--port=%d" % MARIADB_PORT,
        "--pid-file=" + os.path.join(datadir, "mysqld.pid"), "--max-connections=2000",
        "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=0", "--skip-name-resolve",
        "--character-set-server=utf8mb4", "--performance-schema=off",
    ])
    wait_for("MariaDB", lambda: os.path.exists(layout.mysql_socket) and port_open("127.0.0.1", MARIADB_PORT),
             120, processes)
    if fresh:
        sql = "".join("CREATE DATABASE IF NOT EXISTS %s CHARACTER SET utf8;" % name for name in config.DATABASES)
        run(["mariadb", "--no-defaults", "-uroot", "--socket=" + layout.mysql_socket, "-e", sql])
    return fresh


def _rabbit_env(layout):
    base = os.path.join(layout.data, "rabbitmq")
    os.makedirs(base, exist_ok=True)
    plugins = os.path.join(base, "enabled_plugins")
    if not os.path.exists(plugins):
        with open(plugins, "w") as handle:
            handle.write("[].\n")
    conf = os.path.join(base, "rabbitmq.conf")
    with open(conf, "w") as handle:
        handle.write("listeners.tcp.default = 127.0.0.1:%d\nloopback_users.guest = true\n" % RABBIT_PORT)
    cookie = os.path.join(base, ".erlang.cookie")
    if not os.path.exists(cookie):
        fd = os.open(cookie, os.O_WRONLY | os.O_CREAT, 0o400)
        os.write(fd, layout.secrets["erlang_cookie"].encode())
        os.close(fd)
    return dict(
        os.environ, HOME=base, RABBITMQ_NODENAME="rabbit@localhost", RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
        RABBITMQ_NODE_PORT=str(RABBIT_PORT), RABBITMQ_DIST_PORT=str(RABBIT_DIST_PORT),
        RABBITMQ_MNESIA_BASE=os.path.join(base, "mnesia"), RABBITMQ_LOG_BASE=os.path.join(base, "log"),
        RABBITMQ_CONFIG_FILE=conf[:-len(".conf")], RABBITMQ_ENABLED_PLUGINS_FILE=plugins,
        RABBITMQ_PID_FILE=os.path.join(base, "rabbit.pid"), ERL_EPMD_ADDRESS="127.0.0.1",
        ERL_EPMD_PORT=str(EPMD_PORT),
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
    )


def start_rabbitmq(layout, processes):
    env = _rabbit_env(layout)
    # Our own epmd on loopback, in our process group: otherwise erl starts a daemon that outlives the box.
    processes.start("epmd", ["epmd", "-address", "127.0.0.1", "-port", str(EPMD_PORT)], env=env)
    wait_for("epmd", lambda: port_open("127.0.0.1", EPMD_PORT), 30, processes)
    processes.start("rabbitmq", ["/usr/lib/rabbitmq/bin/rabbitmq-server"], env=env)
    wait_for("RabbitMQ", lambda: port_open("127.0.0.1", RABBIT_PORT), 180, processes)


def stop_epmd_leftovers():
    """An epmd a RabbitMQ tool may have started detached in this namespace."""
    if port_open("127.0.0.1", EPMD_PORT):
        subprocess.run(["epmd", "-kill"], env=dict(os.environ, ERL_EPMD_ADDRESS="127.0.0.1"),
                       capture_output=True, check=False)


__all__ = ["BoxError", "ensure_dummy_interface", "start_mariadb", "start_rabbitmq", "stop_epmd_leftovers"]
