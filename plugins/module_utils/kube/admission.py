# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Name the component behind an admission webhook that failed to answer.

When a provider's manager is down, the API server answers every write to that provider's kinds
with ``Internal error occurred: failed calling webhook "<webhook>": ... connection refused``. The
webhook's name alone does not tell an operator which process to look at; its webhook configuration
does (the configuration's name and the Service or URL it calls).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.scs.kaas.plugins.module_utils.kube.client import KubeError

_FAILED_WEBHOOK = re.compile(r'failed calling webhook "(?P<name>[^"]+)"')
CONFIGURATION_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def failed_webhook(message):
    """The webhook's name in an API server error, or None."""
    match = _FAILED_WEBHOOK.search(message or "")
    return match.group("name") if match else None


def _endpoint(client_config):
    service = client_config.get("service")
    if service:
        return "Service %s/%s port %s" % (service.get("namespace"), service.get("name"), service.get("port", 443))
    return client_config.get("url") or "an endpoint the configuration does not name"


def webhook_owner(client, webhook):
    """'<kind> <name>, which calls <endpoint>' for the webhook, or None when no configuration has it."""
    for kind in CONFIGURATION_KINDS:
        resource = client.resource("admissionregistration.k8s.io/v1", kind)
        try:
            items = client.list(resource).get("items") or []
        except KubeError:
            return None
        for item in items:
            for entry in item.get("webhooks") or ():
                if entry.get("name") == webhook:
                    return "%s %s, which calls %s" % (kind, item["metadata"]["name"],
                                                      _endpoint(entry.get("clientConfig") or {}))
    return None


def explain_unavailable_webhook(client, exc):
    """An operator's message for a write refused because a webhook did not answer, or None."""
    webhook = failed_webhook(getattr(exc, "message", None))
    if not webhook:
        return None
    owner = webhook_owner(client, webhook)
    return ("admission webhook %s did not answer (%s): the component that serves it is down or unreachable; "
            "start it and run again. The server said: %s"
            % (webhook, owner or "no webhook configuration names it", exc.message))
