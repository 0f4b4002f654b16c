#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: clusterctl_move
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Back up, restore or pivot Cluster API objects with clusterctl move
description:
  - Runs C(clusterctl move) hermetically (no version check, no home configuration), in one of three modes.
  - V(to_directory) writes a backup of the Cluster API objects of O(namespace) (Clusters, ClusterClasses and
    everything hanging off them, including their Secrets) to O(directory), created with mode 0700. The source
    keeps its objects. The result lists the objects read back from the written files. When the source holds
    no Cluster and no ClusterClass in O(namespace), nothing is written (not even the directory).
  - V(from_directory) restores such a backup into the cluster of O(kubeconfig). Objects that exist there
    already are skipped (as clusterctl does); when all exist, nothing is run and C(changed) is false.
  - V(to_kubeconfig) moves the objects from the cluster of O(kubeconfig) to the cluster of O(to_kubeconfig)
    as a pivot does - created in the target, deleted from the source. When the source holds no Cluster and no
    ClusterClass in O(namespace), nothing is run and C(changed) is false.
  - Every option is checked before anything runs; an error names the option, its value and what is valid.
  - Kubeconfig paths and contents appear in no result and no log.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.no_diff
  - scs.kaas.kubeconfig
options:
  mode:
    description:
      - V(to_directory) backs up, V(from_directory) restores, V(to_kubeconfig) moves to another cluster.
      - In mode V(from_directory), O(kubeconfig) and O(context) name the cluster restored into.
    type: str
    required: true
    choices: [to_directory, from_directory, to_kubeconfig]
  to_kubeconfig:
    description: Kubeconfig of the target cluster; required for (and only valid with) O(mode=to_kubeconfig).
    type: path
  to_context:
    description: Context in O(to_kubeconfig) to use; its current context when omitted.
    type: str
  directory:
    description:
      - Backup directory. For O(mode=to_directory) it must be new or empty (mode 0700); it is created with
        mode 0700. For O(mode=from_directory) it holds the files a V(to_directory) run wrote.
    type: path
  namespace:
    description:
      - Namespace whose objects are moved or backed up; the namespace of the source context, else
        V(default), when omitted (as clusterctl does).
      - O(mode=from_directory) restores everything the backup holds (clusterctl reads no namespace there).
    type: str
  clusterctl:
    description: Path of the clusterctl binary (the version of the pinned Cluster API).
    type: path
    required: true
  config:
    description: clusterctl configuration file (C(clusterctl.yaml)); none when omitted.
    type: path
  dry_run:
    description:
      - For O(mode=to_kubeconfig), run C(clusterctl move --dry-run) and report what would move; nothing changes
        and C(changed) is false.
    type: bool
    default: false
  timeout:
    description: Limit in seconds for the clusterctl command (1 to 86400).
    type: int
    default: 900
attributes:
  check_mode:
    details:
      - V(to_kubeconfig) and V(to_directory) list what would move with C(clusterctl move --dry-run), which
        writes nothing; V(from_directory) lists the backup's objects missing in the target.
requirements:
  - kubernetes
seealso:
  - module: scs.kaas.capi_providers
  - name: clusterctl move
    description: The Cluster API book on moving Cluster API objects.
    link: https://cluster-api.sigs.k8s.io/clusterctl/commands/move
"""

EXAMPLES = r"""
- name: Back up the Cluster API objects of namespace tenant-a
  scs.kaas.clusterctl_move:
    mode: to_directory
    kubeconfig: ~/.kube/management.yaml
    namespace: tenant-a
    directory: /var/backups/scs-kaas/backup-20260101T000000Z
    clusterctl: /usr/local/bin/clusterctl
  register: backup

- name: Show what the backup holds
  ansible.builtin.debug:
    var: backup.counts

- name: Restore the backup into a new management cluster
  scs.kaas.clusterctl_move:
    mode: from_directory
    kubeconfig: ~/.kube/new-management.yaml
    directory: /var/backups/scs-kaas/backup-20260101T000000Z
    clusterctl: /usr/local/bin/clusterctl

- name: Pivot from the bootstrap cluster to the permanent one
  scs.kaas.clusterctl_move:
    mode: to_kubeconfig
    kubeconfig: ~/.kube/bootstrap.yaml
    to_kubeconfig: ~/.kube/management.yaml
    namespace: tenant-a
    clusterctl: /usr/local/bin/clusterctl
"""

RETURN = r"""
mode:
  description: The mode that ran.
  returned: always
  type: str
objects:
  description:
    - C(Kind/namespace/name) of each object moved, written or restored (in check mode or with O(dry_run), those
      that would be).
    - For V(to_directory) read from the written files; for V(to_kubeconfig) from what clusterctl reports it
      created; for V(from_directory) the backup's objects that were missing in the target.
  returned: always
  type: list
  elements: str
  sample: [Cluster/tenant-a/prod, ClusterClass/tenant-a/scs-openstack]
counts:
  description: Number of RV(objects) per kind.
  returned: always
  type: dict
  sample: {Cluster: 1, ClusterClass: 1, Machine: 3}
namespace:
  description: The namespace that was moved or backed up.
  returned: when O(mode) is V(to_directory) or V(to_kubeconfig)
  type: str
directory:
  description: The backup directory.
  returned: when O(mode) is V(to_directory) or V(from_directory)
  type: str
dry_run:
  description: Whether clusterctl ran with C(--dry-run) (O(dry_run) or check mode).
  returned: when O(mode=to_kubeconfig) and the source had something to move
  type: bool
"""

from ansible_collections.scs.kaas.plugins.module_utils.providers.move import ClusterctlMoveModule


def main():
    ClusterctlMoveModule()()


if __name__ == "__main__":
    main()
