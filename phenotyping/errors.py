"""One exception root for the whole package.

::

    PhenotypingError
    ├── InputError          a message or a recorded row cannot be used (names field and rule)
    │   └── FormatError     a recording's format could not be read or detected
    └── StateError          serialised per-subject state is corrupt or of an unknown version
"""


class PhenotypingError(Exception):
    """Root of every error this package raises on purpose."""


class InputError(PhenotypingError, ValueError):
    """Input that cannot be used; the message names the field and the rule."""


class FormatError(InputError):
    """A recording whose format cannot be read or detected."""


class StateError(PhenotypingError):
    """Serialised state that is corrupt or of an unknown version."""
