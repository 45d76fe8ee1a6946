import hashlib
import json
from pathlib import Path

from reference_server.demo.tiny_llm import HEADS, HIDDEN, VOCAB, build_tiny_llm


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_build_is_deterministic(tiny_model_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_llm(tmp_path / "again")
    assert _digests(again) == _digests(tiny_model_dir)


def test_model_json_declares_vllm_with_fallback(tiny_model_dir: Path) -> None:
    spec = json.loads((tiny_model_dir / "model.json").read_text())
    assert spec["backend"] == "vllm" and spec["fallback_backend"] == "torch-lm"
    assert spec["llm"] == {"model_dir": ".", "max_model_len": 512, "dtype": "float32"}
    weights = (tiny_model_dir / spec["artifact"]).read_bytes()
    assert spec["sha256"] == hashlib.sha256(weights).hexdigest()


def test_transformers_loads_model_tokenizer_and_chat_template(tiny_model_dir: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(tiny_model_dir)
    assert (config.hidden_size, config.vocab_size, config.hidden_size // config.num_attention_heads) == (HIDDEN, VOCAB, HIDDEN // HEADS)
    assert HIDDEN // HEADS == 32  # a head size vLLM's CPU attention accepts

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = tokenizer("def main():").input_ids
    assert ids[0] == tokenizer.bos_token_id and tokenizer.decode(ids, skip_special_tokens=True) == "def main():"
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert chat == "<|user|>\nhi<|end|>\n<|assistant|>\n"
    assert tokenizer.eos_token == "</s>"
