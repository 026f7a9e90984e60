"""Batched generation for evaluation: chat prompts in, completions with token counts and truncation flags out.

transformers by default (left padding, length-sorted batches, finished rows leave the batch), vLLM when asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mathrl.errors import MathrlError

log = logging.getLogger(__name__)


@dataclass
class Completion:
    text: str
    tokens: int  # generated tokens before eos/padding, the stop string included
    truncated: bool  # ran into max_new_tokens without eos or a stop string


# (prompt texts, samples per prompt, temperature or None for greedy) -> per prompt, its completions
GenerateFn = Callable[[list[str], int, "float | None"], list[list[Completion]]]


def prompt_texts(rows: Sequence[dict], tokenizer) -> list[str]:
    """Each row's chat prompt rendered by the model's chat template, ready for the assistant turn."""
    return [tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=False) for r in rows]


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (an out-of-memory shows up in the first batch).

    Depends only on the lengths, so an interrupted run re-forms the same batches and generates the same text.

    >>> length_sorted_batches([5, 90, 7, 88, 6], 2)
    [[1, 3], [2, 4], [0]]
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def halving_batches(generate: Callable[[list], list], items: list, batch_size: int) -> Iterator[tuple[list, list]]:
    """Yield (chunk, generate(chunk)) over items; a CUDA out-of-memory halves the chunk and retries it."""
    import torch

    start = 0
    while start < len(items):
        chunk = items[start : start + batch_size]
        try:
            results = generate(chunk)
        except torch.cuda.OutOfMemoryError:
            if batch_size == 1:
                raise MathrlError("CUDA out of memory with a batch of one: lower eval.max_new_tokens") from None
            batch_size //= 2
            log.warning("CUDA out of memory: retrying with batches of %d", batch_size)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            continue
        yield chunk, results
        start += len(chunk)


def stop_strings(fmt) -> list[str]:
    """Text after which a completion is finished: the close tag of the format's answer field, when it has one."""
    return [fmt.answer.close] if fmt.answer.close else []


def transformers_generate(model, tokenizer, max_new_tokens: int, stops: Sequence[str] = ()) -> GenerateFn:
    """A GenerateFn over a loaded transformers model (see `decode`)."""
    import torch

    end_ids = torch.tensor(sorted(set(_as_list(model.generation_config.eos_token_id)) | {tokenizer.pad_token_id}))

    def generate(prompts: list[str], samples: int, temperature: float | None) -> list[list[Completion]]:
        encoded = tokenizer(prompts, add_special_tokens=False)["input_ids"]
        shared = shared_prefix(encoded)
        batch = tokenizer.pad({"input_ids": [e[shared:] for e in encoded]}, return_tensors="pt").to(model.device)
        ids, mask = (batch[key].repeat_interleave(samples, 0) for key in ("input_ids", "attention_mask"))
        prefix = torch.tensor([encoded[0][:shared]], device=model.device)
        stopped = _stop_check(tokenizer, stops)
        rows = decode(model, ids, mask, max_new_tokens, end_ids.to(model.device), temperature, stopped, prefix)
        done = [_completion(tokens, finished, set(end_ids.tolist()), tokenizer) for tokens, finished in rows]
        return [done[i * samples : (i + 1) * samples] for i in range(len(prompts))]

    return generate


def shared_prefix(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the prefix all sequences share, leaving each at least one token of its own.

    >>> shared_prefix([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]])
    2
    >>> shared_prefix([[7, 8, 9]])
    2
    """
    limit = min(len(s) for s in sequences) - 1
    length = 0
    while length < limit and all(s[length] == sequences[0][length] for s in sequences):
        length += 1
    return length


def decode(model, ids, mask, max_new_tokens: int, end_ids, temperature: float | None = None,
           stopped: Callable[[list[int]], bool] | None = None, prefix=None) -> list[tuple[list[int], bool]]:
    """Greedy (or sampled) decoding of a left-padded batch that drops each row from the batch once it finishes.

    `model.generate` keeps computing finished rows until the longest one ends; here a row leaves the batch (and its
    KV cache) at eos or when `stopped(its tokens)` says a stop string appeared, so short answers stop costing time.
    `prefix` (1 x P tokens) shared by every row, such as the system prompt, is encoded once and copied to each row:
    the padding then sits between it and each row's own tokens, which the attention mask and positions allow.
    Returns each row's new tokens and whether it finished (False: it ran into max_new_tokens).
    """
    import torch
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    with torch.inference_mode():
        if prefix is not None and prefix.shape[1]:
            model(input_ids=prefix, past_key_values=cache, use_cache=True, logits_to_keep=1)
            cache.batch_repeat_interleave(len(ids))
            mask = torch.cat([mask.new_ones(len(ids), prefix.shape[1]), mask], dim=1)
        position = (mask.long().cumsum(-1) - 1).clamp(min=0)  # count positions over real tokens only
        logits = model(input_ids=ids, attention_mask=mask, position_ids=position[:, -ids.shape[1]:],
                       past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
        last, live = position[:, -1], torch.arange(len(ids))
        out, ended = [[] for _ in range(len(ids))], [False] * len(ids)
        for _ in range(max_new_tokens):
            if temperature:
                token = torch.multinomial(torch.softmax(logits.float() / temperature, -1), 1).squeeze(1)
            else:
                token = logits.argmax(-1)
            finished = torch.isin(token, end_ids).tolist()  # one device sync per step, not one per row
            for slot, (row, value) in enumerate(zip(live.tolist(), token.tolist())):
                out[row].append(value)
                finished[slot] = finished[slot] or (stopped is not None and stopped(out[row]))
                ended[row] = finished[slot]
            if all(finished):
                break
            if any(finished):
                keep = torch.tensor([slot for slot, done in enumerate(finished) if not done])
                live, keep = live[keep], keep.to(token.device)
                cache.batch_select_indices(keep)
                token, mask, last = token[keep], mask[keep], last[keep]
            mask = torch.cat([mask, mask.new_ones(len(token), 1)], dim=1)
            last = last + 1
            logits = model(input_ids=token[:, None], attention_mask=mask, position_ids=last[:, None],
                           past_key_values=cache, use_cache=True).logits[:, -1]
    return list(zip(out, ended))


def _stop_check(tokenizer, stops: Sequence[str]) -> Callable[[list[int]], bool] | None:
    if not stops:
        return None
    # A stop string spans at most this many tokens (one character per token at worst), so decode only that tail.
    window = max(len(s) for s in stops) + 1
    return lambda tokens: any(s in tokenizer.decode(tokens[-window:]) for s in stops)


def _as_list(value) -> list:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def _completion(tokens: list[int], finished: bool, end_ids: set[int], tokenizer) -> Completion:
    kept = tokens[:-1] if tokens and tokens[-1] in end_ids else tokens  # the eos token is not part of the answer
    return Completion(tokenizer.decode(kept, skip_special_tokens=True), len(kept), not finished)


def vllm_generate(model_path: str, tokenizer, max_new_tokens: int, stops: Sequence[str] = (),
                  dtype: str = "auto") -> GenerateFn:
    """A GenerateFn backed by vLLM (continuous batching); the message says how to proceed when it is missing."""
    try:
        from vllm import LLM, SamplingParams
    except ImportError:
        raise MathrlError("eval.use_vllm is on but vLLM is not installed: `pip install vllm` (Linux with CUDA), "
                          "or set eval.use_vllm=false to generate with transformers") from None
    if (Path(model_path) / "adapter_config.json").is_file():
        raise MathrlError(f"{model_path} is a LoRA adapter: merge it first (mathrl.models.merge_lora) for vLLM, "
                          "or set eval.use_vllm=false")
    llm = LLM(model=model_path, dtype=dtype, tokenizer=model_path)

    def generate(prompts: list[str], samples: int, temperature: float | None) -> list[list[Completion]]:
        params = SamplingParams(n=samples, temperature=temperature or 0.0, max_tokens=max_new_tokens,
                                stop=list(stops) or None, include_stop_str_in_output=True)
        outputs = llm.generate(prompts, params, use_tqdm=False)
        return [[Completion(o.text, len(o.token_ids), o.finish_reason == "length") for o in out.outputs]
                for out in outputs]

    return generate
