"""The benchmark summary: docs/benchmarks.md is generated from bench/results/*.json, never edited by hand."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmarks_doc_is_the_table_of_the_committed_results():
    done = subprocess.run([sys.executable, "bench/run_all.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
