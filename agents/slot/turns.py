"""The slot's queue: one run holds the slot at a time; the holder hands over directly to the waiter the policy
picks (agents/slot/policy.py `pick_next`), so a newcomer can't barge in between."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from agents.slot.policy import pick_next


@dataclass
class _Waiter:
    key: Hashable
    passed: int = 0
    granted: bool = False


class Turns:
    """Who holds the slot, and who is waiting for it. The holder hands over directly to the waiter the
    policy picks, so a newcomer can't barge in between."""

    def __init__(self, policy: str, max_passes: int, resident: Callable[[], list[Hashable]]) -> None:
        self.policy, self.max_passes, self._resident = policy, max_passes, resident
        self._cond = threading.Condition()
        self._busy = False
        self.waiters: list[_Waiter] = []
        self.holder: int | None = None

    def acquire(self, key: Hashable, timeout: float, on_wait: Callable[[int], None]) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            if not self._busy and not self.waiters:
                self._busy = True
                self.holder = threading.get_ident()
                return
            waiter = _Waiter(key)
            self.waiters.append(waiter)
            position = len(self.waiters)
        try:
            on_wait(position)  # outside the lock: a slow progress sink can't hold up the hand-off
        except BaseException:
            self._abandon(waiter)
            raise
        with self._cond:
            while not waiter.granted:  # granted in the meantime: no wait at all
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.waiters.remove(waiter)
                    raise TimeoutError
                self._cond.wait(remaining)
            self.holder = threading.get_ident()

    def try_acquire(self) -> bool:
        """Take the slot only if nobody holds it or waits for it (housekeeping: idle unloads, giving way)."""
        with self._cond:
            if self._busy or self.waiters:
                return False
            self._busy = True
            self.holder = threading.get_ident()
            return True

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter that gives up before waiting: leave the queue, or pass on a turn already handed to it."""
        with self._cond:
            if not waiter.granted:
                self.waiters.remove(waiter)
                return
        self.release()

    def release(self) -> None:
        with self._cond:
            self.holder = None
            if not self.waiters:
                self._busy = False
                return
            i = pick_next([(w.key, w.passed) for w in self.waiters], self._resident(), self.policy,
                          self.max_passes)
            for earlier in self.waiters[:i]:
                earlier.passed += 1
            self.waiters.pop(i).granted = True  # still busy: the turn passes straight to it
            self._cond.notify_all()
