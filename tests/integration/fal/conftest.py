from tests.integration.fal.fixtures import fal_gateway, fal_sim

__all__ = ["fal_gateway", "fal_sim"]
