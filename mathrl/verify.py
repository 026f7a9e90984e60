"""math-verify fenced off: a reusable worker process whose time limit holds in any thread, restarted after a timeout.

math-verify's own time limit uses signal.alarm, which only works in the main thread; a killed worker always stops.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path


def serve() -> None:
    """Worker loop, one JSON [gold, pred] per stdin line: math-verify with its signal-based timeouts off."""
    import logging

    reply, sys.stdout = sys.stdout, sys.stderr  # keep stray prints off the protocol pipe
    from math_verify import LatexExtractionConfig, parse, verify
    from sympy import Rational

    latex_only = [LatexExtractionConfig()]  # everything sent here is LaTeX; skipping the other extractor saves a third

    def parsed(text: str) -> list:
        # A plain-number gold needs no LaTeX parse at all: half of each check's cost.
        plain = text.lstrip("-").replace(".", "", 1).isdigit()
        return [Rational(text)] if plain else parse(f"${text}$", extraction_config=latex_only, parsing_timeout=None)

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    verify(parsed("x"), parsed("x"), timeout_seconds=None)  # the first parse's lazy imports, under the start-up limit
    reply.write("ready\n")
    reply.flush()
    while line := sys.stdin.readline():
        cpu = time.process_time()
        try:
            gold, pred = json.loads(line)
            gold_expr, pred_expr = parsed(gold), parsed(pred)
            same = bool(gold_expr and pred_expr and verify(gold_expr, pred_expr, timeout_seconds=None))
        except Exception:  # any math-verify failure on hostile text means "not shown equal"
            same = False
        reply.write(f"{int(same)} {time.process_time() - cpu:.6f}\n")  # the CPU cost, for benchmarks
        reply.flush()


class _MathVerify:
    """One reusable worker process with a time limit that holds in any thread: past it the worker is killed.

    A plain subprocess rather than multiprocessing: spawn re-runs the parent's __main__, which fails from stdin
    scripts, and fork is unsafe in a process holding torch threads.
    """

    startup_timeout = 120.0

    def __init__(self):
        self._lock = threading.Lock()
        self._proc = None
        self.broken = False
        self.calls, self.seconds, self.cpu_seconds = 0, 0.0, 0.0

    def _start(self) -> None:
        root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "import mathrl.verify as v; v.serve()"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        if self._read(self.startup_timeout) != "ready":
            raise OSError("the math-verify worker did not start (is math-verify installed?)")

    def _read(self, timeout: float) -> str | None:
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        return self._proc.stdout.readline().strip() if ready else None

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(5)
            for pipe in (self._proc.stdin, self._proc.stdout):
                pipe.close()
        self._proc = None

    def equal(self, gold: str, pred: str, timeout: float) -> bool:
        with self._lock:
            if self.broken:
                return False
            try:
                if self._proc is None or self._proc.poll() is not None:
                    self._start()
            except (OSError, ValueError) as err:
                self.broken = True  # no math-verify here: stop paying start-up for every LaTeX answer
                warnings.warn(f"math-verify unavailable ({err}); LaTeX answers count as wrong", stacklevel=3)
                self.stop()
                return False
            started = time.perf_counter()
            try:
                self._proc.stdin.write(json.dumps([gold, pred]) + "\n")
                self._proc.stdin.flush()
                answer = self._read(max(timeout, 1e-3))
            except (OSError, ValueError):
                answer = None
            if answer is None:
                self.stop()  # a runaway sympy call or a dead worker: a fresh one serves the next check
            verdict, _, cpu = (answer or "").partition(" ")
            self.calls += 1
            self.seconds += time.perf_counter() - started
            self.cpu_seconds += float(cpu) if cpu.replace(".", "", 1).isdigit() else 0.0
            return verdict == "1"


MATH_VERIFY = _MathVerify()
atexit.register(MATH_VERIFY.stop)
