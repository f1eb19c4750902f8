"""Replay: recorded streams through the same :func:`phenotyping.pipeline.step` the Kafka
workers run.

Modules: ``formats/`` (one reader module per recording format and the registry that
detects them), ``run`` (the in-process replay and the output folder it writes:
``phenotyping replay``), ``publish`` (the same messages into Kafka instead:
``phenotyping replay --broker``; imports aiokafka when publishing).
"""
