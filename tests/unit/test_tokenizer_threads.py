"""Tokenizers called from several threads at once: request threads count tokens while the compute
thread encodes padded batches (service/models/base.py, serial_tokenizer)."""
from concurrent.futures import ThreadPoolExecutor

from aiqa_fixtures import write_profile

TEXTS = ["fine", "a somewhat longer text than the others here", "short one", "one two three four five six seven"]


def test_concurrent_similarity_requests_with_batching_off_all_succeed(tiny_models, tmp_path):
    from service import create_app
    profile = write_profile(tmp_path / "p.yaml", [
        {"name": "tiny-embed", "task": "embeddings", "source": f"dir:{tiny_models['bert-classifier']}",
         "options": {"max_batch_size": 8}}])
    app = create_app({"MODELS": profile, "LOAD_IN_BACKGROUND": False, "STORE": False, "BATCHING": False})
    client = app.test_client()

    def ask(i):
        pairs = [[TEXTS[i % 4], TEXTS[(i + 1) % 4]], [TEXTS[(i + 2) % 4], TEXTS[(i + 3) % 4] * (1 + i % 3)]]
        response = client.post("/v1/similarity", json={"model": "tiny-embed", "pairs": pairs})
        return response.status_code, response.get_json()["scores"] if response.status_code == 200 else None

    alone = {i % 12: ask(i)[1] for i in range(12)}
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(96)))
    assert {status for status, _ in answers} == {200}
    assert all(scores == alone[i % 12] for i, (_, scores) in enumerate(answers))


def test_a_serial_tokenizer_keeps_its_class_and_its_answers(tiny_models):
    from transformers import AutoTokenizer

    from service.models.base import serial_tokenizer
    plain = AutoTokenizer.from_pretrained(tiny_models["bert-classifier"])
    serial = serial_tokenizer(AutoTokenizer.from_pretrained(tiny_models["bert-classifier"]))
    assert isinstance(serial, type(plain)) and serial_tokenizer(serial) is serial
    assert serial(TEXTS, padding=True)["input_ids"] == plain(TEXTS, padding=True)["input_ids"]
    assert serial.decode(plain("fine")["input_ids"]) == plain.decode(plain("fine")["input_ids"])
