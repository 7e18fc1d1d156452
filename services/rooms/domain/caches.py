"""Bounded in-process caches; replicas stay stateless apart from these."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class LruSet:
    """A set that forgets its least recently used members beyond `size`."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, None] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        if key in self._items:
            self._items.move_to_end(key)
            return True
        return False

    def add(self, key: Hashable) -> None:
        if self._size <= 0:
            return
        self._items[key] = None
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def discard(self, key: Hashable) -> None:
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)
