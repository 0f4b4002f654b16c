# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The error type a module turns into ``fail_json`` (see ``kube/module.py``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class KaasError(Exception):
    """A failure to report to the user; ``details`` holds diagnostics (log tails and the like)."""

    def __init__(self, message, details=None):
        super(KaasError, self).__init__(message)
        self.message = message
        self.details = details or ""

    def __str__(self):
        if self.details:
            return "%s\n%s" % (self.message, self.details)
        return self.message


class EmbeddedError(KaasError):
    """Failure of the embedded management cluster."""


class BuildError(KaasError):
    """Raised when a binary cannot be built or the edit step does not apply."""
