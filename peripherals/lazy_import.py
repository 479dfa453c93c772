"""Classes named by "module:Class" strings, imported only when first asked for.

Registries use names, not classes, so reading a device map or listing simulators imports
no driver (and so no OpenCV or libusb) until one is actually built.
"""

from __future__ import annotations

import importlib


def class_from_table(table: dict[str, str], key: str, unknown: str) -> type:
    """`table[key]` ("module:Class") imported; ValueError "<unknown> 'key'; known: ..." otherwise."""
    try:
        module_name, cls_name = table[key].split(":")
    except KeyError:
        raise ValueError(f"{unknown} {key!r}; known: {', '.join(sorted(table))}") from None
    return getattr(importlib.import_module(module_name), cls_name)
