"""One exception root for the whole package; every error class is declared here.

::

    PhenotypingError
    ├── InputError          a message or a recorded row cannot be used (names field and rule)
    │   ├── FormatError     a recording's format could not be read or detected
    │   └── RosterError     the clinician roster file cannot be used
    ├── StateError          serialised per-subject state is corrupt or of an unknown version
    ├── TopicError          Kafka topics are missing or do not match the settings
    ├── PublishError        the broker did not take a published message
    └── AckError            an acknowledgement could not be recorded
"""


class PhenotypingError(Exception):
    """Root of every error this package raises on purpose."""


class InputError(PhenotypingError, ValueError):
    """Input that cannot be used; the message names the field and the rule."""


class FormatError(InputError):
    """A recording whose format cannot be read or detected."""


class RosterError(InputError):
    """The roster file cannot be used (the message names the entry and the rule)."""


class StateError(PhenotypingError):
    """Serialised state that is corrupt or of an unknown version."""


class TopicError(PhenotypingError):
    """Topics are missing or do not match the settings (run ``phenotyping topics create``)."""


class PublishError(PhenotypingError):
    """The broker did not take a message."""


class AckError(PhenotypingError):
    """An acknowledgement could not be recorded (nothing was saved)."""
