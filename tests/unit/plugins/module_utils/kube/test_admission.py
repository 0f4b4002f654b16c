# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Unit tests of naming the component behind a webhook that did not answer (pure parts)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.scs.kaas.plugins.module_utils.kube import admission

# The form of kube-apiserver's answer to a write while the Cluster API manager is stopped.
REFUSED = ('Internal error occurred: failed calling webhook "default.cluster.cluster.x-k8s.io": failed to call '
           'webhook: Post "https://127.0.0.1:16501/mutate-cluster-x-k8s-io-v1beta2-cluster?timeout=10s": dial tcp '
           '127.0.0.1:16501: connect: connection refused')


def test_the_webhook_is_read_from_the_error():
    assert admission.failed_webhook(REFUSED) == "default.cluster.cluster.x-k8s.io"
    assert admission.failed_webhook('admission webhook "x" denied the request: no') is None
    assert admission.failed_webhook(None) is None


def test_the_endpoint_is_the_service_or_the_url():
    assert admission._endpoint({"service": {"namespace": "capi-system", "name": "capi-webhook-service"}}) == (
        "Service capi-system/capi-webhook-service port 443")
    assert admission._endpoint({"url": "https://127.0.0.1:16501/mutate"}) == "https://127.0.0.1:16501/mutate"
