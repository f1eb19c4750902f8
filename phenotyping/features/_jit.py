"""The one place that knows numba: a typed ``njit`` for the per-day kernels.

The day engine's kernels (:mod:`phenotyping.features.kernels`) are compiled with
``numba.njit(cache=True)`` -- no ``fastmath`` (it would reorder sums and contract
multiply-adds, changing results), no ``parallel`` (a worker is one process per core). The
compiled code is cached on disk: next to the source when that is writable, else in
``NUMBA_CACHE_DIR`` (the image sets it, docs/operators.md). When no cache location is
writable at all, the kernels are compiled in memory at first use instead of failing the
import: a worker must start, even if a few seconds slower.

The wrapper keeps the function's own signature for mypy (numba has no type hints).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def njit(fn: F) -> F:
    """Compile ``fn`` with ``numba.njit(cache=True)``, falling back to an uncached compile
    when no cache directory is writable.

    Examples
    --------
    >>> @njit
    ... def twice(x: float) -> float:
    ...     return 2.0 * x
    >>> twice(1.5)
    3.0
    """
    try:
        return cast(F, numba.njit(cache=True)(fn))
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return cast(F, numba.njit(cache=False)(fn))
