"""Where a GGUF source's conversion is kept (service/models/sources.py): named by the file's contents."""
import json
import os
import shutil

from service.models import sources


def write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def test_copies_of_a_file_in_two_places_share_one_conversion_and_another_file_gets_its_own(tmp_path, monkeypatch):
    data = os.urandom(3 << 20)
    first = write(tmp_path / "checkout-a" / "model.gguf", data)
    second = write(tmp_path / "checkout-b" / "model.gguf", data)
    changed = write(tmp_path / "checkout-c" / "model.gguf", data[:2 << 20] + bytes([data[2 << 20] ^ 1]) + data[(2 << 20) + 1:])
    cache = str(tmp_path / "cache")
    key = sources.gguf_content_key(first, cache)
    assert key == sources.gguf_content_key(second, cache) != sources.gguf_content_key(changed, cache)

    conversions = []

    def convert(command, **_):  # the child process's work: write the folder and its marker
        conversions.append(command[-2])
        os.makedirs(command[-1], exist_ok=True)
        with open(os.path.join(command[-1], "aiqa-converted.json"), "w") as marker:
            json.dump({"gguf": command[-2]}, marker)
        return type("Done", (), {"returncode": 0, "stderr": ""})()

    monkeypatch.setattr(sources.subprocess, "run", convert)
    target = sources.convert_gguf(first, cache)
    assert target.endswith(f"model-{key}")
    assert sources.convert_gguf(second, cache) == target
    assert sources.convert_gguf(changed, cache) != target
    assert conversions == [first, changed]


def test_the_digest_is_kept_until_the_file_changes(tmp_path):
    path = tmp_path / "model.gguf"
    write(path, b"first contents")
    cache = str(tmp_path / "cache")
    key = sources.gguf_content_key(str(path), cache)
    assert len(os.listdir(tmp_path / "cache" / "gguf" / "keys")) == 1
    assert sources.gguf_content_key(str(path), cache) == key
    write(path, b"other contents, longer")
    other = sources.gguf_content_key(str(path), cache)
    assert other != key
    shutil.rmtree(tmp_path / "cache")  # hashed again: the same contents, the same key
    assert sources.gguf_content_key(str(path), cache) == other
