"""Convert a GGUF checkpoint to a transformers safetensors folder: `python -m service.models.gguf_convert SRC DST`.

Run by service.models.sources in a child process. Writes into a staging folder and renames it into
place, so a reader never sees a half-written folder.
"""
import json
import os
import shutil
import sys
import tempfile


def convert(gguf_path: str, target: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    folder, name = os.path.split(gguf_path)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained; rebuild it from a clean config and copy the
    # de-quantized weights over.
    config_dict = quantized.config.to_dict()
    config_dict.pop("quantization_config", None)
    model = type(quantized)(type(quantized.config).from_dict(config_dict))
    model.load_state_dict(quantized.state_dict())
    staging = tempfile.mkdtemp(dir=os.path.dirname(target), prefix=".convert-")
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        with open(os.path.join(staging, "aiqa-converted.json"), "w") as fh:
            json.dump({"gguf": gguf_path, "size": os.path.getsize(gguf_path)}, fh)
        shutil.rmtree(target, ignore_errors=True)
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    convert(sys.argv[1], sys.argv[2])
