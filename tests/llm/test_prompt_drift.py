"""Prompt drift: lengths and vocabulary change on the timeline, tagged, and nothing before."""

import numpy as np
import pytest
from pydantic import ValidationError

from harness.contracts import ModelInfo
from harness.workload.payloads import make_payload_generator
from harness.workload.prompts import COMMON_WORDS, PromptsArgs

N = 4000
TIMES = np.linspace(0.0, 100.0, N, endpoint=False)


def drifted(*steps: dict, **config):
    args = PromptsArgs.model_validate({"generator": "prompts", "input_tokens": 64, "output_tokens": 32, **config,
                                       "drift": list(steps)})
    return make_payload_generator(args).generate(N, ModelInfo(), np.random.default_rng(1), TIMES)


def test_longer_prompts_and_outputs_from_their_onsets():
    payloads = drifted({"at": "50s", "input_tokens": 512}, {"at": "75s", "output_tokens": {"dist": "fixed", "value": 256}})
    inputs = np.array([p.data.input_tokens for p in payloads])
    outputs = np.array([p.data.max_tokens for p in payloads])
    assert set(inputs[TIMES < 50]) == {64} and set(inputs[TIMES >= 50]) == {512}
    assert set(outputs[TIMES < 75]) == {32} and set(outputs[TIMES >= 75]) == {256}
    assert payloads[0].drift_tag is None and payloads[-1].drift_tag == "input_tokens@50s+output_tokens@75s"


def test_a_ramp_mixes_old_and_new_lengths_in_proportion():
    payloads = drifted({"at": "0s", "over": "100s", "input_tokens": 512})
    inputs = np.array([p.data.input_tokens for p in payloads])
    half = (TIMES >= 40) & (TIMES < 60)
    assert np.mean(inputs[half] == 512) == pytest.approx(0.5, abs=0.06)


def test_a_vocabulary_drift_swaps_the_words():
    payloads = drifted({"at": "50s", "vocabulary": ["invoice", "refund", "chargeback"], "name": "support-tickets"})
    early = {w for p, t in zip(payloads, TIMES) if t < 50 for w in p.data.prompt.split()}
    late = {w for p, t in zip(payloads, TIMES) if t >= 50 for w in p.data.prompt.split()}
    assert early <= set(COMMON_WORDS) and late == {"invoice", "refund", "chargeback"}
    assert all(len(p.data.prompt.split()) == 64 for p in payloads)
    assert payloads[-1].drift_tag == "support-tickets"


def test_without_drift_the_payloads_are_as_before():
    args = {"generator": "prompts", "input_tokens": 64, "output_tokens": 32}
    plain = make_payload_generator(PromptsArgs.model_validate(args)).generate(50, ModelInfo(), np.random.default_rng(1))
    timed = make_payload_generator(PromptsArgs.model_validate(args)).generate(50, ModelInfo(), np.random.default_rng(1),
                                                                              TIMES[:50])
    assert [p.data for p in plain] == [p.data for p in timed]


@pytest.mark.parametrize(("config", "message"), [
    ({"drift": [{"at": 0, "input_tokens": 10, "vocabulary": ["a"]}]}, "exactly one of input_tokens"),
    ({"drift": [{"at": 0}]}, "got none"),
    ({"drift": [{"at": 0, "vocabulary": []}]}, "at least 1"),
])
def test_malformed_prompt_drift_is_refused(config, message):
    with pytest.raises(ValidationError, match=message):
        PromptsArgs.model_validate({"generator": "prompts", **config})


def test_a_dataset_cannot_drift_its_prompts(tmp_path):
    data = tmp_path / "prompts.jsonl"
    data.write_text('{"prompt": "hello"}\n')
    with pytest.raises(ValidationError, match="only output_tokens can drift"):
        PromptsArgs.model_validate({"generator": "prompts", "dataset": str(data),
                                    "drift": [{"at": 0, "input_tokens": 10}]})
