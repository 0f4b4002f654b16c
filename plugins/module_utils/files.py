# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Atomic file writes and links: a reader sees the old or the new content, never a half file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import tempfile

from ansible_collections.scs.kaas.plugins.module_utils.errors import KaasError


class UnsafeDestination(KaasError):
    """A file the collection would write where another user could read, replace or own it."""


def check_destination(path):
    """Refuse a destination in a world-writable directory, or a file owned by another user.

    Files the collection writes often hold credentials (kubeconfigs, keys): in a directory that
    everybody may write (such as /tmp), another user could put a link or a file of their own in
    its place; a file of another user is theirs and is never replaced.
    """
    directory = os.path.dirname(os.path.abspath(path))
    info = os.stat(directory)
    if info.st_mode & stat.S_IWOTH:
        raise UnsafeDestination("%s: its directory %s is writable by every user (mode %04o); write it to a "
                                "private directory instead" % (path, directory, info.st_mode & 0o7777))
    try:
        existing = os.lstat(path)
    except OSError:
        return
    if existing.st_uid != os.geteuid():
        raise UnsafeDestination("%s belongs to another user (uid %d, this is uid %d); it is not replaced"
                                % (path, existing.st_uid, os.geteuid()))


def write_atomic(path, data, mode=0o600):
    """Write ``data`` (bytes or str) to ``path`` through a temporary file in the same directory.

    The destination passes :func:`check_destination` first; the temporary file gets ``mode``
    before any byte is written, is synced before the rename and is removed on any error.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    check_destination(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path, document, mode=0o644):
    """Write ``document`` as indented JSON with sorted keys (the same document gives the same
    bytes) through :func:`write_atomic`, creating its directory."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_atomic(path, json.dumps(document, indent=1, sort_keys=True) + "\n", mode)


def write_if_changed(path, data, mode=0o600):
    """Write ``data`` atomically unless the file already holds it; True when it changed.

    An unchanged file with another mode only gets its mode fixed (not reported as a change).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                if (os.stat(path).st_mode & 0o777) != mode:
                    os.chmod(path, mode)
                return False
    except (IOError, OSError):
        pass
    write_atomic(path, data, mode)
    return True


def ensure_link(path, target):
    """Make ``path`` a symbolic link to ``target`` (atomically); return True when it changed."""
    if os.path.islink(path) and os.readlink(path) == target:
        return False
    tmp = "%s.tmp-%d" % (path, os.getpid())
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, path)
    return True
