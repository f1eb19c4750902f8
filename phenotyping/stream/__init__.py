"""The Kafka shell around :mod:`phenotyping.pipeline`: faust-streaming workers, topics, the
replay publisher and ``tail``.

This package is the only place that imports faust or aiokafka, and it holds no arithmetic:
a worker decodes a message, calls :func:`phenotyping.pipeline.step`, stores the state's
bytes in a faust table and sends what the step returned. Importing this package (or
:mod:`phenotyping.stream.commands`) imports neither faust nor aiokafka; the modules that
need them say so in their docstring.

Modules: ``codec`` (output records, dead letters, the table value; pure), ``process`` (one
batch of consumed records -> outgoing records and state writes; pure), ``topics`` (names,
configurations, ``topics create``), ``app`` (the faust app: ``faust -A
phenotyping.stream.app worker``), ``agents`` (the faust agent), ``publisher`` (replay into
Kafka), ``tail`` (print a topic), ``commands`` (the CLI sub-commands).
"""
