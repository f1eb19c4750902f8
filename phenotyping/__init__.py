"""phenotyping: wearable-driven digital phenotyping for depression care.

The package is a pure core (``phenotyping.features``, ``phenotyping.risk``, NumPy only,
synchronous and deterministic) behind one function, :func:`step`, wrapped by thin shells
(in-process replay, Kafka workers, the clinician feed). ``docs/architecture.md`` maps the
modules and the direction of their imports.

What a researcher calls from Python is exported here (the README's "Python API" shows it):

* :class:`Pipeline`, :func:`step`, :class:`SubjectState`, :class:`StepOutput` -- the pipeline
  (``EngineParams`` and ``RiskParams`` configure it);
* :func:`decode`, :func:`encode` and the wire message types (:class:`ActivityBatch`,
  :class:`HeartBeatBatch`, :class:`SleepEpisode`, :class:`ClinicalEvent`,
  :class:`RecordingEnd`; their union :data:`AnyMessage`) and the outputs (:class:`Alert`,
  :class:`Notice`);
* :func:`replay` -- recordings under a path through the pipeline, in process
  (:class:`ReplayResult`; :func:`write_outputs` writes the output folder).

Everything else is reachable by its module (``phenotyping.replay.formats``,
``phenotyping.simulate``, ...). The names are imported on first use, so ``import
phenotyping`` (and so ``phenotyping --help``) loads neither NumPy, pandas nor pydantic.
``phenotyping.replay`` is the function; the subpackage of the same name is imported with
``from phenotyping.replay import ...`` or ``import phenotyping.replay.run as run``.
"""

__version__ = "0.1.0"

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phenotyping.events import (
        ActivityBatch,
        Alert,
        AnyMessage,
        ClinicalEvent,
        HeartBeatBatch,
        Notice,
        RecordingEnd,
        SleepEpisode,
        decode,
        encode,
    )
    from phenotyping.features.day import EngineParams
    from phenotyping.pipeline import Pipeline, StepOutput, SubjectState, step
    from phenotyping.replay.run import ReplayResult, replay, write_outputs
    from phenotyping.risk.engine import RiskParams

__all__ = [
    "ActivityBatch",
    "Alert",
    "AnyMessage",
    "ClinicalEvent",
    "EngineParams",
    "HeartBeatBatch",
    "Notice",
    "Pipeline",
    "RecordingEnd",
    "ReplayResult",
    "RiskParams",
    "SleepEpisode",
    "StepOutput",
    "SubjectState",
    "__version__",
    "decode",
    "encode",
    "replay",
    "step",
    "write_outputs",
]

#: The module that defines each exported name (imported when the name is first used).
_SOURCES = {
    **dict.fromkeys(
        [
            "ActivityBatch",
            "Alert",
            "AnyMessage",
            "ClinicalEvent",
            "HeartBeatBatch",
            "Notice",
            "RecordingEnd",
            "SleepEpisode",
            "decode",
            "encode",
        ],
        "phenotyping.events",
    ),
    "EngineParams": "phenotyping.features.day",
    **dict.fromkeys(["Pipeline", "StepOutput", "SubjectState", "step"], "phenotyping.pipeline"),
    **dict.fromkeys(["ReplayResult", "replay", "write_outputs"], "phenotyping.replay.run"),
    "RiskParams": "phenotyping.risk.engine",
}


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module 'phenotyping' has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SOURCES})


# Importing a subpackage binds it to its name here. The replay subpackage (its __init__ is
# a docstring) is imported now and its name unbound, so that ``phenotyping.replay`` is
# always the function, whichever of the two is imported first.
importlib.import_module("phenotyping.replay")
del globals()["replay"]
