#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: chart_repository
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Package the add-on catalog's Helm charts and serve them as a Helm chart repository
description:
  - Packages the Helm chart of every add-on of the collection's catalog (or of O(addons)) into
    C(<state_dir>/charts) and writes the repository's C(index.yaml) there; C(.tgz) files of other charts in that
    directory are removed, so the index describes exactly the files present.
  - The charts come from the source trees of the pinned Go modules the catalog names, taken from the Go module
    cache (downloaded with C(go mod download) when missing and O(download=true)); each module must have the h1
    hash the collection records (Go checksum database) before its chart is packaged. The packages depend only on
    the chart files, so an unchanged chart is not rewritten.
  - Serves C(<state_dir>/charts) over plain HTTP on O(address) with Python's C(http.server), started detached
    with the module's Python interpreter; its pid record and its log (one access line per request, RV(access_log))
    are in O(state_dir).
  - The default address is loopback, which only this machine reaches. A management cluster whose Cluster API
    add-on provider (CAAPH) runs in pods fetches the charts from those pods, so it needs an address they reach
    (an address of this machine on their network, or V(0.0.0.0:8879) for every address).
  - A second run with unchanged charts and the server running with the same O(address) changes nothing; a server
    running from O(state_dir) with another address is refused (stop it first), before anything is written.
  - With O(state=stopped) it stops exactly the process whose pid record it wrote. The charts stay in
    O(state_dir).
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
attributes:
  check_mode:
    details:
      - Reports whether a chart would be packaged or removed or the server started, and in RV(charts) the
        charts; writes, downloads and starts nothing. A chart whose Go module is not in the module cache yet
        counts as a change (its RV(charts[].sha256) is null).
options:
  state:
    description: V(started) packages the charts and starts the server unless it runs, V(stopped) stops it.
    type: str
    choices: [started, stopped]
    default: started
  state_dir:
    description:
      - Directory of the server's pid record and log (created 0700); the charts are in its subdirectory
        C(charts) (created 0755, the charts are public).
    type: path
    required: true
  address:
    description:
      - Listen address C(host:port) with a literal IP address, an IPv6 address in brackets (V([::1]:8879)). No
        host name, no scheme, no path.
      - The default is loopback; give an address the pods of the management cluster reach when its CAAPH runs
        in pods (e.g. V(0.0.0.0:8879)).
    type: str
    default: 127.0.0.1:8879
  addons:
    description:
      - The add-ons whose charts are packaged, by their catalog names (for example V(cilium), V(cert_manager),
        V(metrics_server)). Unset packages every add-on of the catalog. Charts of other add-ons are removed from
        the repository.
    type: list
    elements: str
  download:
    description:
      - Download chart source modules missing from the Go module cache with C(go mod download) (needs a Go
        toolchain and a Go module proxy). With V(false) a missing module fails, naming it.
    type: bool
    default: true
  start_timeout:
    description: Seconds to wait for the server to answer C(/index.yaml) (at least 1).
    type: int
    default: 30
notes:
  - The server has no authentication and no TLS; everything in C(<state_dir>/charts) is readable by whoever
    reaches O(address).
  - Every run hashes the whole source tree of each chart source module again (the check of its h1 hash).
requirements:
  - PyYAML
  - A Go toolchain on E(PATH) to download missing modules (not needed when they are in the module cache).
"""

EXAMPLES = r"""
- name: The add-on charts, for CAAPH on this machine
  scs.kaas.chart_repository:
    state_dir: /var/lib/scs-kaas/charts
  register: charts

- name: Only the CNI and metrics-server, reachable from pods of a management cluster
  scs.kaas.chart_repository:
    state_dir: /var/lib/scs-kaas/charts
    address: 0.0.0.0:8879
    addons: [cilium, metrics_server]
    download: false

- name: Stop it
  scs.kaas.chart_repository:
    state: stopped
    state_dir: /var/lib/scs-kaas/charts
"""

RETURN = r"""
running:
  description: Whether the server runs after the module (in check mode, whether it runs now).
  returned: always
  type: bool
url:
  description:
    - Where a client on this machine reaches the repository, C(http://host:port) - a wildcard listen host becomes
      loopback. The C(repoURL) of a HelmChartProxy whose CAAPH runs here.
  returned: always
  type: str
  sample: http://127.0.0.1:8879
index:
  description: Path of the repository's C(index.yaml).
  returned: always
  type: str
  sample: /var/lib/scs-kaas/charts/charts/index.yaml
access_log:
  description: The server's log with one access line per request.
  returned: always
  type: str
  sample: /var/lib/scs-kaas/charts/chart-repository.log
charts:
  description: The charts in the repository, in install order.
  returned: when O(state=started)
  type: list
  elements: dict
  contains:
    addon:
      description: The add-on's catalog name.
      type: str
      sample: metrics_server
    name:
      description: The chart's name (the C(chartName) of a HelmChartProxy).
      type: str
      sample: metrics-server
    version:
      description: The chart version.
      type: str
      sample: 3.12.2
    file:
      description: Path of the chart package.
      type: str
      sample: /var/lib/scs-kaas/charts/charts/metrics-server-3.12.2.tgz
    sha256:
      description: sha256 of the package (its digest in the index); null in check mode when its module is not
        downloaded yet.
      type: str
    changed:
      description: Whether the package was (or in check mode would be) written.
      type: bool
"""

from ansible_collections.scs.kaas.plugins.module_utils.addons import charts as chart_packages
from ansible_collections.scs.kaas.plugins.module_utils.addons.repository import (
    DEFAULT_ADDRESS, ChartRepositoryError, ChartRepositoryServer, build, check_names)
from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule


def server_result(server, changed, running):
    """The module's result for ``server`` (no process is asked here)."""
    return {"changed": changed, "running": running, "url": server.url, "access_log": server.access_log,
            "index": "%s/%s" % (server.charts_dir, chart_packages.INDEX_FILE)}


class ChartRepositoryModule(KaasModule):
    argument_spec = dict(
        state=dict(type="str", choices=["started", "stopped"], default="started"),
        state_dir=dict(type="path", required=True),
        address=dict(type="str", default=DEFAULT_ADDRESS),
        addons=dict(type="list", elements="str"),
        download=dict(type="bool", default=True),
        start_timeout=dict(type="int", default=30),
    )
    kubeconfig_options = False
    required_libraries = ((chart_packages.HAS_YAML, "PyYAML", None),)

    def run(self):
        p = self.params
        check_mode = self.module.check_mode
        if p["start_timeout"] < 1:
            raise ChartRepositoryError("start_timeout: %r is too short; use a number of seconds of at least 1"
                                       % p["start_timeout"])
        # The constructor checks the address: a bad one fails here, before anything is written.
        server = ChartRepositoryServer(p["state_dir"], p["address"], self.runner, log=self.module.debug)
        running = bool(server.running())
        if p["state"] == "stopped":
            changed = running if check_mode else server.stop()
            return server_result(server, changed, running=running and check_mode)
        check_names(p["addons"])
        server.check_config()
        if not check_mode:
            server.prepare()
        built = build(server.charts_dir, self.runner, names=p["addons"], download=p["download"], check=check_mode)
        started = (not running) if check_mode else server.start(timeout=p["start_timeout"])["changed"]
        result = server_result(server, built["changed"] or started, running=running or not check_mode)
        result.update(charts=built["charts"], index=built["index"])
        return result


def main():
    ChartRepositoryModule()()


if __name__ == "__main__":
    main()
