# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options of every module that talks to an OpenStack cloud; the same names and
    # meaning as openstack.cloud's ``openstack.cloud.openstack`` fragment, so module_defaults
    # written for openstack.cloud apply (group ``scs.kaas.openstack`` in meta/runtime.yml).
    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - Name of an entry in C(clouds.yaml) (searched in E(OS_CLIENT_CONFIG_FILE), the current
        directory, C(~/.config/openstack) and C(/etc/openstack)), or a dict that is such an entry.
      - When omitted, the E(OS_*) environment variables are used.
    type: raw
  auth:
    description:
      - Authentication parameters (C(auth_url), C(username), C(password), C(project_name),
        C(user_domain_name), C(application_credential_id), ...), merged over those of O(cloud).
    type: dict
  auth_type:
    description:
      - Keystone authentication plugin, e.g. C(password) or C(v3applicationcredential).
    type: str
  ca_cert:
    description:
      - Path of the CA bundle that signs the cloud's API certificates.
      - TLS is always verified; a cloud entry that sets C(verify=false) or C(insecure=true) is
        refused. A private CA is given here (or as C(cacert) in the cloud entry).
    type: path
    aliases: [cacert]
  interface:
    description: Endpoint interface of the service catalog to use.
    type: str
    choices: [admin, internal, public]
    default: public
    aliases: [endpoint_type]
  region_name:
    description: Region of the cloud.
    type: str
  api_timeout:
    description: Timeout of each API request, in seconds.
    type: int
requirements:
  - openstacksdk >= 1.0.0
"""

    # The workload cluster a module acts for in the cloud (its cluster uid comes from these two and
    # the management cluster): openstack_app_credential, openstack_server_groups, openstack_cluster_cleanup.
    CLUSTER = r"""
options:
  cluster_name:
    description: Name of the workload cluster.
    type: str
    required: true
  namespace:
    description: Namespace of the workload cluster (and of the Secrets the module writes or deletes).
    type: str
    default: default
"""
