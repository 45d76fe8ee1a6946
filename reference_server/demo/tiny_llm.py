"""Build the `tiny-llm` demo: a random-weight LLaMA plus a byte-level BPE tokenizer.

Nothing can be downloaded here, so the demo model is built locally, offline and
deterministically, in a few seconds. Its dimensions are the smallest that
vLLM's CPU attention accepts: head size 32 = hidden 128 / 4 heads. The weights are random,
so the text is gibberish; the point is realistic serving mechanics (tokenisation, KV cache,
streaming), not quality. Production users point `model.json` at real weights instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sysconfig
from pathlib import Path

from ..model_manager import TRAFFIC_FILE
from .registry import register_demo_model

SEED = 1234
HIDDEN = 128
LAYERS = 2
HEADS = 4
INTERMEDIATE = 256
VOCAB = 2048
MAX_MODEL_LEN = 512
CORPUS_BYTES = 2_000_000  # enough text for 2k merges; trains in about a second

BOS, EOS, PAD = "<s>", "</s>", "<pad>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
SPECIAL_TOKENS = [BOS, EOS, PAD, *ROLE_TOKENS]

# The assistant turn ends with <|end|>; generation stops on </s> (eos) — a random model
# rarely emits either, which is why load tests send ignore_eos.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


LAZY_LOAD_TIMEOUT_S = 180  # vLLM's engine start here is 30-60 s, and longer beside a busy warm engine


def build_tiny_llm(out_dir: Path | str) -> Path:
    """Write config, weights, tokenizer and model.json into `out_dir`; return it.

    model.json is written last, so its presence marks a complete build.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_tokenizer(out)
    _write_model(out)
    _write_model_json(out)
    return out


def _builder_digest() -> str:
    """This module's own source: any edit to it changes the repository stamp and rebuilds."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


@register_demo_model("tiny-llm", builder_version=_builder_digest())
def build_tiny_llm_demo(repo: Path) -> None:
    """tiny-llm/1 names vLLM with torch-lm as the fallback, so the same demo serves on
    machines without vLLM (backends/generative_host.py picks). tiny-llm/2 is the same model
    scaled to zero (loaded by the first request sent to it) and staged at 0% of the traffic:
    the lazy LLM beside the warm one, which costs nothing until a scenario routes to it."""
    warm = build_tiny_llm(repo / "tiny-llm" / "1")
    lazy = repo / "tiny-llm" / "2"
    shutil.copytree(warm, lazy, dirs_exist_ok=True)
    spec = json.loads((lazy / "model.json").read_text())
    _write_json(lazy / "model.json", spec | {"scaling": {"on_demand": True, "load_timeout_s": LAZY_LOAD_TIMEOUT_S}})
    _write_json(repo / "tiny-llm" / TRAFFIC_FILE, {"1": 100})


def corpus_files(limit_bytes: int = CORPUS_BYTES) -> list[Path]:
    """A deterministic choice of local text: the interpreter's stdlib modules, by name."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    chosen: list[Path] = []
    total = 0
    for path in sorted(stdlib.glob("*.py")):
        chosen.append(path)
        total += path.stat().st_size
        if total >= limit_bytes:
            break
    return chosen


def _write_tokenizer(out: Path) -> None:
    # Rayon's thread pool reads this on first use; one thread makes the merges order-stable.
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
        trainers,
    )

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    files = corpus_files()
    tok.train_from_iterator((p.read_text(encoding="utf-8", errors="replace") for p in files), trainer)
    bos_id = tok.token_to_id(BOS)
    # Prompts get a leading <s>, as LLaMA tokenizers do; the chat template leaves it out.
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    tok.save(str(out / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "additional_special_tokens": ROLE_TOKENS,
        "model_max_length": MAX_MODEL_LEN,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }
    _write_json(out / "tokenizer_config.json", config)


def _write_model(out: Path) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=HEADS,
        max_position_embeddings=MAX_MODEL_LEN,
        bos_token_id=SPECIAL_TOKENS.index(BOS),
        eos_token_id=SPECIAL_TOKENS.index(EOS),
        pad_token_id=SPECIAL_TOKENS.index(PAD),
        tie_word_embeddings=False,
        dtype="float32",
    )
    torch.manual_seed(SEED)
    model = LlamaForCausalLM(config).to(torch.float32)
    model.save_pretrained(out, safe_serialization=True)


def _write_model_json(out: Path) -> None:
    weights = out / "model.safetensors"
    spec = {
        "backend": "vllm",
        "fallback_backend": "torch-lm",
        "note": "served by vLLM where it imports; otherwise by torch-lm (plain transformers)",
        "artifact": weights.name,
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "llm": {"model_dir": ".", "max_model_len": MAX_MODEL_LEN, "dtype": "float32"},
    }
    _write_json(out / "model.json", spec)


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
