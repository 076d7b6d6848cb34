"""Functional cases (one prompt, checks on each reply) and consistency cases (replies must agree)."""
import itertools
import math

from .base import Attempt, Case, Spec, SuiteError
from .checks import parse_check

PAIRS_PER_CALL = 200  # below the service's default item limit (256)


class FunctionalCase(Case):
    """Ask `prompt` `repeats` times; an attempt passes when every check in `expect` holds."""
    kind = "functional"

    def __init__(self, spec: Spec, defaults: dict):
        super().__init__(spec, defaults)
        self.prompt = spec.get("prompt", str, required=True)
        self.system = spec.get("system", str)
        expect = spec.get("expect", list, required=True)
        if not expect:
            raise SuiteError(f"{spec.where}.expect: give at least one check")
        self.checks = [parse_check(raw, f"{spec.where}.expect[{i}]") for i, raw in enumerate(expect)]

    @property
    def uses_service(self) -> bool:
        return any(check.uses_service for check in self.checks)

    def calls(self) -> tuple[int, int]:
        return self.repeats, self.repeats * sum(check.uses_service for check in self.checks)

    def attempts(self, ctx) -> list[Attempt]:
        return [self.trial(lambda: self.attempt(ctx.reply(self.prompt, self.system), ctx))
                for _ in range(self.repeats)]

    def attempt(self, reply: str, ctx) -> Attempt:
        results = []
        for check in self.checks:
            held, reason, numbers = check.evaluate(reply, ctx)
            results.append({"check": check.name, "passed": held, "reason": reason, **numbers})
        failed = [r for r in results if not r["passed"]]
        reason = f"{failed[0]['check']}: {failed[0]['reason']}" if failed else "every check held"
        return Attempt(not failed, reason, {"prompt": self.prompt, "reply": reply, "checks": results})


class ConsistencyCase(Case):
    """Ask each of `prompts` (paraphrases of one question) `repeats` times; every pair of replies
    must reach `min_similarity` (cosine of embeddings on the scoring service). One attempt: its
    repeats are replies compared with each other, not attempts of their own."""
    kind = "consistency"

    def __init__(self, spec: Spec, defaults: dict):
        super().__init__(spec, defaults)
        self.prompts = spec.get("prompts", list, required=True)
        if not self.prompts or not all(isinstance(p, str) and p for p in self.prompts):
            raise SuiteError(f"{spec.where}.prompts: must be a non-empty list of texts")
        if len(self.prompts) * self.repeats < 2:
            raise SuiteError(f"{spec.where}: needs at least two replies: give two prompts or repeats >= 2")
        self.min_similarity = spec.get("min_similarity", float, required=True)
        self.model = spec.get("model", str)

    @property
    def uses_service(self) -> bool:
        return True

    def calls(self) -> tuple[int, int]:
        replies = len(self.prompts) * self.repeats
        return replies, math.ceil(replies * (replies - 1) / 2 / PAIRS_PER_CALL)

    def attempts(self, ctx) -> list[Attempt]:
        asked = [prompt for prompt in self.prompts for _ in range(self.repeats)]
        replies = [ctx.reply(prompt) for prompt in asked]
        pairs = list(itertools.combinations(range(len(replies)), 2))
        texts = [[replies[i], replies[j]] for i, j in pairs]
        scores = [score for start in range(0, len(texts), PAIRS_PER_CALL) for score in ctx.scoring(
            "similarity", lambda s: s.similarity(texts[start:start + PAIRS_PER_CALL], model=self.model).scores)]
        worst = min(range(len(pairs)), key=scores.__getitem__)
        held = scores[worst] >= self.min_similarity
        i, j = pairs[worst]
        reason = (f"least similar pair {scores[worst]:.3f} {'>=' if held else '<'} {self.min_similarity}: "
                  f"{replies[i][:80]!r} vs {replies[j][:80]!r}")
        data = {"prompts": asked, "replies": replies, "min_similarity": scores[worst],
                "mean_similarity": sum(scores) / len(scores)}
        return [Attempt(held, reason, data)]

    def repeat_groups(self, attempts: list[Attempt]) -> list[list[Attempt]]:
        return []
