"""Data and reward exploration: problem statistics on the shipped GSM8K copy, overlap, budgets, rewards, zero spread."""

import numpy as np
import pandas as pd
import pytest

from mathrl.cli.suite import notebook_config
from mathrl.config import FORMATS, RewardConfig
from mathrl.report import explore


@pytest.fixture(scope="module")
def cfg():
    return notebook_config("cpu-smoke")


@pytest.fixture(scope="module")
def splits(cfg):
    return explore.load_splits(cfg)


def test_load_splits_ignores_the_profile_row_limit(splits):
    train, test = splits
    assert (len(train), len(test)) == (7473, 1319)


def test_gsm8k_test_questions_do_not_appear_in_train(splits):
    assert explore.overlap(*splits)["shared"] == 0


def test_operations_skip_signs_and_count_each_operator():
    # a minus after an operator or at the start is a sign; x is not a calculator operator
    assert explore.operations("<<-3+2=-1>> <<4*-2=-8>> <<10-4=6>> <<8/2=4>>") == [
        "addition", "multiplication", "subtraction", "division"]


def test_problem_table_and_budget_with_the_real_tokenizer(cfg, splits):
    from mathrl.models import load_tokenizer, resolve_model_path

    tokenizer = load_tokenizer(resolve_model_path(cfg.model.name))
    rows = splits[0][:40]
    table = explore.problem_table(rows, tokenizer)
    assert len(table) == 40 and (table["prompt_tokens"] > table["question_tokens"]).all()  # system prompt included
    budget = explore.token_budget(table, cfg, tokenizer, rows)
    assert budget["suggested_max_completion_length"] % explore.BUDGET_STEP == 0
    assert budget["suggested_max_completion_length"] >= budget["gold_completion_tokens_p99"]
    assert budget["prompt_tokens_p99"] == int(np.percentile(table["prompt_tokens"], 99))  # numpy's default rule
    assert "train.max_prompt_length=" in explore.budget_advice(budget)


def test_summary_table_has_one_row_per_numeric_column():
    frame = pd.DataFrame({"steps": [1, 2, 3, 10], "id": list("abcd")}).set_index("id")
    table = explore.summary_table(frame)
    assert list(table.index) == ["steps"] and table.loc["steps", "max"] == 10


def test_summary_table_p95_interpolates_like_numpy():
    frame = pd.DataFrame({"steps": [1, 2, 3, 10], "tokens": [50, 70, 80, 400]})
    table = explore.summary_table(frame)
    expected = [np.percentile(frame[column], 95) for column in frame]
    assert table["p95"].tolist() == pytest.approx(expected, abs=0.051)  # the table rounds to one decimal


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_only_the_gold_solution_earns_the_full_reward(fmt, splits):
    row = splits[1][0]
    scores = explore.reward_frame(explore.fixed_completions(row, FORMATS[fmt]), row["answer"], FORMATS[fmt])
    gold = scores.loc["gold", "combined"]
    assert (scores.drop(index="gold")["combined"] < gold).all(), scores["combined"]
    # text that does not hold the right answer earns less than being right without any format
    for case in ("wrong answer", "bare tags", "every number", "injection", "empty", "hedged"):
        assert scores.loc[case, "combined"] < RewardConfig().weights["correctness_reward"], (fmt, case)


def _groups(values):
    index = pd.MultiIndex.from_tuples([(q, i) for q, group in enumerate(values) for i in range(len(group))],
                                      names=["question", "sample"])
    flat = [v for group in values for v in group]
    return pd.DataFrame({"correctness_reward": flat, "combined": [v + 0.1 * (i % 2) for i, v in enumerate(flat)]},
                        index=index)


def test_zero_spread_share_per_group_size():
    frame = _groups([[0, 0, 0, 1], [0, 0, 0, 0]])
    spread = explore.zero_spread_share(frame, [2, 4])
    assert spread.loc[2, "correctness_reward"] == 1.0  # both questions flat in their first two samples
    assert spread.loc[4, "correctness_reward"] == 0.5  # the fourth sample of question 0 breaks the tie
    assert spread.loc[2, "combined"] == 0.0  # partial credit separates every group


def test_correlation_leaves_out_constant_components():
    frame = _groups([[0, 0, 0, 1], [0, 1, 0, 0]])
    frame["constant"] = 1.0
    assert "constant" not in explore.reward_correlation(frame)


def test_plots_are_saved(tmp_path, splits):
    table = explore.problem_table(splits[1][:20])
    explore.plot_problems(table, explore.operation_shares(splits[1][:20]), tmp_path / "problems.png")
    assert (tmp_path / "problems.png").stat().st_size > 1000


def test_overlap_compares_problems_not_punctuation_stripped_text():
    train = [{"id": "a", "question": "Calculate 47 - 30."}, {"id": "b", "question": "A 5-year-old has 1,200 apples."}]
    test = [{"id": "c", "question": "Calculate 47 + 30."},  # another problem: the operator differs
            {"id": "d", "question": "calculate 47-30"},  # the same problem, spaced and cased differently
            {"id": "e", "question": "A 5 year old has 1200 apples!"}]  # the same, hyphens and separators aside
    assert explore.overlap(train, test)["shared_ids"] == ["d", "e"]


def test_the_reasoning_gym_test_split_shares_no_problem_with_train():
    # data.py keeps only test problems unseen in train, so every reported leak here would be a false one
    train, test = explore.load_splits(notebook_config("cpu-learn"))
    assert len(train) == len(test) == 1200
    assert explore.overlap(train, test)["shared"] == 0


@pytest.mark.parametrize("rows", [-3, 0])
def test_load_splits_refuses_a_row_count_below_one(cfg, rows):
    with pytest.raises(explore.ConfigError, match=f"rows={rows}"):
        explore.load_splits(cfg, rows)
