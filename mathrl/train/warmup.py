"""Format warm-up: a few supervised steps on gold solutions rendered in the output format, before GRPO starts.

GRPO can only reinforce a format the model already writes sometimes; the offline 135M model wrote the tags in 6 of 64 tries.
"""

from __future__ import annotations

import random
import re

from mathrl.arithmetic import evaluate
from mathrl.gsm8k import write_solution
from mathrl.parsing import render_gold, to_number

_SUM = re.compile(r"-?\d+(?:\s*[-+*/]\s*\d+)+")


def warmup_text(row: dict, fmt) -> str:
    """The assistant turn to imitate: the gold solution in the format, or the restated problem when there is none."""
    # Some reasoning-gym rows (arithmetic with products, quotients or brackets) carry no worked solution; an empty
    # reasoning section would teach the model to skip reasoning, so the restated problem stands in for it.
    solution = row.get("solution") or write_solution([row["question"]], row["answer"])
    return render_gold(solution, fmt)


def direct_text(row: dict, fmt) -> str:
    """The assistant turn without worked steps: the problem's expression and its value in one line (`47 + 38 = 85`),
    or the restated problem when the question holds no expression worth the answer."""
    value = to_number(row["answer"])
    worth = (m.group() for m in _SUM.finditer(row["question"]) if value is not None and evaluate(m.group()) == value)
    expression = next(worth, None)
    line = f"{expression} = {row['answer']}" if expression else row["question"]
    return render_gold(write_solution([line], row["answer"]), fmt)


def _batch(rows: list[tuple[dict, bool]], tokenizer, fmt, device):
    import torch

    ids, labels = [], []
    for row, direct in rows:
        answer = direct_text(row, fmt) if direct else warmup_text(row, fmt)
        prompt = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True)
        full = tokenizer.apply_chat_template(row["prompt"] + [{"role": "assistant", "content": answer}], tokenize=True)
        prompt, full = list(_ids(prompt)), list(_ids(full))
        ids.append(full)
        labels.append([-100] * len(prompt) + full[len(prompt):])  # learn the answer turn only, not the prompt
    width = max(map(len, ids))
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids], device=device)
    attention = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids], device=device)
    targets = torch.tensor([[-100] * (width - len(x)) + x for x in labels], device=device)
    return input_ids, attention, targets


def _ids(encoded):
    return encoded["input_ids"] if isinstance(encoded, dict) or hasattr(encoded, "keys") else encoded


def format_warmup(model, tokenizer, rows: list[dict], fmt, steps: int, learning_rate: float, batch_size: int,
                  seed: int = 0, direct_share: float = 0.0) -> list[float]:
    """Train `model` in place for `steps` AdamW steps on rendered gold solutions; returns the loss of each step.

    A `direct_share` of the answers imitated state the result in one line instead of working it (`direct_text`), so
    the warmed model sometimes shows its work and sometimes does not, and GRPO can learn which pays. Only parameters
    that require grad move, so on a LoRA model only the adapters learn. Every process runs the same steps on the same
    batches, so data-parallel replicas stay identical.
    """
    import torch

    if steps <= 0:
        return []
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.0)
    order = random.Random(seed)
    # its own random state, so that the batches drawn are the same whatever the share
    shortcut = random.Random(seed + 1)
    device = next(model.parameters()).device
    was_training = model.training
    model.train()
    losses = []
    for _ in range(steps):
        batch = [(row, shortcut.random() < direct_share)
                 for row in order.sample(rows, min(batch_size, len(rows)))]
        input_ids, attention, targets = _batch(batch, tokenizer, fmt, device)
        loss = model(input_ids=input_ids, attention_mask=attention, labels=targets).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.train(was_training)
    return losses
