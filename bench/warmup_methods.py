"""Which worked method should the format warm-up teach, and for how many steps? The warm-up alone, scored greedily.

    nice python bench/warmup_methods.py [--variant "NAME:KEY=VALUE,KEY=VALUE" ...]
        # ~11 min a variant on 2 idle CPU cores; writes bench/results/warmup_methods.json

Each variant is the cpu-learn profile with its overrides, warmed up from the base model at the profile's seed and
scored on the same held-out problems as the learning run; each is compared problem by problem with the first.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from learning_signal import paired, scored_in_memory, summary

from mathrl.config import load_config
from mathrl.eval.evaluate import eval_rows
from mathrl.train.grpo import build_trainer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "warmup_methods.json"
VARIANTS = ("tens first, 16 steps:data.worked_method=tens_first,train.format_warmup_steps=16",
            "tens first, 40 steps:data.worked_method=tens_first,train.format_warmup_steps=40",
            "place value, 40 steps:data.worked_method=place_value,train.format_warmup_steps=40")


def parse_variant(text: str) -> tuple[str, list[str]]:
    name, sep, overrides = text.partition(":")
    if not sep or not name.strip() or "=" not in overrides:
        raise ValueError(f"--variant {text!r}: write NAME:KEY=VALUE[,KEY=VALUE ...], e.g. "
                         "'place value:data.worked_method=place_value'")
    return name.strip(), [o.strip() for o in overrides.split(",") if o.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", action="append", help="NAME:KEY=VALUE,... (default: the three below)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "warmup_methods")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    try:
        variants = [parse_variant(v) for v in args.variant or VARIANTS]
    except ValueError as err:
        parser.error(str(err))
    started = time.time()
    shutil.rmtree(args.out, ignore_errors=True)
    results, first = [], None
    for i, (name, overrides) in enumerate(variants):
        cfg = load_config("cpu-learn", overrides=[f"train.output_dir={args.out / str(i)}", *overrides])
        records = scored_in_memory(build_trainer(cfg), cfg, name, args.out / f"eval_{i}", eval_rows(cfg))
        first = first or records
        results.append({"name": name, "overrides": overrides, "strict": summary(records, "strict"),
                        "mcnemar_against_first": paired(first, "strict", records, "strict")})
        s = results[-1]["strict"]
        print(f"{name}: strict accuracy {s['accuracy']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}], "
              f"McNemar against {variants[0][0]}: {results[-1]['mcnemar_against_first']} "
              f"({time.time() - started:.0f}s)", flush=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"variants": results, "seconds": round(time.time() - started)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
