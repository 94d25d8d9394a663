"""One copy of the values many VMs repeat (subscription, resource group, region, NSG and subnet ids, tag sets).

An enterprise inventory holds tens of thousands of VMs that differ in name and address but share a handful of
subscriptions, regions, resource groups, NSGs and tag sets. Built one VM at a time from JSON, each would carry its
own copy of every such string and its own tags dict; ``SharedValues`` hands back the first equal value it saw, so
VMs built with the same ``SharedValues`` share them.
"""

from __future__ import annotations

from collections.abc import Mapping


class SharedValues:
    """Equal strings, tuples of strings and tag sets given to it come back as one object (the first one seen)."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._tuples: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._tags: dict[tuple[tuple[str, str], ...], Mapping[str, str]] = {}

    def text(self, value: str) -> str:
        """The one copy of ``value``."""
        return self._texts.setdefault(value, value)

    def texts(self, values: tuple[str, ...]) -> tuple[str, ...]:
        """The one copy of this tuple of strings (VMs of one resource group share their NSG and subnet ids)."""
        return self._tuples.setdefault(values, values)

    def tags(self, tags: Mapping[str, str]) -> Mapping[str, str]:
        """The one copy of this tag set (same keys and values in the same order); callers must not change it."""
        key = tuple((self.text(name), self.text(value)) for name, value in tags.items())
        found = self._tags.get(key)
        if found is None:
            found = self._tags[key] = dict(key)
        return found
