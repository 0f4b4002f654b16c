# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""One polling helper for what cannot be watched (local processes, TCP listeners, /proc).

Waits on Kubernetes objects use watches (``kube/wait.py``); this is for everything else.
The interval starts small and grows, so fast conditions are seen quickly and slow ones do not
burn CPU on a loaded machine.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time


class PollTimeout(Exception):
    """``check`` did not succeed within the limit; ``last`` is its last return value."""

    def __init__(self, what, timeout, last=None):
        super(PollTimeout, self).__init__("timed out after %ss waiting for %s" % (round(timeout, 1), what))
        self.what = what
        self.timeout = timeout
        self.last = last


def poll_until(check, timeout, what="a condition", interval=0.05, max_interval=1.0, abort=None):
    """Call ``check`` until it returns a truthy value and return that value.

    ``abort`` (optional) is called between attempts and may raise to give up early (e.g. when the
    process being waited for died). Raises :class:`PollTimeout` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + max(0.0, timeout)
    delay = interval
    while True:
        value = check()
        if value:
            return value
        if abort is not None:
            abort()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PollTimeout(what, timeout, value)
        time.sleep(min(delay, remaining))
        delay = min(delay * 1.5, max_interval)
