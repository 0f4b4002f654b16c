#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: embedded_cluster
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Start or stop the embedded management cluster (local processes on 127.0.0.1)
description:
  - Runs a Cluster API management cluster as plain local processes, all listening on 127.0.0.1 only -
    etcd, kube-apiserver, kube-controller-manager (garbage collector, namespace and service-account
    controllers) and the Cluster API managers core, kubeadm bootstrap, kubeadm control plane and the
    development provider CAPD with its in-memory backend; with O(optional_providers=[openstack]) also
    the Cluster API provider OpenStack (CAPO) and the OpenStack Resource Controller (ORC).
  - With O(state=started) it generates a PKI (CA, serving and admin client certificates,
    service-account keys, webhook CA and serving certificate) and an admin kubeconfig (mode 0600) in
    O(state_dir), checks that every port it needs is free (naming the process that holds a port
    otherwise), starts what is not running, installs the CRDs of Cluster API, CAPD and CAPO with the
    provider and contract labels and conversion webhooks by URL, the providers' admission webhooks
    by URL, the clusterctl provider inventory, and waits (with limits) until the API server is ready,
    the CRDs are established and every manager is healthy with its webhook serving.
  - A second run with everything running and healthy changes nothing and sends no mutating request.
  - With O(state=stopped) it stops exactly the processes whose pid files it wrote (checking that each
    pid still belongs to the recorded binary), SIGTERM first and SIGKILL after a limit.
  - The binaries and module directories come from M(scs.kaas.embedded_build).
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
options:
  state:
    description: V(started) starts what is missing, V(stopped) stops everything started before.
    type: str
    choices: [started, stopped]
    default: started
  state_dir:
    description:
      - Directory for the PKI, kubeconfig, logs, pid files, audit log and etcd data (created 0700).
    type: path
    required: true
  binaries:
    description:
      - Component name to executable, as returned by M(scs.kaas.embedded_build) (its C(binaries) result).
      - Needs V(etcd), V(kube-apiserver), V(kube-controller-manager), V(capi-manager),
        V(kubeadm-bootstrap-manager), V(kubeadm-control-plane-manager) and V(capd-manager).
      - Required with O(state=started); O(state=stopped) reads what the last start recorded.
    type: dict
  module_dirs:
    description:
      - Go module cache directories of V(cluster-api), V(cluster-api-test) and
        V(cluster-api-provider-openstack), as returned by M(scs.kaas.embedded_build); their
        C(config/) trees provide CRDs and webhook manifests.
      - Required with O(state=started).
    type: dict
  ports:
    description:
      - Ports to use instead of the defaults, all on 127.0.0.1. Keys (defaults) -
        V(etcd_client) (16379), V(etcd_peer) (16380), V(kube_apiserver) (16443),
        V(kube_controller_manager) (16257), and for each of V(capi), V(bootstrap), V(controlplane),
        V(capd) the keys V(<name>_webhook) (16501-16504), V(<name>_health) (16511-16514) and
        V(<name>_diagnostics) (16521-16524); with O(optional_providers=[openstack]) also
        V(capo_webhook) (16505), V(capo_health) (16515), V(capo_diagnostics) (16525) and
        V(orc_health) (16516); with O(optional_providers=[addons]) also V(caaph_webhook) (16507),
        V(caaph_health) (16517) and V(caaph_diagnostics) (16527).
      - Port 19000 and 20000-20999 are reserved by the in-memory backend of CAPD (fixed upstream).
    type: dict
    default: {}
  docker_host:
    description:
      - The Docker engine the development provider (CAPD) creates the machines of C(docker)-class
        clusters on, as a C(DOCKER_HOST) value (V(unix:///path/docker.sock) or V(tcp://host:port)),
        for example RV(scs.kaas.docker_engine#module:docker_host). CAPD's in-memory backend runs
        either way.
      - Omitted - the engine of the last start (recorded in O(state_dir)); V("") - none.
      - A different value restarts CAPD (only CAPD) on the next start.
      - The machines' load balancer must be reachable from the management cluster, so the engine runs
        in the management cluster's network namespace (see the collection's real-nodes guide).
    type: str
  optional_providers:
    description:
      - Providers that are off by default and run as well. Build them with the same list
        (M(scs.kaas.embedded_build) O(scs.kaas.embedded_build#module:optional_providers)).
      - V(openstack) - CAPO (its CRDs with conversion webhooks, its admission webhooks, the
        clusterctl inventory entry V(infrastructure-openstack); ports V(capo_webhook) 16505,
        V(capo_health) 16515, V(capo_diagnostics) 16525) and ORC (its CRDs; port V(orc_health)
        16516). Without it CAPO's CRDs are still installed, without conversion webhooks.
      - V(addons) - CAAPH (its CRDs, its admission webhooks, the clusterctl inventory entry V(addon-helm); ports
        V(caaph_webhook) 16507, V(caaph_health) 16517, V(caaph_diagnostics) 16527). Helm's cache of the charts
        it fetches is in O(state_dir)C(/helm). It installs the charts of the HelmChartProxies from a chart
        repository (M(scs.kaas.chart_repository); the management_cluster role starts one with it).
      - A start without a provider that an earlier start ran stops its processes and deletes its
        webhook configurations and inventory entry (its CRDs and objects stay).
      - With O(state=stopped) every process the last start recorded is stopped, whatever this says.
    type: list
    elements: str
    choices: [addons, openstack]
    default: []
  timeout_scale:
    description: Factor applied to every wait limit (API server 150 s, CRDs 90 s, managers 180 s ...).
    type: float
    default: 1.0
attributes:
  check_mode:
    details: Reports which components would be started or stopped; writes nothing.
notes:
  - Only one embedded cluster with CAPD can run per network namespace, because the in-memory
    backend binds port 19000 and ports from 20000 up.
  - The kube-apiserver runs with C(--authorization-mode=RBAC); the admin certificate is in group
    C(system:masters). The audit log RV(audit_log) records every mutating request, read and watch at
    Metadata level (lease reads and health probes left out).
requirements:
  - cryptography
  - PyYAML
  - kubernetes
seealso:
  - module: scs.kaas.embedded_cluster_info
  - module: scs.kaas.embedded_build
"""

EXAMPLES = r"""
- name: Build (or find cached) binaries
  scs.kaas.embedded_build:
    source_dir: "{{ role_path }}/files/embedded"
  register: build

- name: Start the embedded management cluster
  scs.kaas.embedded_cluster:
    state_dir: ~/.local/state/scs-kaas/embedded
    binaries: "{{ build.binaries }}"
    module_dirs: "{{ build.module_dirs }}"
  register: mgmt

- name: Use it
  ansible.builtin.debug:
    msg: "export KUBECONFIG={{ mgmt.kubeconfig }}"

- name: Stop it again
  scs.kaas.embedded_cluster:
    state: stopped
    state_dir: ~/.local/state/scs-kaas/embedded
"""

RETURN = r"""
state_dir:
  description: Absolute state directory.
  returned: always
  type: str
kubeconfig:
  description: Path of the admin kubeconfig (mode 0600).
  returned: always
  type: str
  sample: /home/user/.local/state/scs-kaas/embedded/kubeconfig
audit_log:
  description: Path of the kube-apiserver audit log (JSON lines, mutating requests).
  returned: always
  type: str
api_server:
  description: URL of the API server.
  returned: always
  type: str
  sample: https://127.0.0.1:16443
components:
  description: Per component - V(running), V(healthy), V(pid), V(ports) (purpose to port) and V(log) path.
  returned: always
  type: dict
started:
  description: Components started by this run.
  returned: state=started
  type: list
  elements: str
restarted:
  description: Components stopped and started again because their binary, flags or certificates changed.
  returned: state=started
  type: list
  elements: str
applied:
  description: Objects (kind/name) this run created or updated.
  returned: state=started
  type: list
  elements: str
pki_written:
  description: Certificate and key files this run generated.
  returned: state=started
  type: list
  elements: str
timings:
  description: Seconds spent waiting for each step, and the total.
  returned: state=started
  type: dict
stopped:
  description: Components stopped by this run (with O(state=started) those no longer switched on).
  returned: always
  type: list
  elements: str
pruned:
  description: Objects (kind/namespace/name) deleted because no running provider wants them any more.
  returned: state=started
  type: list
  elements: str
optional_providers:
  description: The optional providers of this run (O(state=started)) or of the last start.
  returned: always
  type: list
  elements: str
docker_host:
  description: The engine CAPD creates machines on (this run's or the last start's), or null.
  returned: always
  type: str
"""

from ansible_collections.scs.kaas.plugins.module_utils.embedded import registry, runtime
from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule


class EmbeddedClusterModule(KaasModule):
    kubeconfig_options = False
    required_libraries = runtime.REQUIRED_LIBRARIES
    argument_spec = dict(
        state=dict(type="str", choices=["started", "stopped"], default="started"),
        state_dir=dict(type="path", required=True),
        binaries=dict(type="dict"),
        module_dirs=dict(type="dict"),
        ports=dict(type="dict", default={}),
        timeout_scale=dict(type="float", default=1.0),
        optional_providers=dict(type="list", elements="str", choices=sorted(registry.SWITCHES), default=[]),
        docker_host=dict(type="str"),
    )
    module_kwargs = dict(required_if=[("state", "started", ("binaries", "module_dirs"))])

    def run(self):
        cluster = runtime.from_params(self.params, self.module.debug, self.runner)
        if self.params["state"] == "started":
            return cluster.start(check_mode=self.module.check_mode)
        return cluster.stop(check_mode=self.module.check_mode)


def main():
    EmbeddedClusterModule()()


if __name__ == "__main__":
    main()
