"""The engine registry: every engine the studio offers, one line each.

Each engine declares itself in its own home (a package under :mod:`app.engine.methods`):
what people see, its weight files, its work units, its quality choices and where its code
lives. This module only collects those specs and answers questions about the whole set.
Adding an engine is one new package and one line in :data:`ENGINES`. Torch-free, so
``dreamgen --help``, the web pages and the weights manager read it without loading the
engines.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, Mapping

from app.engine.errors import StyleTransferError
from app.engine.methods import adain, deepdream, gatys, microast, trained
from app.engine.spec import EngineSpec, Mode, WeightFile
from app.settings import get_settings

BUILT_IN: tuple[EngineSpec, ...] = (
    microast.SPEC,
    adain.SPEC,
    gatys.LITE,
    gatys.FULL,
    deepdream.SPEC,
    trained.SPEC,
)


def plugin_specs(paths: str) -> tuple[EngineSpec, ...]:
    """The engines ``DREAMGEN_ENGINE_PLUGINS`` names: comma-separated ``module:NAME``, each
    NAME an :class:`EngineSpec` or a tuple of them (an engine package of one's own; the test
    suite's deliberately broken engines). A plugin that cannot be loaded stops the process
    with a message naming it."""
    specs: list[EngineSpec] = []
    for path in filter(None, (p.strip() for p in paths.split(","))):
        module, _, name = path.partition(":")
        try:
            found = getattr(import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise StyleTransferError(f"the engine plugin {path!r} cannot be loaded "
                                     f"({exc})") from None
        specs.extend(found if isinstance(found, (tuple, list)) else (found,))
    return tuple(specs)


ENGINES: tuple[EngineSpec, ...] = BUILT_IN + plugin_specs(get_settings().engine_plugins)
BY_NAME: dict[str, EngineSpec] = {spec.name: spec for spec in ENGINES}
NAMES: tuple[str, ...] = tuple(BY_NAME)
CHOICES: tuple[str, ...] = ("auto", *NAMES)     # what a person may ask for
# Every pinned weight file, once, in the order the engines name them.
WEIGHT_FILES: tuple[WeightFile, ...] = tuple(
    {f.name: f for spec in ENGINES for f in (*spec.files, *spec.optional_files)}.values())


def get_engine(name: str) -> EngineSpec:
    """The spec called ``name``; raises :class:`StyleTransferError` naming the choices."""
    if name not in BY_NAME:
        raise StyleTransferError(f"unknown engine {name!r}; choose one of {', '.join(CHOICES)}")
    return BY_NAME[name]


def listed_engines() -> list[EngineSpec]:
    """The engines people are offered (a plugin may keep its engines off the lists)."""
    return [spec for spec in ENGINES if spec.listed]


def auto_candidates() -> list[EngineSpec]:
    """Engines ``auto`` may pick, best first."""
    return sorted((s for s in ENGINES if s.auto_rank is not None),
                  key=lambda s: s.auto_rank or 0)


def video_engines() -> list[EngineSpec]:
    """Engines that make clips."""
    return [spec for spec in ENGINES if spec.takes_video]


def dream_engine() -> EngineSpec:
    """The engine of the dream mode."""
    return next(spec for spec in ENGINES if spec.mode == "dream")


def engines_using(file_name: str) -> tuple[str, ...]:
    """Names of the engines that load the weight file ``file_name`` (needed or optional)."""
    return tuple(spec.name for spec in ENGINES
                 if file_name in spec.weights or file_name in spec.optional_weights)


def work_units(engine: str, options: Mapping[str, Any]) -> float:
    """How much work a job's stored ``options`` ask of ``engine``, in its own units (1 for
    an engine that is not registered, e.g. one removed since the job ran)."""
    spec = BY_NAME.get(engine)
    return spec.work_units(options) if spec is not None else 1.0


def preset_engines(preset: str, mode: Mode) -> list[EngineSpec]:
    """The engines of ``mode`` that offer the quality choice ``preset``, best first."""
    offering = [s for s in ENGINES if s.mode == mode and preset in s.presets]
    return sorted(offering, key=lambda s: s.presets[preset].rank)
