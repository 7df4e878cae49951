"""Work a second thread does while the caller does other work.

NumPy, Arrow and Polars release the GIL in their loops over big arrays, and the compiled
decoder and ``hashlib`` release it while they run, so two independent steps over a big
profile overlap on two cores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """``work()`` run by a new thread from now on; :meth:`result` waits for it."""

    def __init__(self, work: Callable[[], T], name: str) -> None:
        self._value: list[T] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], T]) -> None:
        try:
            self._value.append(work())
        except BaseException as exc:  # raised again by result(), in the caller's thread
            self._error = exc

    def result(self) -> T:
        """The value ``work()`` returned, or its exception raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value[0]
