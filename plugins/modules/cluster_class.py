#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cluster_class
author: scs.kaas contributors (@SovereignCloudStack)
version_added: 1.0.0
short_description: Install or remove a versioned cluster class shipped with scs.kaas
description:
  - Installs one ClusterClass (C(cluster.x-k8s.io/v1beta2)) of this collection with all its
    templates in a namespace of the management cluster, or removes it.
  - Classes are named C(scs-<infrastructure>-<major>-<minor>-v<revision>), for example
    C(scs-openstack-1-35-v1); their templates carry the class name as prefix. Every object has the
    labels C(kaas.scs.community/infrastructure), C(kaas.scs.community/kubernetes-minor),
    C(kaas.scs.community/class-revision) and the annotation C(kaas.scs.community/content-hash).
  - Shipped classes are immutable. If an object of the class exists with a different content hash,
    the module fails before writing anything; a changed class is a new revision beside the old one.
  - Objects are written with server-side apply (field manager C(scs.kaas)). When every object is
    present and equal, no mutating request is sent at all.
  - With O(state=absent) the module refuses while any Cluster uses the class and names those
    Clusters.
  - The namespace is created when it does not exist.
extends_documentation_fragment:
  - scs.kaas.attributes
  - scs.kaas.attributes.diff
  - scs.kaas.kubeconfig
options:
  infrastructure:
    description:
      - Infrastructure of the class.
      - V(inmemory) runs machines inside the Cluster API development provider (tests and demos),
        V(docker) as containers of a Docker engine (development provider), V(openstack) on OpenStack
        through Cluster API Provider OpenStack.
    type: str
    required: true
    choices: [inmemory, docker, openstack]
  kubernetes_minor:
    description:
      - Kubernetes minor of the class, for example V(1.35) (V(v1.35) and V(v1.35.4) are accepted).
      - One class per minor of the pinned workload Kubernetes versions is shipped.
      - Exactly one of O(kubernetes_minor) and O(kubernetes_minors) is required.
    type: str
  kubernetes_minors:
    description:
      - Several Kubernetes minors, handled in one run (one class each). Every class is checked for
        conflicts (or use) before the first write.
    type: list
    elements: str
  revision:
    description:
      - Revision of the class; the newest shipped revision when omitted.
    type: int
  namespace:
    description:
      - Namespace of the ClusterClass and its templates.
    type: str
    default: default
  state:
    description:
      - V(present) installs the class, V(absent) removes it (refused while it is in use).
    type: str
    choices: [present, absent]
    default: present
requirements:
  - kubernetes (Python library)
seealso:
  - module: scs.kaas.workload_cluster
"""

EXAMPLES = r"""
- name: Install the in-memory class for Kubernetes 1.35
  scs.kaas.cluster_class:
    kubeconfig: /etc/scs-kaas/management.kubeconfig
    infrastructure: inmemory
    kubernetes_minor: "1.35"

- name: Install revision 1 of the OpenStack class for Kubernetes 1.34 in namespace capi-classes
  scs.kaas.cluster_class:
    infrastructure: openstack
    kubernetes_minor: "1.34"
    revision: 1
    namespace: capi-classes

- name: Install the OpenStack classes of every shipped minor in one run
  scs.kaas.cluster_class:
    infrastructure: openstack
    kubernetes_minors: ["1.34", "1.35", "1.36"]

- name: Remove a class nobody uses any more
  scs.kaas.cluster_class:
    infrastructure: openstack
    kubernetes_minor: "1.34"
    revision: 1
    state: absent
"""

RETURN = r"""
class_name:
  description: Name of the ClusterClass.
  returned: with O(kubernetes_minor)
  type: str
  sample: scs-inmemory-1-35-v1
revision:
  description: Revision of the class.
  returned: with O(kubernetes_minor)
  type: int
  sample: 1
content_hash:
  description: sha256 content hash of the shipped class (annotation C(kaas.scs.community/content-hash)).
  returned: with O(kubernetes_minor)
  type: str
  sample: 5b6335a7d701cd87f762a89aa244d8c9443daeed2ce1e9027c5fcf0bcf039454
classes:
  description: One entry per class with C(class_name), C(revision), C(content_hash), C(changed) and C(objects).
  returned: always
  type: list
  elements: dict
  sample:
    - class_name: scs-inmemory-1-35-v1
      revision: 1
      content_hash: 5b6335a7d701cd87f762a89aa244d8c9443daeed2ce1e9027c5fcf0bcf039454
      changed: false
      objects: []
objects:
  description: Objects of the class(es) and what happened to each.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the object.
      type: str
      sample: KubeadmControlPlaneTemplate
    name:
      description: Name of the object.
      type: str
      sample: scs-inmemory-1-35-v1-control-plane
    action:
      description: One of C(created), C(updated), C(unchanged), C(deleted), C(absent).
      type: str
      sample: unchanged
"""

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.scs.kaas.plugins.module_utils.capi import class_apply
from ansible_collections.scs.kaas.plugins.module_utils.capi import classes
from ansible_collections.scs.kaas.plugins.module_utils.kube.module import KaasModule


class ClusterClassModule(KaasModule):
    argument_spec = dict(
        infrastructure=dict(type="str", required=True, choices=list(classes.INFRASTRUCTURES)),
        kubernetes_minor=dict(type="str"),
        kubernetes_minors=dict(type="list", elements="str"),
        revision=dict(type="int"),
        namespace=dict(type="str", default="default"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module_kwargs = dict(
        mutually_exclusive=[("kubernetes_minor", "kubernetes_minors")],
        required_one_of=[("kubernetes_minor", "kubernetes_minors")],
    )

    def _bundles(self):
        params = self.params
        single = params["kubernetes_minor"] is not None
        minors = [params["kubernetes_minor"]] if single else params["kubernetes_minors"]
        if not minors:
            self.module.fail_json(msg="kubernetes_minors: [] is empty; give at least one of %s"
                                  % ", ".join(classes.shipped_minors()))
        bundles = []
        for index, minor in enumerate(minors):
            option = "kubernetes_minor" if single else "kubernetes_minors[%d]" % index
            try:
                bundles.append(classes.class_bundle(params["infrastructure"], classes.normalize_minor(minor, option),
                                                    params["revision"], namespace=params["namespace"]))
            except classes.ClassError as exc:
                self.module.fail_json(msg=to_native(exc).replace("kubernetes_minor:", option + ":", 1))
        return bundles

    def run(self):
        bundles = self._bundles()
        state = self.params["state"]
        summaries = []
        for bundle in bundles:
            meta = bundle[0]["metadata"]
            summaries.append(dict(class_name=meta["name"], revision=classes.parse_class_name(meta["name"])[2],
                                  content_hash=meta["annotations"][classes.ANNOTATION_HASH], changed=False,
                                  objects=[]))
        out = dict(changed=False, classes=summaries, objects=[])
        if self.params["kubernetes_minor"] is not None:
            out.update({k: summaries[0][k] for k in ("class_name", "revision", "content_hash")})
        # Check every class before the first write.
        errors = []
        for bundle in bundles:
            errors += class_apply.preflight(self.client, bundle, state)
        if errors:
            self.module.fail_json(msg="; ".join(errors), **out)
        action = class_apply.ensure_present if state == "present" else class_apply.ensure_absent
        diff = {"before": {}, "after": {}}
        for bundle, summary in zip(bundles, summaries):
            try:
                result = action(self.client, bundle, check_mode=self.module.check_mode, diff=self.module._diff)
            except class_apply.ClassConflict as exc:  # changed between preflight and now
                self.module.fail_json(msg=to_native(exc), **out)
            summary.update(changed=result["changed"], objects=result["objects"])
            out["changed"] = out["changed"] or result["changed"]
            out["objects"] += [o for o in result["objects"] if o["kind"] != "Namespace" or o not in out["objects"]]
            for side in ("before", "after"):
                diff[side].update(result["diff"][side])
        if self.module._diff:
            out["diff"] = diff
        self.module.exit_json(**out)


def main():
    ClusterClassModule()()


if __name__ == "__main__":
    main()
