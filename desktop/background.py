"""Background operations (Anki's QueryOp pattern, docs/design.md §3).

``OpRunner.run(fn, on_success, on_failure)`` runs one plain, synchronous core call on a
thread-pool thread and delivers its result or its exception on the GUI thread. The core call
knows nothing about Qt, so it is tested without Qt; the runner only moves it off the GUI thread.

Why one long-lived relay signal instead of a QObject per operation: QObjects created on one
thread and destroyed from another (when a pool thread drops the last reference) crash
intermittently in PySide; here no QObject is created or destroyed per operation, the pool
thread only emits the runner's signal, queued to the GUI thread.

Cancellation is cooperative: a ``CancelToken`` is a thread-safe flag that the core call polls
(``Predictor.predict(cancelled=token.is_set)``).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal, Slot

log = logging.getLogger(f"cnsight.{__name__}")

T = TypeVar("T")
SuccessFn = Callable[[Any], None]
FailureFn = Callable[[BaseException], None]


class CancelToken:
    """A flag set from the GUI thread and polled by a worker; safe across threads."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    __call__ = is_set  # so a token can be passed wherever ``cancelled()`` is expected


class OpRunner(QObject):
    """Runs core calls on a small thread pool; callbacks always run on the GUI thread."""

    _finished = Signal(int, object, object)  # op id, result, exception or None

    def __init__(self, max_threads: int = 2, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[SuccessFn, FailureFn | None]] = {}
        # Queued, always: delivery happens in the GUI event loop even if the job ends at once.
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def run(
        self,
        fn: Callable[[], T],
        on_success: Callable[[T], None],
        on_failure: FailureFn | None = None,
    ) -> int:
        """Start ``fn()`` off the GUI thread; returns the operation's id."""
        op_id = next(self._ids)
        self._pending[op_id] = (on_success, on_failure)
        self.pool.start(lambda: self._run_job(op_id, fn))
        return op_id

    def _run_job(self, op_id: int, fn: Callable[[], Any]) -> None:  # on a pool thread
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI as a message
            self._finished.emit(op_id, None, exc)
        else:
            self._finished.emit(op_id, result, None)

    @Slot(int, object, object)
    def _deliver(self, op_id: int, result: Any, error: BaseException | None) -> None:
        callbacks = self._pending.pop(op_id, None)
        if callbacks is None:
            return
        on_success, on_failure = callbacks
        if error is None:
            on_success(result)
        elif on_failure is not None:
            on_failure(error)
        else:
            log.error("background operation failed: %s", error, exc_info=error)

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def wait(self, msecs: int = 5000) -> bool:
        """Wait for running jobs (at shutdown, never while the GUI is live)."""
        return self.pool.waitForDone(msecs)
