"""`prompts` payloads: LLM prompts with controlled input and output lengths.

Config (scenario `workload.payload`, besides `generator: prompts`):
  mode:          completion (default) | chat
  input_tokens:  a length distribution for the prompt (default 128)
  output_tokens: a length distribution for max_tokens (default 128)
  ignore_eos:    ask the server to generate exactly max_tokens (default true); a vLLM
                 extension, so the openai client sends it only where the server accepts it
  system:        chat mode: an optional system message before the user turn
  tokenizer:     a tokenizer.json (or a model dir holding one): prompt lengths become exact
  dataset:       a JSONL file whose rows hold `prompt` or `messages` (and optionally
                 `max_tokens`); replaces synthetic text, rows are drawn with replacement
  drift:         a timeline by intended send time (workload/drift.py's `at`, `over`, `name`),
                 each step one of `input_tokens` or `output_tokens` (a new length
                 distribution) or `vocabulary` (a list of words the prompts are then made of);
                 a request takes a step's change with probability equal to its strength

A length distribution is an integer (fixed) or a mapping:
  {dist: fixed, value: N} | {dist: uniform, min: A, max: B} |
  {dist: normal, mean: M, std: S} | {dist: lognormal, median: M, sigma: S}
with optional `min` (default 1) and `max` clips; samples are rounded to integers.

Synthetic text is a random sequence of common English words. Without a tokenizer its
length is approximate: GPT-2/LLaMA-style BPEs encode each " word" of this list as about
one token, so `input_tokens` ≈ the word count (expect ±20% on other tokenizers). With a
tokenizer, words are drawn from the tokenizer's own single-token words, so the prompt text
encodes to exactly `input_tokens` tokens (special tokens and any chat template come on top).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, TypeAdapter, model_validator

from harness.contracts import Message, ModelInfo, Payload, PromptSpec
from harness.fields import ScenarioPath, Strict
from harness.workload.drift import TimedStep, joined_tags
from harness.workload.payloads import PayloadArgs, payload_generators

# Frequent English words: each is one token, with its leading space, in GPT-2/LLaMA-style BPEs.
COMMON_WORDS = (
    "the", "of", "and", "to", "in", "is", "was", "for", "that", "with", "as", "on", "by", "at",
    "from", "his", "it", "an", "were", "are", "which", "this", "be", "or", "has", "had", "not",
    "first", "one", "their", "its", "new", "after", "but", "who", "they", "have", "her", "she",
    "two", "been", "other", "when", "there", "all", "during", "into", "school", "time", "may",
    "years", "more", "most", "only", "over", "city", "some", "world", "would", "where", "later",
    "up", "such", "used", "many", "can", "state", "about", "national", "out", "known",
    "university", "united", "then", "made", "team", "people", "year", "three", "also", "part",
    "number", "between", "life", "work", "well", "area", "game", "government", "film", "music",
    "early", "house", "high", "long", "under", "war", "book", "old", "group", "small", "great",
    "place", "name",
)


_DRAWS = {
    "fixed": lambda rng, n, d: np.full(n, float(d.value)),
    "uniform": lambda rng, n, d: rng.integers(d.min, d.max + 1, n),  # inclusive
    "normal": lambda rng, n, d: rng.normal(d.mean, d.std, n),
    "lognormal": lambda rng, n, d: rng.lognormal(np.log(d.median), d.sigma, n),
}
_PARAMS = {"fixed": ("value",), "uniform": ("min", "max"), "normal": ("mean", "std"), "lognormal": ("median", "sigma")}


class LengthDist(Strict):
    """A token-length distribution; for uniform, min and max are the range, else optional clips."""

    dist: Literal["fixed", "uniform", "normal", "lognormal"] = "fixed"
    value: int | None = Field(default=None, ge=1)
    mean: float | None = None
    std: float | None = Field(default=None, ge=0)
    median: float | None = Field(default=None, gt=0)
    sigma: float | None = Field(default=None, ge=0)
    min: int | None = Field(default=None, ge=1)
    max: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _has_its_parameters(self) -> LengthDist:
        missing = [name for name in _PARAMS[self.dist] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"length distribution {self.dist!r} needs {', '.join(missing)}")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


def _fixed_shorthand(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a length is an integer or a distribution mapping, not a boolean")  # noqa: TRY004
    return {"dist": "fixed", "value": value} if isinstance(value, int) else value


Length = Annotated[LengthDist, BeforeValidator(_fixed_shorthand)]
_LENGTH = TypeAdapter(Length)


def sample_lengths(spec: int | dict[str, Any] | LengthDist, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw `n` integer lengths ≥ 1 from a length distribution (see the module docstring)."""
    dist = _LENGTH.validate_python(spec)
    low, high = (1, np.inf) if dist.dist == "uniform" else (dist.min or 1, dist.max or np.inf)
    return np.clip(np.rint(_DRAWS[dist.dist](rng, n, dist)), float(low), float(high)).astype(np.int64)


class WordSource:
    """Builds prompt text of a token length: exact with a tokenizer, ≈1 token/word without."""

    def __init__(self, tokenizer_path: Path | None, words: list[str] | None = None) -> None:
        self.tokenizer = _load_tokenizer(tokenizer_path) if tokenizer_path else None
        self.words = np.array(words or (_single_token_words(self.tokenizer) if self.tokenizer else COMMON_WORDS))

    def text(self, n_tokens: int, rng: np.random.Generator) -> str:
        # A leading space on every word keeps each one its own pre-token, so counts add up.
        return "".join(" " + w for w in rng.choice(self.words, n_tokens))

    def verify(self, texts: list[str], lengths: list[int]) -> None:
        """With a tokenizer, prove the lengths exact (cheap, before the run) rather than assume it."""
        if self.tokenizer is None:
            return
        counts = [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]
        if counts != lengths:
            raise ValueError("this tokenizer does not split the synthetic words one token each; drop `tokenizer:` "
                             "(or, for a `vocabulary` drift, give words that are one token each)")


def _load_tokenizer(path: Path) -> Any:
    from tokenizers import Tokenizer  # only needed for exact lengths

    file = Path(path)
    return Tokenizer.from_file(str(file / "tokenizer.json" if file.is_dir() else file))


def _single_token_words(tokenizer: Any) -> list[str]:
    """Alphabetic words that encode, with their leading space, to one token."""
    words = set()
    for piece in tokenizer.get_vocab():
        # Byte-level BPEs mark a leading space with Ġ, SentencePiece with ▁.
        word = piece[1:] if piece[:1] in ("Ġ", "▁") else ""
        if len(word) >= 2 and word.isascii() and word.isalpha():
            words.add(word)
    single = sorted(w for w in words if len(tokenizer.encode(" " + w, add_special_tokens=False).ids) == 1)
    if not single:
        raise ValueError("the tokenizer has no single-token words to build exact-length prompts from")
    return single


PROMPT_KINDS = ("input_tokens", "output_tokens", "vocabulary")


class PromptDriftStep(TimedStep):
    input_tokens: Length | None = None
    output_tokens: Length | None = None
    vocabulary: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> PromptDriftStep:
        given = [kind for kind in PROMPT_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(f"a prompt drift step has exactly one of {', '.join(PROMPT_KINDS)}; "
                             f"got {', '.join(given) or 'none'}")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in PROMPT_KINDS if getattr(self, kind) is not None)

    @property
    def tag(self) -> str:
        return self.name or f"{self.kind}@{self.at:g}s"


class PromptsArgs(PayloadArgs):
    generator: Literal["prompts"] = "prompts"
    mode: Literal["completion", "chat"] = "completion"
    input_tokens: Length = LengthDist(value=128)
    output_tokens: Length = LengthDist(value=128)
    ignore_eos: bool = True
    system: str | None = None
    tokenizer: ScenarioPath | None = None
    dataset: ScenarioPath | None = None
    drift: list[PromptDriftStep] = Field(default_factory=list, description="a timeline of prompt drift")

    @model_validator(mode="after")
    def _drift_fits(self) -> PromptsArgs:
        if self.dataset and any(step.kind != "output_tokens" for step in self.drift):
            raise ValueError("drift: a dataset's prompts are its own; only output_tokens can drift with one")
        return self


@payload_generators.register("prompts", args=PromptsArgs)
class PromptGenerator:
    def __init__(self, args: PromptsArgs) -> None:
        self.mode = args.mode
        self.input_tokens = args.input_tokens
        self.output_tokens = args.output_tokens
        self.ignore_eos = args.ignore_eos
        self.system = args.system
        self.drift = args.drift
        # source 0 is the scenario's own words, source k the k-th vocabulary drift's
        vocabularies = [step.vocabulary for step in args.drift if step.kind == "vocabulary"]
        self.sources = [] if args.dataset else [WordSource(args.tokenizer, words) for words in [None, *vocabularies]]
        self.rows = _read_dataset(args.dataset, args.mode) if args.dataset else None
        self.dataset = args.dataset

    def generate(self, n: int, info: ModelInfo, rng: np.random.Generator,
                 times_s: np.ndarray | None = None) -> list[Payload]:
        times = np.full(n, np.nan) if times_s is None else np.asarray(times_s, dtype=float)
        out_lengths = self._lengths("output_tokens", self.output_tokens, times, rng)
        if self.rows is not None:
            picks = rng.integers(0, len(self.rows), n)
            specs = [self._from_row(self.rows[int(p)], int(m)) for p, m in zip(picks, out_lengths)]
        else:
            in_lengths = self._lengths("input_tokens", self.input_tokens, times, rng).tolist()
            texts = self._texts(in_lengths, times, rng)
            specs = [self._synthetic(t, k, int(m)) for t, k, m in zip(texts, in_lengths, out_lengths)]
        tags = joined_tags(self.drift, times)
        return [Payload(payload_id=i, data=spec, drift_tag=tags[i]) for i, spec in enumerate(specs)]

    def describe(self, info: ModelInfo) -> str:
        source = f"the dataset {self.dataset.name}" if self.dataset else "synthetic text"
        return f"prompts ({self.mode}): from {source}"

    def _lengths(self, kind: str, base: LengthDist, times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Lengths from the scenario's distribution, and from each drift step's where it acts."""
        lengths = sample_lengths(base, len(times), rng)
        for step in (s for s in self.drift if s.kind == kind):
            chosen = step.chosen(times, rng)
            lengths[chosen] = sample_lengths(getattr(step, kind), int(chosen.sum()), rng)
        return lengths

    def _texts(self, lengths: list[int], times: np.ndarray, rng: np.random.Generator) -> list[str]:
        source = np.zeros(len(lengths), dtype=np.int64)
        for index, step in enumerate(s for s in self.drift if s.kind == "vocabulary"):
            source[step.chosen(times, rng)] = index + 1
        texts = [self.sources[k].text(length, rng) for k, length in zip(source, lengths)]
        for k, words in enumerate(self.sources):
            mine = np.flatnonzero(source == k)
            words.verify([texts[i] for i in mine], [lengths[i] for i in mine])
        return texts

    def _synthetic(self, text: str, n_tokens: int, max_tokens: int) -> PromptSpec:
        if self.mode == "chat":
            return PromptSpec(max_tokens, messages=self._chat(text), ignore_eos=self.ignore_eos, input_tokens=n_tokens)
        return PromptSpec(max_tokens, prompt=text, ignore_eos=self.ignore_eos, input_tokens=n_tokens)

    def _from_row(self, row: dict[str, Any], max_tokens: int) -> PromptSpec:
        max_tokens = int(row.get("max_tokens", max_tokens))
        if self.mode == "completion":
            return PromptSpec(max_tokens, prompt=row["prompt"], ignore_eos=self.ignore_eos)
        messages = row.get("messages") or self._chat(row["prompt"])
        return PromptSpec(max_tokens, messages=messages, ignore_eos=self.ignore_eos)

    def _chat(self, text: str) -> list[Message]:
        system = [{"role": "system", "content": self.system}] if self.system else []
        return [*system, {"role": "user", "content": text}]


def _read_dataset(path: Path, mode: str) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                rows.append(_dataset_row(line, f"{path}:{number}", mode))
    if not rows:
        raise ValueError(f"{path}: no prompts")
    return rows


def _dataset_row(line: str, where: str, mode: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not JSON: {exc.msg}") from None
    if not isinstance(row, dict) or not (isinstance(row.get("prompt"), str) or isinstance(row.get("messages"), list)):
        raise ValueError(f"{where}: a row needs a string `prompt` or a list `messages`")  # noqa: TRY004 - a data error
    if mode == "completion" and not isinstance(row.get("prompt"), str):
        # The chat template lives on the server; a completion request cannot carry messages.
        raise ValueError(f"{where}: completion mode needs a `prompt` (use mode: chat for `messages`)")
    return row

