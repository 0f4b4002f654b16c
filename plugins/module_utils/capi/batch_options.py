# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Checks of the workload_cluster module's own options, before anything is read or written.

``argument_spec`` only knows types; ``RULES`` adds what a value must satisfy for every option
that is a duration, count or path, and names the role variable the role fills it from, so an
error names what the operator wrote. A test asserts that every int and path option of the module
has a rule here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from ansible_collections.scs.kaas.plugins.module_utils.capi import values


def _positive(value):
    if not values.is_int(value) or value < 1:
        raise values.Invalid("is not a positive integer", "use an integer >= 1")
    return value


def _directory(value):
    """A directory we can write into: an existing writable directory, or one we can create."""
    if not isinstance(value, str) or not value.strip():
        raise values.Invalid("is not a path", "an absolute directory path, or leave it empty to write none")
    path = os.path.abspath(value)
    if os.path.exists(path) and not os.path.isdir(path):
        raise values.Invalid("exists and is not a directory", "name a directory (it is created when missing)")
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise values.Invalid("lies below %s, which is not a directory" % parent, "name a directory path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise values.Invalid("is not writable (%s)" % parent, "name a directory this user can write")
    if os.path.isdir(path):
        info = os.stat(path)
        if info.st_mode & stat.S_IWOTH:
            raise values.Invalid("is writable by every user (mode %04o)" % (info.st_mode & 0o7777),
                                 "name a private directory (kubeconfigs hold credentials); it is created with mode 0700")
        if info.st_uid != os.geteuid():
            raise values.Invalid("belongs to another user (uid %d)" % info.st_uid,
                                 "name a directory of this user (uid %d)" % os.geteuid())
    return value


def _chart_repository(value):
    """A Helm repository URL CAAPH can fetch from: http(s) or oci, with a host."""
    scheme, _sep, rest = value.partition("://") if isinstance(value, str) else ("", "", "")
    if scheme not in ("http", "https", "oci") or not rest.split("/", 1)[0] or any(c.isspace() for c in value):
        raise values.Invalid("is not a chart repository URL",
                             "use http://host:port, https://host[/path] or oci://registry/path")
    return value


CHECKS = {"positive": _positive, "directory": _directory, "chart_repository": _chart_repository}

# module option -> (check, role variable)
RULES = {
    "wait_timeout": ("positive", "workload_cluster_wait_timeout"),
    "parallel": ("positive", "workload_cluster_parallel"),
    "workload_kubeconfig_dir": ("directory", "workload_cluster_kubeconfig_dir"),
    "addons_repository_url": ("chart_repository", "workload_cluster_addons_repository_url"),
}


def check(params, rules=None):
    """Error messages for module parameters that break their rule (unset options are fine)."""
    errors = []
    for option, (name, role_var) in sorted((rules or RULES).items()):
        value = params.get(option)
        if value is None:
            continue
        try:
            CHECKS[name](value)
        except values.Invalid as exc:
            errors.append("%s: %r %s; %s (role variable %s)" % (option, value, exc.problem, exc.valid, role_var))
    return errors
