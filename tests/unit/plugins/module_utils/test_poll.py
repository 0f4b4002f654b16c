# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The shared polling helper."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import pytest

from ansible_collections.scs.kaas.plugins.module_utils.poll import PollTimeout, poll_until


def test_returns_the_first_truthy_value():
    calls = []

    def check():
        calls.append(1)
        return len(calls) >= 3 and "ready"
    assert poll_until(check, 5, interval=0.001) == "ready"
    assert len(calls) == 3


def test_times_out_with_the_last_value():
    start = time.monotonic()
    with pytest.raises(PollTimeout) as err:
        poll_until(lambda: [], 0.2, "nothing", interval=0.01)
    assert 0.2 <= time.monotonic() - start < 2
    assert err.value.last == [] and "waiting for nothing" in str(err.value)


def test_abort_ends_the_wait_early():
    def abort():
        raise RuntimeError("the process died")
    with pytest.raises(RuntimeError, match="the process died"):
        poll_until(lambda: False, 30, abort=abort)
