"""phenotyping: wearable-driven digital phenotyping for depression care.

The package is a pure core (``phenotyping.features``, NumPy only, synchronous and
deterministic) wrapped by thin shells (in-process replay, Kafka workers).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
