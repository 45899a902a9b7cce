"""Every dataset of every module under `xero_assets.datasets`, found by the `DATASETS` tuple each one exposes (and
`CHECKS`, the checks it defines on them), in an order where a dataset comes after the ones it `uses`."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from types import ModuleType

import xero_assets.datasets as package
from xero_assets.datasets.spec import DatasetCheck, DatasetSpec


def _modules() -> list[ModuleType]:
    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__))
    return [importlib.import_module(f"{package.__name__}.{name}") for name in names]


def _ordered(specs: Iterable[DatasetSpec]) -> tuple[DatasetSpec, ...]:
    by_name: dict[str, DatasetSpec] = {}
    for spec in specs:
        if spec.name in by_name:
            raise ValueError(f"two datasets are named {spec.name!r}: dataset names must be unique")
        by_name[spec.name] = spec
    out: list[DatasetSpec] = []
    placed: set[str] = set()

    def place(spec: DatasetSpec, path: tuple[str, ...]) -> None:
        if spec.name in placed:
            return
        for used in spec.uses:
            if used not in by_name:
                raise ValueError(f"dataset {spec.name!r} uses {used!r}, which no module defines")
            if used in path:
                raise ValueError(f"datasets use each other in a cycle: {' -> '.join((*path, used))}")
            place(by_name[used], (*path, used))
        placed.add(spec.name)
        out.append(spec)

    for spec in by_name.values():
        place(spec, (spec.name,))
    return tuple(out)


def all_datasets() -> tuple[DatasetSpec, ...]:
    return _ordered(spec for module in _modules() for spec in getattr(module, "DATASETS", ()))


def all_checks() -> tuple[DatasetCheck, ...]:
    return tuple(check for module in _modules() for check in getattr(module, "CHECKS", ()))


def needed(selected: Iterable[str], specs: Iterable[DatasetSpec]) -> list[DatasetSpec]:
    """The specs to build for `selected` names: those and everything they use, dependencies first."""
    ordered = list(specs)
    by_name = {s.name: s for s in ordered}
    wanted: set[str] = set()
    stack = list(selected)
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(by_name[name].uses)
    return [s for s in ordered if s.name in wanted]
