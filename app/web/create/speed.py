"""What the create page says about time: only this studio's own measured speed.

Each quality choice (in both modes) and each engine gets the typical run time of its engine
at its size from this server's recent successful runs (:mod:`app.jobs.estimates`, the same
figures the job page's waits come from), with how many runs it rests on, or says that there
has been no run on this server yet. Never a promise written in advance: the same quality
takes seconds on a GPU and minutes on a small CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.orm import Session

from app.engine.options import StyleOptions
from app.engine.presets import PRESETS, preset_values
from app.engine.registry import dream_engine
from app.jobs.estimates import RunTimes, current_run_times, duration

NO_RUN_YET = "no run on this server yet"
DEFAULT_SIDE = 512


@dataclass(frozen=True)
class Measured:
    """The typical time of one picture with some settings, as this server measured it."""

    seconds: float | None      # None: no run of the engine here yet
    runs: int                  # recent runs of the engine it comes from
    side: int                  # the output size it is for (a smaller photo is faster)

    @property
    def words(self) -> str:
        """"about 38 s at 512 px (from 4 runs here)", or that there is none yet."""
        if self.seconds is None:
            return NO_RUN_YET
        about = "" if self.seconds < 1 else "about "
        runs = f"{self.runs} run{'s' if self.runs != 1 else ''}"
        return f"{about}{duration(self.seconds)} at {self.side} px (from {runs} here)"


def measured(times: RunTimes, engine: str, options: dict[str, Any]) -> Measured:
    """What ``times`` say a picture of ``engine`` with ``options`` takes."""
    return Measured(times.expected_s(engine, "image", options), times.runs(engine, "image"),
                    int(options.get("size") or DEFAULT_SIDE))


def preset_speeds(session: Session, is_ready: Callable[[str], bool],
                  max_side: int) -> dict[str, dict[str, Measured]]:
    """For each quality choice, ``{"style": ..., "dream": ...}``: its measured time in
    each mode, at its size within ``max_side``."""
    times = current_run_times(session)
    speeds = {}
    for name in PRESETS:
        per_mode = {}
        for mode in ("style", "dream"):
            values = preset_values(name, mode, is_ready)
            values["size"] = min(int(values["size"]), max_side)
            engine = dream_engine().name if mode == "dream" else str(values["engine"])
            per_mode[mode] = measured(times, engine, values)
        speeds[name] = per_mode
    return speeds


def engine_speeds(session: Session, engines: list[str]) -> dict[str, Measured]:
    """Each engine's measured time for one picture at its defaults (512 px)."""
    times, defaults = current_run_times(session), StyleOptions().stored()
    return {name: measured(times, name, defaults) for name in engines}
