"""State: the Store protocol and its backends, chosen by URI (see core.state.registry)."""

from core.state.base import Item, Store, get_one

__all__ = ["Item", "Store", "get_one"]
