import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from harness.contracts import ModelInfo, PromptSpec
from harness.workload.payloads import make_payload_generator
from harness.workload.prompts import sample_lengths

N = 20_000


def _rng() -> np.random.Generator:
    return np.random.default_rng(42)


def test_fixed_and_uniform_lengths() -> None:
    assert set(sample_lengths(64, 100, _rng())) == {64}
    assert set(sample_lengths({"dist": "fixed", "value": 7}, 10, _rng())) == {7}
    uniform = sample_lengths({"dist": "uniform", "min": 10, "max": 20}, N, _rng())
    assert uniform.min() == 10 and uniform.max() == 20  # both ends inclusive
    assert np.mean(uniform) == pytest.approx(15, abs=0.1)


def test_normal_and_lognormal_lengths() -> None:
    normal = sample_lengths({"dist": "normal", "mean": 200, "std": 20}, N, _rng())
    assert np.mean(normal) == pytest.approx(200, abs=1) and np.std(normal) == pytest.approx(20, rel=0.05)
    lognormal = sample_lengths({"dist": "lognormal", "median": 100, "sigma": 0.5}, N, _rng())
    assert np.median(lognormal) == pytest.approx(100, rel=0.03)
    assert np.std(np.log(lognormal)) == pytest.approx(0.5, rel=0.05)


def test_lengths_are_clipped_and_at_least_one() -> None:
    clipped = sample_lengths({"dist": "normal", "mean": 5, "std": 50, "max": 30}, N, _rng())
    assert clipped.min() == 1 and clipped.max() == 30 and clipped.dtype == np.int64


@pytest.mark.parametrize(
    "spec", [{"dist": "zipf"}, {"dist": "normal", "mean": 3}, {"dist": "uniform", "min": 1}, "many", True]
)
def test_bad_distributions_are_named(spec) -> None:
    with pytest.raises(ValueError):
        sample_lengths(spec, 3, _rng())


def test_same_seed_same_payloads() -> None:
    config = {"generator": "prompts", "input_tokens": {"dist": "uniform", "min": 5, "max": 50}}
    first = make_payload_generator(config).generate(50, ModelInfo(), _rng())
    again = make_payload_generator(config).generate(50, ModelInfo(), _rng())
    assert [p.data for p in first] == [p.data for p in again]


def test_synthetic_prompts_approximate_the_length_without_a_tokenizer() -> None:
    config = {"generator": "prompts", "input_tokens": 100, "output_tokens": {"dist": "uniform", "min": 8, "max": 16}}
    payloads = make_payload_generator(config).generate(200, ModelInfo(), _rng())
    spec = payloads[0].data
    assert isinstance(spec, PromptSpec) and spec.messages is None and spec.ignore_eos
    assert len(spec.prompt.split()) == 100 and spec.input_tokens == 100
    assert {p.payload_id for p in payloads} == set(range(200))
    assert {p.data.max_tokens for p in payloads} == set(range(8, 17))


def test_a_tokenizer_makes_lengths_exact(tiny_model_dir: Path) -> None:
    config = {"generator": "prompts", "input_tokens": {"dist": "lognormal", "median": 60, "sigma": 0.6}, "tokenizer": str(tiny_model_dir)}
    payloads = make_payload_generator(config).generate(300, ModelInfo(), _rng())
    tokenizer = Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))
    counts = [len(tokenizer.encode(p.data.prompt, add_special_tokens=False).ids) for p in payloads]
    assert counts == [p.data.input_tokens for p in payloads]


def test_chat_mode_builds_messages_with_an_optional_system_turn() -> None:
    config = {"generator": "prompts", "mode": "chat", "input_tokens": 5, "system": "be brief", "ignore_eos": False}
    spec = make_payload_generator(config).generate(1, ModelInfo(), _rng())[0].data
    assert spec.prompt is None and not spec.ignore_eos
    assert spec.messages[0] == {"role": "system", "content": "be brief"}
    assert spec.messages[1]["role"] == "user" and len(spec.messages[1]["content"].split()) == 5


def test_dataset_rows_with_their_own_max_tokens(tmp_path: Path) -> None:
    data = tmp_path / "prompts.jsonl"
    rows = [{"prompt": "one", "max_tokens": 3}, {"prompt": "two"}, {"messages": [{"role": "user", "content": "three"}]}]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    chat = make_payload_generator({"generator": "prompts", "mode": "chat", "dataset": str(data), "output_tokens": 9})
    specs = [p.data for p in chat.generate(300, ModelInfo(), _rng())]
    contents = {s.messages[-1]["content"] for s in specs}
    assert contents == {"one", "two", "three"}
    assert {s.max_tokens for s in specs if s.messages[-1]["content"] == "one"} == {3}
    assert {s.max_tokens for s in specs if s.messages[-1]["content"] != "one"} == {9}
    with pytest.raises(ValueError, match="prompts.jsonl:3: completion mode needs a `prompt`"):
        make_payload_generator({"generator": "prompts", "dataset": str(data)})


def test_unknown_keys_and_modes_are_errors() -> None:
    with pytest.raises(ValueError, match="input_token\n  Extra inputs are not permitted"):
        make_payload_generator({"generator": "prompts", "input_token": 5})
    with pytest.raises(ValueError, match="mode"):
        make_payload_generator({"generator": "prompts", "mode": "embeddings"})
