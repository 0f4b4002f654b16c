# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""A test harness running the official OpenStack services (see docs/testing-openstack.md)."""

from .box import ALL_SERVICES, BoxError, OpenStackBox  # noqa: F401
from .config import ENDPOINT_ADDRESS  # noqa: F401
