# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""What the agents would do, for the test box where none runs: a stateless ML2 mechanism driver that
binds every normal port on any host (as ``ovs``) and marks it ACTIVE, which is what Nova needs to
finish a server; and the router plugin with the floating IP status an L3 agent reports. Neutron's
API and database stay the real ones. Installed into the services venv under an entry point
(``neutron.ml2.mechanism_drivers: kaas_box``); never imported by the tests' own Python."""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api
from neutron.services.l3_router import l3_router_plugin


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


class KaasBoxL3RouterPlugin(l3_router_plugin.L3RouterPlugin):
    """Neutron's router service plugin, with the floating IP status an L3 agent would report.

    No L3 agent runs here, so a floating IP would stay DOWN for ever. An agent reports ACTIVE once it
    has set up the address of an associated floating IP and DOWN once it removed it; this plugin
    records the same right after the API call. CAPO waits for ACTIVE after associating the API
    server's floating IP (and for DOWN after dissociating it)."""

    def create_floatingip(self, context, floatingip):
        return self._as_an_agent_reports(context, super().create_floatingip(context, floatingip))

    def update_floatingip(self, context, id, floatingip):  # pylint: disable=redefined-builtin
        return self._as_an_agent_reports(context, super().update_floatingip(context, id, floatingip))

    def _as_an_agent_reports(self, context, fip):
        status = constants.FLOATINGIP_STATUS_ACTIVE if fip.get("port_id") else constants.FLOATINGIP_STATUS_DOWN
        if fip.get("status") != status:
            self.update_floatingip_status(context, fip["id"], status)
            fip["status"] = status
        return fip
