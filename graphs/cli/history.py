"""Line editing and history for `concilio chat`: readline where the platform has it, the history kept in
the data folder (`chat_history`), so arrow keys bring back questions from earlier sessions."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

MAX_LINES = 1000


@dataclass
class LineHistory:
    path: Path
    readline: object | None  # the readline module, or None where there is none (Windows without pyreadline)

    @classmethod
    def open(cls) -> LineHistory:
        from agents import paths

        try:
            import readline
        except ImportError:
            readline = None
        history = cls(paths.data_dir() / "chat_history", readline)
        if readline is not None:
            readline.set_history_length(MAX_LINES)
            try:
                readline.read_history_file(str(history.path))
            except OSError:  # no history yet, or unreadable: start empty
                pass
        return history

    def add(self, line: str) -> None:
        """Keep `line`; input() already does when it reads from a terminal."""
        if self.readline is not None and not sys.stdin.isatty():
            self.readline.add_history(line)

    def save(self) -> None:
        if self.readline is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.readline.write_history_file(str(self.path))
        except OSError as exc:  # a read-only data folder costs the history, not the conversation
            print(f"concilio: chat history not saved ({exc})", file=sys.stderr)
