"""The web pages falbot serves itself: the region painter (`paint`)."""

from adapters.web.paint import PaintRoutes, RateLimit

__all__ = ["PaintRoutes", "RateLimit"]
