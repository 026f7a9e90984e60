"""Dynamic sampling: zero-spread groups dropped and refilled, the cap on extra generation, the logged shares."""

import random

import pytest
import torch

from mathrl.config import ConfigError, load_config
from mathrl.train.dynamic import DynamicSamplingTrainer, zero_spread_groups
from mathrl.train.grpo import train
from mathrl.train.metrics import read_metrics

GROUP = 4


class ParityReward:
    """Prompts marked `flat` earn 1.0 on every completion (no spread); the others a random reward (spread, surely)."""

    __name__ = "parity_reward"

    def __init__(self):
        self.seen = []  # one `kind` per completion scored, in order

    def __call__(self, prompts, completions, kind, **kwargs):
        self.seen.extend(kind)
        return [1.0 if k == "flat" else random.random() for k in kind]


def make_trainer(model_dir, tmp_path, kinds, max_extra, **extra):
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig

    rows = [{"prompt": [{"role": "user", "content": f"problem {i} is {k}"}], "kind": k} for i, k in enumerate(kinds)]
    reward = ParityReward()
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=2 * GROUP, num_generations=GROUP,
                      max_completion_length=4,  # reduce time
                      max_steps=2, report_to="none", use_cpu=True, bf16=False, logging_steps=1, save_strategy="no",
                      seed=3, **extra)
    trainer = DynamicSamplingTrainer(model=str(model_dir), reward_funcs=[reward], args=args,
                                     train_dataset=Dataset.from_list(rows),
                                     processing_class=AutoTokenizer.from_pretrained(model_dir), max_extra=max_extra)
    trainer.model.train()
    return trainer, reward


def batch_of(trainer, indices):
    return [trainer.train_dataset[i] for i in indices for _ in range(GROUP)]


def kinds_in(trainer, out):
    """The kind of each group in a returned batch, read back from its prompt tokens."""
    texts = trainer.processing_class.batch_decode(out["prompt_ids"][::GROUP], skip_special_tokens=True)
    return ["flat" if "is flat" in t else "spread" for t in texts]


def test_zero_spread_groups_are_read_from_the_advantages():
    assert zero_spread_groups(torch.tensor([0.0, 0.0, 0.0, 0.3, -0.3, 0.0]), 3) == [True, False]
    assert zero_spread_groups(torch.tensor([1e-3, -1e-3]), 2) == [False]  # small but real spread is kept


def test_flat_groups_are_dropped_and_refilled_with_groups_that_have_spread(tiny_model_dir, tmp_path):
    kinds = ["flat", "spread"] * 8
    trainer, reward = make_trainer(tiny_model_dir, tmp_path, kinds, max_extra=64)
    out = trainer._generate_and_score_completions(batch_of(trainer, [0, 1]))  # one flat group, one with spread
    assert out["advantages"].shape[0] == 2 * GROUP  # the batch keeps its size: num_generations still divides it
    assert kinds_in(trainer, out) == ["spread", "spread"]
    assert not any(zero_spread_groups(out["advantages"], GROUP))
    assert out["prompt_ids"].shape[0] == out["completion_ids"].shape[0] == out["completion_mask"].shape[0]
    assert out["num_items_in_batch"] == out["completion_mask"].sum()
    # the flat prompt of the first batch is not drawn again as a refill
    groups = [reward.seen[i] for i in range(0, len(reward.seen), GROUP)]
    assert groups[:2] == ["flat", "spread"] and "spread" in groups[2:]


def test_the_cap_on_extra_generation_holds_and_the_batch_is_filled_back(tiny_model_dir, tmp_path):
    trainer, reward = make_trainer(tiny_model_dir, tmp_path, ["flat"] * 16, max_extra=GROUP + 1)  # one whole group
    out = trainer._generate_and_score_completions(batch_of(trainer, [0, 1]))
    assert len(reward.seen) == 2 * GROUP + GROUP  # the batch, then one refill group, then no more
    assert out["advantages"].shape[0] == 2 * GROUP  # past the cap, flat groups fill the batch
    logged = trainer._metrics["train"]
    assert logged["dynamic_sampling/extra_completions"] == [GROUP]
    assert logged["dynamic_sampling/unfilled_share"] == [1.0]


def test_the_logged_zero_spread_share_counts_every_group_generated(tiny_model_dir, tmp_path):
    kinds = ["flat", "flat", "flat", "spread"] * 4
    trainer, reward = make_trainer(tiny_model_dir, tmp_path, kinds, max_extra=8 * GROUP)
    trainer._generate_and_score_completions(batch_of(trainer, [0, 1]))
    groups = [reward.seen[i] for i in range(0, len(reward.seen), GROUP)]
    logged = trainer._metrics["train"]
    assert logged["dynamic_sampling/zero_spread_share"] == [pytest.approx(groups.count("flat") / len(groups))]
    assert logged["dynamic_sampling/extra_completions"] == [(len(groups) - 2) * GROUP]
    assert logged["dynamic_sampling/extra_share"] == [pytest.approx((len(groups) - 2) / 2)]


def test_steps_per_generation_batches_train_with_refills(tiny_model_dir, tmp_path):
    trainer, _ = make_trainer(tiny_model_dir, tmp_path, ["flat", "spread"] * 8, max_extra=2 * GROUP,
                              steps_per_generation=2)
    trainer.train()  # TRL splits each generation batch in two: a batch whose size changed would fail here
    assert trainer.state.global_step == 2


def test_through_mathrl_train_the_costs_reach_metrics_jsonl(tiny_model_dir, tmp_path):
    from tests.test_train import tiny_cfg

    cfg = tiny_cfg(tiny_model_dir, tmp_path, **{"train.max_steps": 2, "train.dynamic_sampling": True,
                                                 "train.dynamic_sampling_max_extra": 8})
    train(cfg)
    rows = [r for r in read_metrics(tmp_path) if "dynamic_sampling/extra_completions" in r]
    assert [r["step"] for r in rows] == [1, 2]
    for row in rows:
        assert row["dynamic_sampling/extra_completions"] in (0, 4, 8)  # whole groups of 4, at most the cap of 8
        assert 0 <= row["dynamic_sampling/zero_spread_share"] <= 1


@pytest.mark.parametrize("overrides, message", [
    ({"train.dynamic_sampling_max_extra": 3}, "less than one group"),
    ({"train.dynamic_sampling": True, "train.num_processes": 2}, "one process only"),
])
def test_bad_dynamic_sampling_settings_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config("cpu-smoke", overrides={"train.num_generations": 4, **overrides})
