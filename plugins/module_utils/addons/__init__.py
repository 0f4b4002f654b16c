# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""Cluster add-ons installed by the Cluster API Helm add-on provider (CAAPH)."""
