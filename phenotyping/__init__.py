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
``phenotyping.simulate``, ...).
"""

__version__ = "0.1.0"

# The version comes first: the modules below read it while this package is initialised.
from phenotyping.events import (  # noqa: E402
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
from phenotyping.features.day import EngineParams  # noqa: E402
from phenotyping.pipeline import Pipeline, StepOutput, SubjectState, step  # noqa: E402
from phenotyping.replay.run import ReplayResult, replay, write_outputs  # noqa: E402
from phenotyping.risk.engine import RiskParams  # noqa: E402

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
