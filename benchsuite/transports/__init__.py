"""Transports: how the host starts a worker next to the hardware and reads its JSON lines back.

A transport only builds the command that starts `python -m benchsuite.device.worker` where the device is
(this host, a chroot or emulator, a board over ssh or adb); the worker and the host's supervisor are
the same for every transport. Plugins are found through the `benchsuite.transports` entry points, so
a new kind of board is one module plus one entry point.
"""
from __future__ import annotations

from ..plugins import Registry
from .base import Transport

REGISTRY = Registry("benchsuite.transports", "transport")
LOCAL = {"kind": "local"}


def transport_kinds() -> list[str]:
    return REGISTRY.names()


def transport_class(kind: str) -> type[Transport]:
    return REGISTRY.load(kind)


def transport_for(table: dict | None) -> Transport:
    """The transport a device profile's validated [transport] table describes (local when absent)."""
    table = dict(table or LOCAL)
    return transport_class(table.pop("kind"))(**table)


def check_table(checker) -> dict:
    """Validate a profile's [transport] table through the named transport's own `check`."""
    kinds = transport_kinds()
    kind = checker.get("kind", str, check=lambda k: k in kinds, valid=", ".join(kinds))
    table = transport_class(kind).check(checker)
    checker.done()
    return {"kind": kind, **table}


__all__ = ["Transport", "check_table", "transport_class", "transport_for", "transport_kinds"]
