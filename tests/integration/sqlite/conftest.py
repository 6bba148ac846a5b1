"""`store`: every `Store` in turn, as in the contract suite (`tests/contract`)."""

from tests.contract.conftest import store

__all__ = ["store"]
