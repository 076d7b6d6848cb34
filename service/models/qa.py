"""Extractive question answering heads (AutoModelForQuestionAnswering, e.g. roberta-base-squad2),
answered as transformers' question-answering pipeline answered them (it left transformers in 5.0).

Contexts longer than the window are split into chunks that overlap by `doc_stride` tokens; every
chunk is scored and the answers of all chunks compete. Scores and spans follow the pipeline step by
step: softmax over each chunk's context tokens, span score start*end, the k*2+10 best spans per
chunk aligned to whole words, answers with the same text (any case) summed, the SQuAD 2.0 null
answer scored from [CLS] as the lowest null score of any chunk. Chunks are batched (padded on the
right and cut back before scoring), which changes nothing but float noise.
"""
from dataclasses import dataclass

import numpy as np

from ..contract import InputError
from .base import ModelWrapper, calibration_text


@dataclass
class Chunk:
    """One window of question + context: the model's input and what maps it back to the context."""
    owner: int
    features: dict
    p_mask: np.ndarray          # 1 where a token cannot be part of an answer
    encoding: object            # the tokenizers.Encoding, for token -> word -> characters
    start: np.ndarray | None = None
    end: np.ndarray | None = None


def _select_starts_ends():
    try:  # transformers 4.x
        from transformers.pipelines.question_answering import select_starts_ends
    except ImportError:  # transformers 5 kept the function with document question answering
        from transformers.pipelines.document_question_answering import select_starts_ends
    return select_starts_ends


class QuestionAnswerer(ModelWrapper):
    task = "question-answering"
    capabilities = frozenset({"qa"})
    auto_class = "AutoModelForQuestionAnswering"
    default_max_answer_len = 15  # tokens, as the pipeline

    def __init__(self, spec, *, model, tokenizer, **kwargs):
        super().__init__(spec, **kwargs)
        if not tokenizer.is_fast:
            raise ValueError(f"{spec.name!r}: extractive QA needs a fast tokenizer (for character offsets)")
        self.model, self.tokenizer = model, tokenizer
        self.max_seq_len = int(spec.options.get("max_seq_len") or min(tokenizer.model_max_length, 384))
        self.doc_stride = int(spec.options.get("doc_stride") or min(self.max_seq_len // 2, 128))
        if self.doc_stride >= self.max_seq_len:
            raise ValueError(f"doc_stride ({self.doc_stride}) must be smaller than max_seq_len ({self.max_seq_len})")
        self.question_first = tokenizer.padding_side == "right"
        self.select_starts_ends = _select_starts_ends()

    def warmup(self) -> None:
        self.answer([("What is this?", "This is a short text to warm the model up.")])

    def describe(self) -> dict:
        return {**super().describe(), "max_seq_len": self.max_seq_len, "doc_stride": self.doc_stride}

    def calibration_calls(self):
        # The large call: a context of about four full windows.
        long = calibration_text(4 * self.max_seq_len)
        return [("qa", "token", lambda: self.answer([("What jumps?", "The fox jumps.")])),
                ("qa", "token", lambda: self.answer([("What jumps?", long)]))]

    def answer(self, pairs, *, top_k=1, max_answer_len=None, handle_impossible_answer=False):
        """The top_k answers to each (question, context) pair, best first; and the parameters used."""
        max_answer_len = max_answer_len or self.default_max_answer_len
        chunks = [chunk for index, (question, context) in enumerate(pairs)
                  for chunk in self.chunks(index, question, context)]
        self.score(chunks)
        results = [self.best_answers(context, [c for c in chunks if c.owner == index], top_k, max_answer_len,
                                     handle_impossible_answer)
                   for index, (_, context) in enumerate(pairs)]
        return results, {"max_answer_len": max_answer_len, "max_answer_len_unit": "tokens",
                         "max_seq_len": self.max_seq_len, "doc_stride": self.doc_stride}

    # -- pre-processing ------------------------------------------------------------------------
    def chunks(self, index: int, question: str, context: str) -> list[Chunk]:
        self.check_room(index, question)
        first, second = (question, context) if self.question_first else (context, question)
        encoded = self.tokenizer(
            text=first, text_pair=second, truncation="only_second" if self.question_first else "only_first",
            max_length=self.max_seq_len, stride=self.doc_stride, return_token_type_ids=True,
            return_overflowing_tokens=True, return_offsets_mapping=True, return_special_tokens_mask=True)
        self.check_coverage(encoded, context)
        chunks = []
        for span in range(len(encoded["input_ids"])):
            ids = encoded["input_ids"][span]
            # Only context tokens can answer; [CLS] stays open: SQuAD 2.0 models point there for "no answer".
            p_mask = np.array([int(self.question_first and seq != 1) for seq in encoded.sequence_ids(span)])
            if self.tokenizer.cls_token_id is not None:
                p_mask[np.array(ids) == self.tokenizer.cls_token_id] = 0
            features = {name: encoded[name][span] for name in self.tokenizer.model_input_names if name in encoded}
            chunks.append(Chunk(index, features, p_mask, encoded[span]))
        return chunks

    def check_coverage(self, encoded, context: str) -> None:
        """Fail loudly rather than answer from part of the context: tokenizers 0.23.1 and 0.23.2 cut
        the overflowing chunks of a long text short (huggingface/tokenizers#2091)."""
        sequence = 1 if self.question_first else 0
        reached = max((end for span in range(len(encoded["input_ids"]))
                       for (_, end), seq in zip(encoded["offset_mapping"][span], encoded.sequence_ids(span))
                       if seq == sequence), default=0)
        whole = self.tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        if whole and reached < whole[-1][1]:
            raise RuntimeError(f"the tokenizer's chunks stop at character {reached} of {whole[-1][1]}; "
                               "tokenizers 0.23.1 and 0.23.2 have this bug: upgrade tokenizers")

    def check_room(self, index: int, question: str) -> None:
        """The question and special tokens must leave more than doc_stride tokens for the context."""
        question_len = len(self.tokenizer(question, add_special_tokens=False)["input_ids"])
        room = self.max_seq_len - self.tokenizer.num_special_tokens_to_add(pair=True) - question_len
        if room <= self.doc_stride:
            limit = self.max_seq_len - self.tokenizer.num_special_tokens_to_add(pair=True) - self.doc_stride - 1
            raise InputError(index, "question", (
                f"the question has {question_len} tokens; {self.name!r} (max_seq_len {self.max_seq_len}, "
                f"doc_stride {self.doc_stride}) takes questions of at most {limit} tokens"))

    # -- the forward pass ------------------------------------------------------------------------
    def score(self, chunks: list[Chunk]) -> None:
        """Fill each chunk's start and end logits (float32, the chunk's own length), batched with the
        chunks of concurrent requests."""
        logits = self.batched("qa", self._score_batch, chunks, length=lambda chunk: len(chunk.p_mask))
        for chunk, (start, end) in zip(chunks, logits):
            chunk.start, chunk.end = start, end

    def _score_batch(self, chunks: list[Chunk]) -> list[tuple[np.ndarray, np.ndarray]]:
        return self.by_length(chunks, lambda chunk: len(chunk.p_mask), self._score_part)

    def _score_part(self, chunks: list[Chunk]) -> list[tuple[np.ndarray, np.ndarray]]:
        with self.forward(len(chunks)):
            output = self.model(**self.padded(chunks))
            starts = output.start_logits.float().cpu().numpy()
            ends = output.end_logits.float().cpu().numpy()
        return [(starts[row, :len(chunk.p_mask)], ends[row, :len(chunk.p_mask)]) for row, chunk in enumerate(chunks)]

    def padded(self, chunks: list[Chunk]) -> dict:
        """The chunks' features as tensors, padded on the right (pad id for ids, 0 for masks and types)."""
        import torch
        width = max(len(chunk.p_mask) for chunk in chunks)
        pads = {"input_ids": self.tokenizer.pad_token_id or 0}
        return {name: torch.tensor([c.features[name] + [pads.get(name, 0)] * (width - len(c.p_mask)) for c in chunks],
                                   device=self.device)
                for name in chunks[0].features}

    # -- post-processing -------------------------------------------------------------------------
    def best_answers(self, context, chunks, top_k, max_answer_len, handle_impossible_answer) -> list[dict]:
        min_null_score, answers = 1000000.0, []
        for chunk in chunks:
            starts, ends, scores, min_null_score = self.select_starts_ends(
                chunk.start[None], chunk.end[None], chunk.p_mask[None], np.ones_like(chunk.p_mask)[None],
                min_null_score, top_k * 2 + 10, handle_impossible_answer, max_answer_len)
            for s, e, score in zip(starts, ends, scores):
                begin, stop = self.char_span(chunk.encoding, int(s), int(e))
                text = context[begin:stop]
                same = next((a for a in answers if a["answer"].lower() == text.lower()), None)
                if same is not None:
                    same["score"] += score.item()
                else:
                    answers.append({"answer": text, "score": score.item(), "start": begin, "end": stop})
        if handle_impossible_answer:
            answers.append({"answer": "", "score": min_null_score, "start": 0, "end": 0})
        return sorted(answers, key=lambda a: a["score"], reverse=True)[:top_k]

    def char_span(self, encoding, start: int, end: int) -> tuple[int, int]:
        """Characters of the whole words the tokens fall in; token offsets where words are unknown."""
        sequence = 1 if self.question_first else 0
        try:
            begin = encoding.word_to_chars(encoding.token_to_word(start), sequence_index=sequence)[0]
            stop = encoding.word_to_chars(encoding.token_to_word(end), sequence_index=sequence)[1]
        except Exception:  # the pipeline's fallback, for tokenizers without words
            begin, stop = encoding.offsets[start][0], encoding.offsets[end][1]
        return begin, stop
