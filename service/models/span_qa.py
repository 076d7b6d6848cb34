"""Extractive QA on a causal LM: every span of the context of up to `max_answer_len` words is a
candidate answer, scored by its log-likelihood as the model's reply to the question.

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


def words(context: str) -> list[tuple[int, int]]:
    return [match.span() for match in WORD.finditer(context)]


def build_prompt(lm, question: str, context: str) -> Prompt:
    demo_context, demo_question, demo_answer = DEMO
    if lm.use_chat_template:
        turns = [{"role": "user", "content": f"Context: {demo_context}\nQuestion: {demo_question}"},
                 {"role": "assistant", "content": demo_answer},
                 {"role": "user", "content": f"Context: {context}\nQuestion: {question}"}]
        text = lm.tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
        closed = lm.tokenizer.apply_chat_template(
            [turns[0], {"role": "assistant", "content": MARK}], tokenize=False)
        end = closed.split(MARK, 1)[1]  # what the template writes after an assistant's reply
        return Prompt(lm.encode(text, special_tokens=False), "", lm.encode(end, special_tokens=False)[0])
    text = (f"Context: {demo_context}\nQuestion: {demo_question}\nAnswer: {demo_answer}\n\n"
            f"Context: {context}\nQuestion: {question}\nAnswer:")
    return Prompt(lm.encode(text), " ", lm.encode("\n", special_tokens=False)[0])


def candidate_rows(lm, context: str, spans: list[tuple[int, int]], max_words: int, lead: str) -> list[Row]:
    tokenize = lm.tokenizer
    firsts = tokenize([lead + context[a:b] for a, b in spans], add_special_tokens=False)["input_ids"]
    joins = tokenize([context[spans[j - 1][1]:spans[j][1]] for j in range(1, len(spans))] or [""],
                     add_special_tokens=False)["input_ids"]
    rows = []
    for first in range(len(spans)):
        ids = list(firsts[first])
        ends = [len(ids)]
        for j in range(first + 1, min(first + max_words, len(spans))):
            ids += joins[j - 1]
            ends.append(len(ids))
        rows.append(Row(first, ids, ends))
    return rows


def prompt_cache(lm, prompt_ids: list[int]):
    """Run the prompt once: its per-layer keys and values, and the log-probabilities of what follows."""
    import torch
    from transformers import DynamicCache
    cache = DynamicCache()
    with lm.forward(1):
        hidden = lm.model.base_model(input_ids=torch.tensor([prompt_ids], device=lm.device), use_cache=True,
                                     **{_cache_keyword(lm): cache}).last_hidden_state
        following = lm.model.get_output_embeddings()(hidden[0, -1]).float().log_softmax(-1)
    return [(layer.keys, layer.values) for layer in cache.layers], following


def _cache_keyword(lm) -> str:
    import inspect
    # transformers 5 renamed past_key_values to cache
    return "cache" if "cache" in inspect.signature(lm.model.base_model.forward).parameters else "past_key_values"


def packed_inputs(lm, rows: list[Row], prompt_len: int):
    """One sequence of rows: positions restart after the prompt for each row; a row sees the prompt and itself."""
    import torch
    ids = [token for row in rows for token in row.ids]
    positions, blocked = [], torch.ones((len(ids), prompt_len + len(ids)), dtype=torch.bool)
    blocked[:, :prompt_len] = False
    offset = 0
    for row in rows:
        n = len(row.ids)
        positions += range(prompt_len, prompt_len + n)
        block = torch.ones((n, n), dtype=torch.bool).triu(1)
        blocked[offset:offset + n, prompt_len + offset:prompt_len + offset + n] = block
        offset += n
    mask = torch.zeros(blocked.shape, dtype=lm.model.dtype).masked_fill(blocked, torch.finfo(lm.model.dtype).min)
    return (torch.tensor([ids], device=lm.device), torch.tensor([positions], device=lm.device),
            mask[None, None].to(lm.device))


def score_chunk(lm, kv, rows: list[Row], prompt_len: int, end_id: int):
    """For each position of the packed rows: log P(next token of its row), log P(end of answer)."""
    import torch
    from transformers import DynamicCache
    input_ids, positions, mask = packed_inputs(lm, rows, prompt_len)
    nexts = torch.tensor([t for row in rows for t in row.ids[1:] + [end_id]], device=lm.device)
    with lm.forward(len(rows)):
        cache = DynamicCache(ddp_cache_data=kv)  # a fresh copy of the prompt's: the forward appends to it
        hidden = lm.model.base_model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                                     use_cache=True, **{_cache_keyword(lm): cache}).last_hidden_state
        logprobs = lm.model.get_output_embeddings()(hidden[0]).float().log_softmax(-1)
        following = logprobs.gather(-1, nexts[:, None])[:, 0]
        ending = logprobs[:, end_id]
    return following.cpu().numpy().astype(np.float64), ending.cpu().numpy().astype(np.float64)


def span_scores(lm, prompt: Prompt, rows: list[Row]) -> tuple[list[np.ndarray], float]:
    """The log-likelihood of every span as the answer, one array per row (spans by end word), and
    that of the empty answer."""
    kv, first = prompt_cache(lm, prompt.ids)
    first = first.cpu().numpy().astype(np.float64)
    results = []
    for chunk in _chunks(rows):
        following, ending = score_chunk(lm, kv, chunk, len(prompt.ids), prompt.end_id)
        offset = 0
        for row in chunk:
            n = len(row.ids)
            cumulative = np.cumsum(np.concatenate([[first[row.ids[0]]], following[offset:offset + n - 1]]))
            ends = np.array(row.ends) - 1
            results.append(cumulative[ends] + ending[offset + ends])
            offset += n
    return results, float(first[prompt.end_id])


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


def answer_one(lm, index, question, context, top_k, max_words, handle_impossible_answer) -> list[dict]:
    prompt = build_prompt(lm, question, context)
    spans = words(context)
    if not spans:
        raise InputError(index, "context", "the context has no words to answer with")
    rows = candidate_rows(lm, context, spans, max_words, prompt.lead)
    longest = len(prompt.ids) + max(len(row.ids) for row in rows)
    if longest > lm.max_length:
        raise InputError(index, "context", (
            f"the prompt and the longest candidate answer take {longest} tokens; {lm.name!r} reads at most "
            f"{lm.max_length}: shorten the context or max_answer_len"))
    scores, null_score = span_scores(lm, prompt, rows)
    candidates = [(float(s), spans[row.first][0], spans[row.first + k][1])
                  for row, row_scores in zip(rows, scores) for k, s in enumerate(row_scores)]
    if handle_impossible_answer:  # the empty answer: the end token right after the prompt
        candidates.append((null_score, 0, 0))
    return _ranked(context, candidates, top_k)


def _ranked(context: str, candidates: list[tuple[float, int, int]], top_k: int) -> list[dict]:
    logits = np.array([c[0] for c in candidates])
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    best = sorted(range(len(candidates)), key=lambda i: (-probs[i], candidates[i][1], candidates[i][2]))[:top_k]
    return [{"answer": context[candidates[i][1]:candidates[i][2]], "score": float(probs[i]),
             "start": candidates[i][1], "end": candidates[i][2]} for i in best]


def answer(lm, pairs, *, top_k=1, max_answer_len=None, handle_impossible_answer=False):
    """The top_k spans answering each (question, context) pair, best first; and the parameters used."""
    max_words = max_answer_len or int(lm.spec.options.get("qa_max_answer_words", 5))
    if max_words > MAX_SPAN_WORDS:
        raise InputError(None, "max_answer_len", f"a causal LM answers with at most {MAX_SPAN_WORDS} words")
    results = [answer_one(lm, index, question, context, top_k, max_words, handle_impossible_answer)
               for index, (question, context) in enumerate(pairs)]
    return results, {"max_answer_len": max_words, "max_answer_len_unit": "words",
                     "prompt_format": "chat" if lm.use_chat_template else "plain"}
