"""fal.ai: the `FalGateway` on the official fal-client, and a fal simulator for offline use."""

from adapters.fal.errors import classify, fal_bills, render_detail
from adapters.fal.gateway import FalClientGateway
from adapters.fal.hosts import point_fal_client_at
from adapters.fal.sim.faults import Fault, HttpFault
from adapters.fal.simulator import FalSimulator, SimRequest

__all__ = [
    "FalClientGateway",
    "FalSimulator",
    "Fault",
    "HttpFault",
    "SimRequest",
    "classify",
    "fal_bills",
    "point_fal_client_at",
    "render_detail",
]
