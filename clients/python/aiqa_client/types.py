"""Typed answers: one dataclass per endpoint. Keys a newer server adds land in `extra`, never lost."""
import base64
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class Answer:
    """Build a dataclass from a JSON object: known keys become fields, the rest go to `extra`."""

    @classmethod
    def from_json(cls, data: dict):
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {key: cls.convert(key, value) for key, value in data.items() if key in names}
        return cls(**known, extra={key: value for key, value in data.items() if key not in names})

    @classmethod
    def convert(cls, key: str, value):
        return value


@dataclass
class Health(Answer):
    status: str
    extra: dict = field(default_factory=dict)


@dataclass
class Readiness(Answer):
    """Whether every model is loaded; `missing` names those that are not, with their state or error."""
    ready: bool
    models: list = field(default_factory=list)
    missing: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


@dataclass
class ModelInfo(Answer):
    name: str
    task: str
    state: str
    source: str | None = None
    revision: str | None = None
    device: str | None = None
    dtype: str | None = None
    capabilities: list = field(default_factory=list)
    error: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Models(Answer):
    models: list[ModelInfo]
    defaults: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @classmethod
    def convert(cls, key, value):
        return [ModelInfo.from_json(m) for m in value] if key == "models" else value


@dataclass
class Label:
    label: str
    score: float


@dataclass
class Classification(Answer):
    """`results[i]` ranks the labels of inputs[i], best first."""
    model: str
    results: list[list[Label]]
    revision: str | None = None
    candidate_labels: list | None = None
    hypothesis_template: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def convert(cls, key, value):
        return [[Label(**item) for item in row] for row in value] if key == "results" else value

    @property
    def labels(self) -> list[str]:
        """The best label of each input."""
        return [row[0].label for row in self.results]


@dataclass
class Perplexity(Answer):
    model: str
    perplexities: list[float]
    mean_perplexity: float
    token_counts: list[int]
    max_length: int
    stride: int
    revision: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Generation(Answer):
    model: str
    text: str
    seed: int
    revision: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Similarity(Answer):
    model: str
    scores: list[float]
    revision: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class QuestionAnswers(Answer):
    """Extractive answers, in the order of the questions: results[i] lists the top_k answers to
    question i, best first, each {answer, score, start, end}."""
    model: str
    results: list
    revision: str | None = None
    top_k: int | None = None
    handle_impossible_answer: bool | None = None
    extra: dict = field(default_factory=dict)

    @property
    def answers(self) -> list[str]:
        """The best answer text to each question."""
        return [(r[0] if isinstance(r, list) else r)["answer"] for r in self.results]


@dataclass
class Entities(Answer):
    """Named entities: results[i] lists those found in inputs[i]; with word_labels, every word's BIO tag."""
    model: str
    results: list
    revision: str | None = None
    aggregation: str | None = None
    words: list | None = None
    tags: list | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class MetricInfo(Answer):
    """What a metric computes, its inputs, parameters (type, default) and primary result key."""
    name: str
    description: str | None = None
    inputs: Any = None
    parameters: dict = field(default_factory=dict)
    primary_key: str | None = None
    confidence: bool | None = None
    content_types: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


@dataclass
class MetricResult(Answer):
    """One metric's values, e.g. result={"accuracy": 0.8}; intervals when confidence was asked for."""
    metric: str
    result: dict
    params: dict = field(default_factory=dict)
    model: str | None = None
    revision: str | None = None
    confidence: dict | None = None
    confidence_intervals: dict | None = None
    evaluation_id: str | None = None  # with record=: Client.evaluations.get(evaluation_id)
    extra: dict = field(default_factory=dict)

    def value(self, key: str | None = None) -> float:
        """A number from `result`: `key`, else the one named like the metric, else the only one."""
        key = key or (self.metric if self.metric in self.result else next(iter(self.result)))
        return float(self.result[key])


@dataclass
class Comparison(Answer):
    """System b against system a on one metric key: both values, the difference and its test."""
    metric: str
    key: str
    a: float
    b: float
    params: dict = field(default_factory=dict)
    evaluation_id: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Fairness(Answer):
    """The metric per group, and the largest gaps between groups."""
    metric: str
    groups: dict
    demographic_parity_difference: float | None = None
    equal_opportunity_difference: float | None = None
    params: dict = field(default_factory=dict)
    pos_label: Any = None
    evaluation_id: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Variant:
    group: str
    text: str
    label: str
    score: float


@dataclass
class CounterfactualInput:
    input: str
    matched_terms: list[str]
    variants: list[Variant]
    flipped: bool
    score_change: float

    @classmethod
    def from_json(cls, data: dict):
        return cls(**{**data, "variants": [Variant(**v) for v in data["variants"]]})


@dataclass
class Counterfactual(Answer):
    """Per-input group variants and how the tracked label's score moved across them."""
    model: str
    label: str
    groups: list[str]
    flip_rate: float
    mean_score_change: float
    max_score_change: float
    p_value: float
    results: list[CounterfactualInput]
    revision: str | None = None
    swaps: Any = None
    group_mean_scores: dict = field(default_factory=dict)
    inputs_with_terms: int | None = None
    permutations: int | None = None
    seed: int | None = None
    candidate_labels: list | None = None
    hypothesis_template: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def convert(cls, key, value):
        return [CounterfactualInput.from_json(r) for r in value] if key == "results" else value


@dataclass
class Images(Answer):
    """Generated images as PNG bytes: images[i] is made again by a one-image request with seeds[i]."""
    model: str
    seed: int
    seeds: list[int]
    width: int
    height: int
    steps: int
    images: list[bytes]
    revision: str | None = None
    guidance_scale: float | None = None
    num_images: int | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def convert(cls, key, value):
        return [base64.b64decode(image) for image in value] if key == "images" else value

    def save(self, directory, prefix: str = "image") -> list[Path]:
        """Write each image as <prefix>-<its seed>.png under directory (made if missing); the paths."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / f"{prefix}-{seed}.png" for seed in self.seeds]
        for path, png in zip(paths, self.images):
            path.write_bytes(png)
        return paths


@dataclass
class JobProgress:
    step: int
    steps: int


@dataclass
class ImageJob(Answer):
    """An image job: state is queued, running, succeeded, failed (see `error`) or cancelled;
    progress counts denoising steps; location is the job's path (the 202's Location header)."""
    id: str
    state: str
    progress: JobProgress | None = None
    location: str | None = None
    model: str | None = None
    revision: str | None = None
    parameters: dict = field(default_factory=dict)
    error: str | None = None
    cancel_requested: bool | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    expires_at: str | None = None
    links: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.location = self.location or self.links.get("self")

    @classmethod
    def convert(cls, key, value):
        return JobProgress(**value) if key == "progress" and value else value

    @property
    def finished(self) -> bool:
        return self.state not in ("queued", "running")
