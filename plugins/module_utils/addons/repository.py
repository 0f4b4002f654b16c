# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The add-on catalog's Helm charts as a Helm chart repository, served over plain HTTP.

CAAPH fetches a chart from a Helm repository (``index.yaml`` plus the ``.tgz`` files it names).
:func:`build` packages the chart of every catalog add-on from the source tree of its pinned Go
module, after checking the module's h1 hash, and writes the index; :class:`ChartRepositoryServer`
serves that directory with Python's ``http.server`` as a detached process (pid record and log in
the state directory, one access-log line per request).

Public API: ``build(directory, runner, names=None, download=True, check=False) -> dict`` (changed,
charts, index), ``check_names(names, entries=None) -> list``, ``listen_address(address) -> (host,
port)``, ``ChartRepositoryServer(state_dir, address, runner, python=sys.executable, log=None)``,
``DEFAULT_ADDRESS``, ``ChartRepositoryError``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os
import sys

from ansible_collections.scs.kaas.plugins.module_utils import artifacts
from ansible_collections.scs.kaas.plugins.module_utils.addons import catalog as catalog_module
from ansible_collections.scs.kaas.plugins.module_utils.addons import charts
from ansible_collections.scs.kaas.plugins.module_utils.embedded.process import Supervisor, listeners, tail
from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError
from ansible_collections.scs.kaas.plugins.module_utils.nodes import unix_http
from ansible_collections.scs.kaas.plugins.module_utils.nodes.oci_registry import (
    RegistryError, client_address, parse_address)
from ansible_collections.scs.kaas.plugins.module_utils.poll import PollTimeout, poll_until
from ansible_collections.scs.kaas.plugins.module_utils.providers import repository as go_modules

# Loopback: nothing outside this machine reaches the charts unless the operator says so.
DEFAULT_ADDRESS = "127.0.0.1:8879"
SERVER = "chart-repository"
CHARTS_DIR = "charts"


class ChartRepositoryError(KaasError):
    """The chart repository cannot be built, started or stopped."""


def check_names(names, entries=None):
    """The add-ons to package, in install order: all of ``entries`` (the catalog) when ``names`` is
    None; ChartRepositoryError naming the option ``addons`` for an unknown or missing name."""
    entries = catalog_module.CATALOG if entries is None else entries
    order = catalog_module.install_order(entries)
    if names is None:
        return order
    if not names:
        raise ChartRepositoryError("addons: the list is empty; name at least one add-on (%s) or leave the "
                                   "option out for all of them" % ", ".join(order))
    for name in names:
        if not isinstance(name, str) or name not in entries:
            raise ChartRepositoryError("addons: %r is not an add-on of the catalog; valid names: %s"
                                       % (name, ", ".join(order)))
    return [name for name in order if name in names]


def _module_dir(runner, download):
    def locate(module, version):
        return go_modules.module_dir(runner, module, version, download=download)
    return locate


def build(directory, runner, names=None, download=True, check=False, catalog=None, locate=None, verify=None):
    """Package the charts of ``names`` (default: every catalog add-on) into ``directory`` and write
    its ``index.yaml``; ``.tgz`` files of other charts there are removed, so the index describes
    exactly the files present. With ``check`` nothing is written or downloaded: a chart whose module
    is not in the Go module cache counts as a change (sha256 None).

    ``catalog`` (name -> catalog entry), ``locate(module, version) -> directory`` and
    ``verify(directory, module, version)`` default to ``catalog.CATALOG``, ``repository.module_dir``
    (downloading only when ``download`` and not ``check``) and ``artifacts.verify_go_module``.
    Returns changed, charts (addon, name, version, file, sha256, changed) and index (its path).
    """
    entries = catalog_module.CATALOG if catalog is None else catalog
    order = check_names(names, entries)
    locate = locate or _module_dir(runner, download and not check)
    verify = verify or artifacts.verify_go_module
    # Every module is located and verified before anything is written: a failure leaves the directory as it was.
    sources, result = [], []
    for name in order:
        source = entries[name]["source"]
        key = "%s@%s" % (source["module"], source["version"])
        try:
            module_dir = locate(source["module"], source["version"])
        except go_modules.RepositoryError as exc:
            if not check or not download:
                raise ChartRepositoryError("add-on %s: its chart source module is missing: %s" % (name, exc))
            # Check mode downloads nothing: the chart would be packaged after the download.
            module_dir = None
        else:
            try:
                verify(module_dir, source["module"], source["version"])
            except artifacts.ArtifactError as exc:
                raise ChartRepositoryError("add-on %s: the chart source module %s failed verification, so no chart "
                                           "is packaged: %s" % (name, key, exc.message))
        sources.append((name, key, source, module_dir))
    packages = []
    for name, key, source, module_dir in sources:
        chart = entries[name]["chart"]
        if module_dir is None:
            result.append({"addon": name, "name": chart, "version": source["chart_version"], "changed": True,
                           "file": os.path.join(directory, "%s-%s.tgz" % (chart, source["chart_version"])),
                           "sha256": None})
            continue
        chart_dir = os.path.join(module_dir, source["path"])
        try:
            package = charts.package_chart(chart_dir, directory, version=source["chart_version"],
                                           app_version=source["app_version"], check=check)
        except charts.ChartError as exc:
            raise ChartRepositoryError("add-on %s (%s): %s" % (name, key, exc.message))
        if package["name"] != chart:
            raise ChartRepositoryError("add-on %s: the chart in %s is named %s, the catalog says %s"
                                       % (name, chart_dir, package["name"], chart))
        packages.append(package)
        result.append({"addon": name, "name": package["name"], "version": package["version"],
                       "file": package["path"], "sha256": package["sha256"], "changed": package["changed"]})
    wanted = set(os.path.basename(chart["file"]) for chart in result)
    stale = sorted(entry for entry in (os.listdir(directory) if os.path.isdir(directory) else [])
                   if entry.endswith(".tgz") and entry not in wanted)
    if not check:
        for entry in stale:
            os.unlink(os.path.join(directory, entry))
    index_path = os.path.join(directory, charts.INDEX_FILE)
    unknown = len(packages) < len(result)
    index_changed = True if unknown else charts.write_index(packages, directory, check=check)["changed"]
    changed = index_changed or bool(stale) or any(chart["changed"] for chart in result)
    return {"changed": changed, "charts": result, "index": index_path}


def listen_address(address):
    """``(host, port)`` of a listen address: a literal IP address (IPv6 in brackets) and a port;
    ChartRepositoryError naming the option ``address``, the value and the expected form otherwise."""
    hint = ("use an IP address and a port, e.g. %s (loopback, the default), 0.0.0.0:8879 (every address) or "
            "[::1]:8879 (no host name, no scheme, no path)" % DEFAULT_ADDRESS)
    try:
        host, port = parse_address(address)
    except RegistryError:
        raise ChartRepositoryError("address: %r is not a listen address; %s" % (address, hint))
    bracketed = host.startswith("[")
    try:
        ip = ipaddress.ip_address(host[1:-1] if bracketed else host)
    except ValueError:
        ip = None
    if ip is None or bracketed != (ip.version == 6):
        raise ChartRepositoryError("address: %r does not name a literal IP address; %s" % (address, hint))
    return str(ip), port


class ChartRepositoryServer(object):
    """Serve ``<state_dir>/charts`` on ``address`` (``host:port``) with ``python -m http.server``."""

    def __init__(self, state_dir, address, runner, python=sys.executable, log=None):
        self.host, self.port = listen_address(address)
        self.address = address
        self.python = python
        self.state_dir = os.path.abspath(state_dir)
        self.charts_dir = os.path.join(self.state_dir, CHARTS_DIR)
        self.supervisor = Supervisor(self.state_dir, self.state_dir, self.state_dir, log=log, runner=runner)

    @property
    def access_log(self):
        """The server's log: http.server writes one line per request (``"GET /index.yaml HTTP/1.1" 200``)."""
        return self.supervisor.log_file(SERVER)

    @property
    def url(self):
        """Where a client on this machine reaches the repository (a wildcard host becomes loopback)."""
        return "http://%s" % client_address(self.address)

    @property
    def argv(self):
        return [self.python, "-m", "http.server", "--bind", self.host, "--directory", self.charts_dir,
                str(self.port)]

    def ping(self):
        """Whether ``/index.yaml`` answers 200 at :attr:`url`."""
        answer = unix_http.get(client_address(self.address), "/index.yaml")
        return bool(answer and answer[0] == 200)

    def running(self):
        """The server's pid record while it runs, else None."""
        return self.supervisor.running(SERVER)

    def _runs_with_another_config(self):
        record = self.running()
        # The interpreter may differ (another python, same server); what it serves and where may not.
        return bool(record) and record["argv_live"][1:] != self.argv[1:]

    def check_config(self):
        """ChartRepositoryError when a server runs from ``state_dir`` with another address: a start
        would be refused. Writes nothing."""
        if self._runs_with_another_config():
            live = self.running()["argv_live"]
            raise ChartRepositoryError("the chart repository in %s runs with another configuration (%s; address "
                                       "%s requested): stop it first" % (self.state_dir, " ".join(live[1:]),
                                                                         self.address))

    def prepare(self):
        """Create ``state_dir`` (0700: pid record and log) and the charts directory (0755: charts are public)."""
        for path, mode in ((self.state_dir, 0o700), (self.charts_dir, 0o755)):
            if not os.path.isdir(path):
                os.makedirs(path, mode)
                os.chmod(path, mode)

    def _serving(self, pid):
        # Our process holds the listening socket and answers: not another server on the same port.
        mine = any(pid == holder for entry in listeners([self.port]) for _comm, holder in entry["processes"])
        return mine and self.ping()

    def start(self, timeout=30):
        """Start the server unless it runs with this configuration; wait until ``/index.yaml`` answers."""
        self.check_config()
        if self.running():
            return {"changed": False}
        self.prepare()
        record = self.supervisor.start(SERVER, self.argv, {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                                           "PYTHONUNBUFFERED": "1"})

        def abort_if_dead():
            reason = self.supervisor.gone(SERVER)
            if reason:
                raise ChartRepositoryError("the chart repository server exited during start (%s)" % reason,
                                           tail(self.access_log, 40))
        try:
            poll_until(lambda: self._serving(record["pid"]), timeout,
                       "the chart repository to answer %s/index.yaml" % self.url, 0.05, 0.5, abort=abort_if_dead)
        except PollTimeout as exc:
            raise ChartRepositoryError(str(exc), tail(self.access_log, 40))
        return {"changed": True}

    def stop(self, timeout=30):
        """Stop the process of the pid record (only that one); True when it was running."""
        return self.supervisor.stop(SERVER, timeout)
