"""Batched generation for evaluation: chat prompts in, completions with token counts and truncation flags out.

transformers by default (left padding, length-sorted batches, eos and stop strings end rows), vLLM when asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mathrl.config import MathrlError

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
    """Yield (chunk, generate(chunk)) over items; a CUDA out-of-memory halves the chunk and retries instead of failing."""
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
    """A GenerateFn over a loaded transformers model; finished rows stop at eos or a stop string."""
    import torch

    end_ids = set(_as_list(model.generation_config.eos_token_id)) | {tokenizer.pad_token_id}

    def generate(prompts: list[str], samples: int, temperature: float | None) -> list[list[Completion]]:
        batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        sampling = dict(do_sample=True, temperature=temperature, top_p=1.0, top_k=0) if temperature else \
            dict(do_sample=False, temperature=None, top_p=None, top_k=None)  # None silences unused-setting warnings
        extra = dict(stop_strings=list(stops), tokenizer=tokenizer) if stops else {}
        with torch.inference_mode():
            output = model.generate(**batch, max_new_tokens=max_new_tokens, num_return_sequences=samples,
                                    pad_token_id=tokenizer.pad_token_id, **sampling, **extra)
        new = output[:, batch["input_ids"].shape[1]:].tolist()
        done = [_completion(ids, end_ids, tokenizer, stops) for ids in new]
        return [done[i * samples : (i + 1) * samples] for i in range(len(prompts))]

    return generate


def _as_list(value) -> list:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def _completion(ids: list[int], end_ids: set[int], tokenizer, stops: Sequence[str]) -> Completion:
    end = next((i for i, t in enumerate(ids) if t in end_ids), None)
    kept = ids if end is None else ids[:end]
    text = tokenizer.decode(kept, skip_special_tokens=True)
    finished = end is not None or any(text.rstrip().endswith(s) for s in stops)
    return Completion(text, len(kept), not finished)


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
