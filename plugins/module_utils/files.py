# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Atomic file writes and links: a reader sees the old or the new content, never a half file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile


def write_atomic(path, data, mode=0o600):
    """Write ``data`` (bytes or str) to ``path`` through a temporary file in the same directory.

    The temporary file gets ``mode`` before any byte is written and is removed on any error.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
