"""The Kafka worker shell around :mod:`phenotyping.pipeline`: faust-streaming workers,
``topics`` and ``tail``.

It holds no arithmetic: a worker decodes a message, calls
:func:`phenotyping.pipeline.step`, stores the state's bytes in a faust table and sends what
the step returned. Importing this package (or :mod:`phenotyping.stream.commands`) imports
neither faust nor aiokafka; the modules that need them say so in their docstring. Topic
names, client options and topic administration are shared with the feed and the replay
publisher in :mod:`phenotyping.kafkaio`; publishing recordings into Kafka is
:mod:`phenotyping.replay.publish`.

Modules: ``codec`` (output records, dead letters, the table value; pure), ``process`` (one
batch of consumed records -> outgoing records and state writes; pure), ``app`` (the faust
app: ``faust -A phenotyping.stream.app worker``), ``agents`` (the faust agent), ``tail``
(print a topic), ``commands`` (the CLI sub-commands).
"""
