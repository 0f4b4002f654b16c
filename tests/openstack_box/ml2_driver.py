# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""A stateless ML2 mechanism driver for the test box: no agent exists, so it binds every normal port
on any host (as ``ovs``) and marks it ACTIVE, which is what Nova needs to finish a server. Neutron's
API and database stay the real ones. Installed into the services venv under an entry point
(``neutron.ml2.mechanism_drivers: kaas_box``); never imported by the tests' own Python."""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class KaasBoxMechanismDriver(api.MechanismDriver):
    def initialize(self):
        pass

    def bind_port(self, context):
        if context.current.get(portbindings.VNIC_TYPE, portbindings.VNIC_NORMAL) != portbindings.VNIC_NORMAL:
            return
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                                {portbindings.CAP_PORT_FILTER: True}, status=constants.PORT_STATUS_ACTIVE)
            return
