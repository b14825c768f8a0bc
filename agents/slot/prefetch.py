"""Reading the next model's file into the page cache while the current model generates.

`Prefetcher.submit(path)` queues a file for one background thread, which tells the kernel
(`posix_fadvise(WILLNEED)`) and then reads the file through in large chunks: on ext4, WILLNEED alone reads
only the first few MB. Reads release the GIL, so generation keeps its cores. A file read recently is not
read again. `drop()` evicts a file from the page cache (for cold-cache benchmarks) and `cached_fraction()`
says how much of it is cached (mincore), so both are measurable.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CHUNK = 8 * 2**20
_PAGE = mmap.PAGESIZE


def drop(path: str | os.PathLike[str]) -> None:
    """Ask the kernel to evict `path` from the page cache (pages mapped by a loaded model stay). Written
    pages not yet on disk (a fresh copy) are flushed first: the kernel keeps dirty pages."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def cached_fraction(path: str | os.PathLike[str]) -> float:
    """Share of `path`'s pages in the page cache, 0..1 (Linux mincore)."""
    size = os.path.getsize(path)
    if size == 0:
        return 1.0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_COPY) as mapped:
        pages = (size + _PAGE - 1) // _PAGE
        vec = (ctypes.c_ubyte * pages)()
        if libc.mincore(ctypes.c_void_p(_address(mapped)), ctypes.c_size_t(size), vec) != 0:
            raise OSError(ctypes.get_errno(), "mincore failed")
        return sum(v & 1 for v in vec) / pages


def _address(mapped: mmap.mmap) -> int:
    buf = (ctypes.c_char * 1).from_buffer(mapped)
    try:
        return ctypes.addressof(buf)
    finally:
        del buf


def read_through(path: str | os.PathLike[str]) -> int:
    """Bring the whole file into the page cache; returns the bytes read."""
    total = 0
    buf = bytearray(CHUNK)
    with open(path, "rb", buffering=0) as fh:
        try:
            os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        while n := fh.readinto(buf):
            total += n
    return total


@dataclass
class PrefetchEvent:
    path: str
    bytes: int
    seconds: float
    error: str = ""


class Prefetcher:
    """One daemon thread reading queued files; `submit()` never blocks and never raises."""

    def __init__(self, fresh_seconds: float = 30.0) -> None:
        self.fresh_seconds = fresh_seconds  # a file read this recently is assumed still cached
        self.events: list[PrefetchEvent] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._recent: dict[str, float] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, path: str | os.PathLike[str]) -> bool:
        """Queue `path` unless it was read recently or is already queued; True when queued."""
        key = str(Path(path))
        now = time.monotonic()
        with self._lock:
            last = self._recent.get(key)
            if last is not None and (last == float("inf") or now - last < self.fresh_seconds):
                return False
            self._recent[key] = float("inf")  # queued or reading
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name="concilio-prefetch")
                self._thread.start()
        self._queue.put(key)
        return True

    def forget(self, path: str | os.PathLike[str]) -> None:
        """The file left the cache (benchmarks drop it): read it again next time."""
        with self._lock:
            self._recent.pop(str(Path(path)), None)

    def wait(self, timeout: float = 30.0) -> None:
        """Block until everything queued so far has been read (tests, benchmarks)."""
        done = threading.Event()
        self._queue.put(done)  # type: ignore[arg-type]
        done.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            start = time.perf_counter()
            try:
                n, error = read_through(item), ""
            except OSError as exc:  # a missing file is the loader's error to report, not ours
                n, error = 0, str(exc)
            self.events.append(PrefetchEvent(item, n, time.perf_counter() - start, error))
            with self._lock:
                self._recent[item] = time.monotonic()
