# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Kubernetes version filters over module_utils/versions.py (docs: one YAML file per filter)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.scs.kaas.plugins.module_utils import pins
from ansible_collections.scs.kaas.plugins.module_utils import versions


def _wrap(func):
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except versions.VersionError as exc:
            raise AnsibleFilterError(str(exc))
    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def _str(value):
    # Templated strings may be str subclasses (tagged values); versions.py wants plain str.
    return str(value) if isinstance(value, str) else value


def k8s_version_normalize(value, exact=False, prefix=True, var_name="value"):
    """Canonical form: v1.34.2 or v1.34."""
    return versions.normalize(_str(value), var_name, exact=exact, prefix=prefix)


def k8s_version_compare(value, other):
    """-1, 0 or 1."""
    return versions.compare(_str(value), _str(other), ("value", "other"))


def k8s_version_minor(value, var_name="value"):
    """'1.34' for any accepted spelling."""
    return versions.minor_of(_str(value), var_name)


def k8s_version_next_minor(value, var_name="value"):
    """'v1.35' for v1.34.x."""
    return versions.next_minor(_str(value), var_name)


def k8s_version_steps(current, target, available=None, var_name="value"):
    """Versions to apply in order, one minor at a time."""
    if available is None:
        available = pins.WORKLOAD_KUBERNETES_VERSIONS
    return versions.minor_steps(_str(current), _str(target), [_str(v) for v in available], var_name)


def k8s_version_check_upgrade(desired, current=None, var_name="value", minor_range=None, exact=True):
    """'create', 'none', 'patch' or 'minor'; fails on a forbidden step."""
    if minor_range is None:
        minor_range = pins.CAPI_WORKLOAD_MINOR_RANGE
    return versions.check_upgrade(
        _str(current), _str(desired), var_name,
        minor_range=[_str(m) for m in minor_range], exact=exact,
    )


class FilterModule(object):
    """Kubernetes version filters."""

    def filters(self):
        return {
            "k8s_version_normalize": _wrap(k8s_version_normalize),
            "k8s_version_compare": _wrap(k8s_version_compare),
            "k8s_version_minor": _wrap(k8s_version_minor),
            "k8s_version_next_minor": _wrap(k8s_version_next_minor),
            "k8s_version_steps": _wrap(k8s_version_steps),
            "k8s_version_check_upgrade": _wrap(k8s_version_check_upgrade),
        }
