"""The baseline the seed course's scripts lead to: a Flask app that calls the model once per request.

No batching, no queue, no warm-up discipline: each request tokenizes and runs its own forward pass.
Served by gunicorn with the same worker and thread counts as aiqa, so only the model layer differs.

    AIQA_NAIVE_LM=DIR AIQA_NAIVE_EMBEDDER=DIR gunicorn -w 1 -k gthread --threads 16 'bench.naive_server:app'
"""
import math
import os

import torch
from flask import Flask, jsonify, request
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

app = Flask(__name__)
lm_tokenizer = AutoTokenizer.from_pretrained(os.environ["AIQA_NAIVE_LM"])
lm = AutoModelForCausalLM.from_pretrained(os.environ["AIQA_NAIVE_LM"]).eval()
embed_tokenizer = AutoTokenizer.from_pretrained(os.environ["AIQA_NAIVE_EMBEDDER"])
embedder = AutoModel.from_pretrained(os.environ["AIQA_NAIVE_EMBEDDER"]).eval()


def embed(text):
    encoded = embed_tokenizer(text, return_tensors="pt", truncation=True, max_length=256)
    hidden = embedder(**encoded).last_hidden_state[0]
    return torch.nn.functional.normalize(hidden.mean(0), dim=-1)


@app.post("/v1/similarity")
def similarity():
    with torch.inference_mode():
        scores = [float(embed(a) @ embed(b)) for a, b in request.json["pairs"]]
    return jsonify(scores=scores)


@app.post("/v1/perplexity")
def perplexity():
    results = []
    with torch.inference_mode():
        for text in request.json["inputs"]:
            ids = lm_tokenizer(text, return_tensors="pt").input_ids
            results.append(math.exp(lm(ids, labels=ids).loss.item()))
    return jsonify(perplexities=results)
