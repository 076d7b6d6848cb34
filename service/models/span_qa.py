"""Extractive QA on a causal LM (SpanQA, the causal LM's collaborator for `answer`): every span of
the context of up to `max_answer_len` words is a candidate answer, scored by its log-likelihood as
the model's reply to the question.

SpanQA asks the causal LM for little: encode text, write a chat prompt, run a prefix once and keep
its state (prefix_state), score packed continuations after it (packed_logprobs), and run work
through its batcher, so a QA request has the same queue bound (429), timeout (504) and metrics as
every other model call. The words, candidates, prompt and ranking are its own.

The prompt (a demonstration, then the context and the question) runs once; its KV cache serves
every candidate. Candidates that start at the same word share one row of tokens: the row holds the
next `max_answer_len` words of the context, and the span ending at each of its words scores the sum
of its tokens' log-probabilities plus that of the end-of-answer token right after it (the model's
say that the answer stops there). Rows are packed into one sequence per forward pass, each row
attending to the prompt and to itself only, so a candidate's score never depends on its neighbours.
Scores are the softmax over all candidates: the model's probability of that answer among them.

Words are runs of letters and digits, with inner `-'.,:/` kept ("9:40", "1,000", "O'Neil"), so an
answer never carries the sentence's final full stop. Each word is tokenized with the text that
separates it from the previous one, so a span's tokens decode to exactly its slice of the context.

Prompt format chosen by measurement on SmolLM2-135M-Instruct, 16 factoid questions with a distractor
each: one demonstration as a chat turn 15 right, the same demonstration as plain text 13, zero-shot
chat with a system instruction 5 of 8 (zero-shot without it 4 of 8); summed log-likelihoods beat
per-token means (4 vs 0 of 8 with zero-shot chat). Contextual calibration, subtracting each span's
score under the content-free question "N/A", hurt: 16 of 20 right without it, 14 at half weight, 7
at full weight. Models without a chat template get the plain prompt.
"""
import re
from dataclasses import dataclass

import numpy as np

from ..contract import InputError

WORD = re.compile(r"\w+(?:[-'’.,:/]\w+)*")
DEMO = ("Jack bought three apples at the market on Sunday. Kate bought two pears.", "What did Kate buy?", "two pears")
MARK = "\x00ANSWER\x00"
MAX_SPAN_WORDS = 32
CHUNK_TOKENS = 512  # candidate tokens per forward pass: large enough for efficient matmuls on a CPU


@dataclass
class Prompt:
    ids: list[int]
    lead: str        # what precedes the answer's first word (a space after "Answer:")
    end_id: int      # the token that closes an answer


@dataclass
class Row:
    first: int       # index of the row's first word
    ids: list[int]
    ends: list[int]  # token count at the end of each word: span first..first+k has ends[k] tokens


@dataclass
class Question:
    """One (question, context) pair, checked and tokenized in the caller's thread: the batcher gets
    only work that can be done."""
    context: str
    spans: list[tuple[int, int]]
    prompt: Prompt
    rows: list[Row]

    @property
    def tokens(self) -> int:
        return len(self.prompt.ids) + sum(len(row.ids) for row in self.rows)


def words(context: str) -> list[tuple[int, int]]:
    return [match.span() for match in WORD.finditer(context)]


class SpanQA:
    def __init__(self, lm):
        self.lm = lm

    def answer(self, pairs, *, top_k=1, max_answer_len=None, handle_impossible_answer=False):
        """The top_k spans answering each (question, context) pair, best first; and the parameters used."""
        lm = self.lm
        max_words = max_answer_len or int(lm.spec.options.get("qa_max_answer_words", 5))
        if max_words > MAX_SPAN_WORDS:
            raise InputError(None, "max_answer_len", f"a causal LM answers with at most {MAX_SPAN_WORDS} words")
        questions = [self.prepare(index, question, context, max_words)
                     for index, (question, context) in enumerate(pairs)]
        # Each question runs its own forward passes: the cost model charges a batch per question.
        scored = lm.batched("span-qa", self._score, questions, length=lambda question: question.tokens,
                            batches=len(questions))
        results = [self.ranked(question, scores, null, top_k, handle_impossible_answer)
                   for question, (scores, null) in zip(questions, scored)]
        return results, {"max_answer_len": max_words, "max_answer_len_unit": "words",
                         "prompt_format": "chat" if lm.use_chat_template else "plain"}

    def prepare(self, index: int, question: str, context: str, max_words: int) -> Question:
        prompt = self.build_prompt(question, context)
        spans = words(context)
        if not spans:
            raise InputError(index, "context", "the context has no words to answer with")
        rows = self.candidate_rows(context, spans, max_words, prompt.lead)
        longest = len(prompt.ids) + max(len(row.ids) for row in rows)
        if longest > self.lm.max_length:
            raise InputError(index, "context", (
                f"the prompt and the longest candidate answer take {longest} tokens; {self.lm.name!r} reads at "
                f"most {self.lm.max_length}: shorten the context or max_answer_len"))
        return Question(context, spans, prompt, rows)

    def build_prompt(self, question: str, context: str) -> Prompt:
        lm = self.lm
        demo_context, demo_question, demo_answer = DEMO
        if lm.use_chat_template:
            turns = [{"role": "user", "content": f"Context: {demo_context}\nQuestion: {demo_question}"},
                     {"role": "assistant", "content": demo_answer},
                     {"role": "user", "content": f"Context: {context}\nQuestion: {question}"}]
            closed = lm.chat([turns[0], {"role": "assistant", "content": MARK}], reply=False)
            end = closed.split(MARK, 1)[1]  # what the template writes after an assistant's reply
            return Prompt(lm.encode(lm.chat(turns), special_tokens=False), "", lm.encode(end, special_tokens=False)[0])
        text = (f"Context: {demo_context}\nQuestion: {demo_question}\nAnswer: {demo_answer}\n\n"
                f"Context: {context}\nQuestion: {question}\nAnswer:")
        return Prompt(lm.encode(text), " ", lm.encode("\n", special_tokens=False)[0])

    def candidate_rows(self, context: str, spans: list[tuple[int, int]], max_words: int, lead: str) -> list[Row]:
        firsts = self.lm.encode_many([lead + context[a:b] for a, b in spans])
        joins = self.lm.encode_many([context[spans[j - 1][1]:spans[j][1]] for j in range(1, len(spans))] or [""])
        rows = []
        for first in range(len(spans)):
            ids = list(firsts[first])
            ends = [len(ids)]
            for j in range(first + 1, min(first + max_words, len(spans))):
                ids += joins[j - 1]
                ends.append(len(ids))
            rows.append(Row(first, ids, ends))
        return rows

    def _score(self, questions: list[Question]) -> list[tuple[list[np.ndarray], float]]:
        """The batcher's work: each question's spans, scored after its own prompt."""
        return [self.span_scores(question.prompt, question.rows) for question in questions]

    def span_scores(self, prompt: Prompt, rows: list[Row]) -> tuple[list[np.ndarray], float]:
        """The log-likelihood of every span as the answer, one array per row (spans by end word), and
        that of the empty answer."""
        state, first = self.lm.prefix_state(prompt.ids)
        results = []
        for chunk in _chunks(rows):
            following, ending = self.lm.packed_logprobs(
                state, len(prompt.ids), [row.ids for row in chunk], prompt.end_id)
            offset = 0
            for row in chunk:
                n = len(row.ids)
                cumulative = np.cumsum(np.concatenate([[first[row.ids[0]]], following[offset:offset + n - 1]]))
                ends = np.array(row.ends) - 1
                results.append(cumulative[ends] + ending[offset + ends])
                offset += n
        return results, float(first[prompt.end_id])

    @staticmethod
    def ranked(question: Question, scores, null_score: float, top_k: int, with_null: bool) -> list[dict]:
        context, spans = question.context, question.spans
        candidates = [(float(s), spans[row.first][0], spans[row.first + k][1])
                      for row, row_scores in zip(question.rows, scores) for k, s in enumerate(row_scores)]
        if with_null:  # the empty answer: the end token right after the prompt
            candidates.append((null_score, 0, 0))
        logits = np.array([c[0] for c in candidates])
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        best = sorted(range(len(candidates)), key=lambda i: (-probs[i], candidates[i][1], candidates[i][2]))[:top_k]
        return [{"answer": context[candidates[i][1]:candidates[i][2]], "score": float(probs[i]),
                 "start": candidates[i][1], "end": candidates[i][2]} for i in best]


def _chunks(rows: list[Row]):
    chunk, size = [], 0
    for row in rows:
        if chunk and size + len(row.ids) > CHUNK_TOKENS:
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += len(row.ids)
    if chunk:
        yield chunk
