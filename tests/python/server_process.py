"""A server run as a child process for the tests: spawned with pipes, its output drained into a
bounded buffer by daemon threads (kept for failure reports), stopped with terminate -> wait -> kill.

Shared by the Chronicle server (conftest.py) and the reference Temporal dev server (reference.py).
"""

from __future__ import annotations

import collections
import subprocess
import threading
from pathlib import Path
from typing import IO, Callable

OUTPUT_LINES = 500
KILL_TIMEOUT_S = 10.0


class ServerProcess:
    """A child process whose output is drained by threads and kept for failure reports.

    Subclasses build the command line, call `spawn`, and wait for readiness their own way.
    """

    def __init__(self, label: str, *, stop_timeout_s: float = 10.0) -> None:
        # `label` names the process in `tail()`'s header, e.g. "chronicle".
        self.label = label
        self.stop_timeout_s = stop_timeout_s
        self.output: collections.deque[str] = collections.deque(maxlen=OUTPUT_LINES)
        self.proc: subprocess.Popen[str] | None = None
        self._threads: list[threading.Thread] = []

    def spawn(
        self,
        cmd: list[str],
        *,
        cwd: Path,
        merge_stderr: bool = False,
        on_stdout_line: Callable[[str], None] | None = None,
    ) -> subprocess.Popen[str]:
        """Start `cmd` in `cwd` with stdin closed and its output drained on daemon threads.

        With `merge_stderr`, stderr goes into stdout and lines are kept as they are; otherwise the two
        streams are drained separately and each kept line is prefixed `[stdout] ` / `[stderr] `.
        `on_stdout_line` (if given) is called with every stdout line, newline stripped, after it
        has been kept.
        """
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            text=True,
            bufsize=1,
            cwd=str(cwd),
        )
        if merge_stderr:
            streams = ((self.proc.stdout, "", on_stdout_line),)
        else:
            streams = (
                (self.proc.stdout, "[stdout] ", on_stdout_line),
                (self.proc.stderr, "[stderr] ", None),
            )
        for stream, prefix, on_line in streams:
            t = threading.Thread(target=self._drain, args=(stream, prefix, on_line), daemon=True)
            t.start()
            self._threads.append(t)
        return self.proc

    def _drain(self, stream: IO[str], prefix: str, on_line: Callable[[str], None] | None) -> None:
        for line in iter(stream.readline, ""):
            line = line.rstrip("\n")
            self.output.append(f"{prefix}{line}")
            if on_line is not None:
                on_line(line)
        stream.close()

    def join_drains(self, timeout: float = 1.0) -> None:
        """Give the drain threads a moment to collect the last lines (after the process exited)."""
        for t in self._threads:
            t.join(timeout=timeout)

    def tail(self, n: int = 60) -> str:
        lines = list(self.output)[-n:]
        return "--- %s output (last %d lines) ---\n%s" % (self.label, len(lines), "\n".join(lines))

    def stop(self) -> None:
        """Terminate the process, waiting `stop_timeout_s` for it to exit before killing it."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=KILL_TIMEOUT_S)
