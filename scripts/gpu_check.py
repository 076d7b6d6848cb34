#!/usr/bin/env python
"""GPU checks: the model tests on CUDA in half precision, with throughput and peak GPU memory.

    python scripts/gpu_check.py [CHECK ...]     (make gpu-check)

Where CUDA is missing it says so and exits 0, so CI on a CPU machine can run it. Each check is a
function in CHECKS that returns the lines it prints and raises (or returns a failed pytest code) on
failure; add a check (LLM scoring throughput, say) by writing one and listing it there.
"""
import importlib.util
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(ROOT))


class CheckFailed(Exception):
    pass


def _mib(nbytes: int) -> str:
    return f"{nbytes / 2**20:.1f} MiB"


def _tiny_pipeline_path() -> str:
    spec = importlib.util.spec_from_file_location("build_tiny_models", ROOT / "scripts" / "build_tiny_models.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder.build(str(ROOT / ".cache" / "tiny-models"), ["stable-diffusion"])["stable-diffusion"]


def _run_tests(paths: list[str], env: dict) -> None:
    """Run pytest in this process (so CUDA's peak-memory counter sees the tests) with env set."""
    import pytest
    os.environ.update(env)
    # no:threadexception: a GPU image may lack the metric packages (evaluate) that the app preloads
    # in a background thread; that thread's failure says nothing about the models checked here.
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:threadexception", *[p if p.startswith("-") else str(ROOT / p) for p in paths]])
    if code != 0:
        raise CheckFailed(f"pytest {' '.join(paths)} exited {int(code)}")


def _images_per_second(dtype, count: int = 32, batch: int = 4, size: int = 256, steps: int = 4) -> tuple[float, int]:
    """Images per second and peak GPU memory of the tiny pipeline in `dtype`."""
    import torch
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    from service.models import ModelSpec
    from service.models.image import TextToImage
    from service.models.sources import resolve
    spec = ModelSpec("tiny-sd", "text-to-image", options={"steps": steps})
    model = TextToImage.load(spec, resolve(f"dir:{_tiny_pipeline_path()}", str(ROOT / ".cache")), "cuda", dtype)
    model.warmup()
    settings = {"width": size, "height": size, "steps": steps, "guidance_scale": 7.5}
    torch.cuda.synchronize()
    started = time.perf_counter()
    for first in range(0, count, batch):
        model.generate(prompt="a lighthouse at dusk", seeds=list(range(first, first + batch)), **settings)
    torch.cuda.synchronize()
    return count / (time.perf_counter() - started), torch.cuda.max_memory_allocated()


def check_images() -> list[str]:
    """tests/unit/test_images.py on CUDA in float16; tiny-pipeline throughput, float16 vs float32."""
    import torch
    torch.cuda.reset_peak_memory_stats()
    _run_tests(["tests/unit/test_images.py"], {"AIQA_TEST_DEVICE": "cuda", "AIQA_TEST_DTYPE": "float16"})
    tests_peak = torch.cuda.max_memory_allocated()
    (half, half_peak), (full, full_peak) = _images_per_second(torch.float16), _images_per_second(torch.float32)
    return [f"image tests on CUDA float16: passed; peak GPU memory {_mib(tests_peak)}",
            f"tiny pipeline 256x256, 4 steps, batches of 4: float16 {half:.1f} images/s (peak {_mib(half_peak)}), "
            f"float32 {full:.1f} images/s (peak {_mib(full_peak)}); float16/float32 throughput {half / full:.2f}"]


def check_models() -> list[str]:
    """The scoring tests on CUDA (float32, the precision their 1e-5 comparisons are stated in)."""
    import torch
    torch.cuda.reset_peak_memory_stats()
    paths = ["tests/unit/test_tiny_models.py", "tests/unit/test_batched_scores.py", "tests/unit/test_batching.py",
             "tests/unit/test_ner.py", "tests/unit/test_qa_span.py"]
    started = time.perf_counter()
    _run_tests(["-m", "not slow", *paths], {"AIQA_DEVICE": "cuda"})
    return [f"scoring tests on CUDA float32: passed in {time.perf_counter() - started:.1f} s; "
            f"peak GPU memory {_mib(torch.cuda.max_memory_allocated())}"]


def check_serving(workers: int = 1, engine: str = "inline") -> list[str]:
    """bench/bench_serving.py with GPT-2-small/BERT-base sized models: batching on vs off, raw, naive."""
    import subprocess
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_serving.py"), "--synthetic",
                           "--clients", "16", "--requests", "16", "--lm-batch", "16", "--workers", str(workers),
                           "--engine", engine],
                          cwd=ROOT, capture_output=True, text=True, timeout=480)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0:
        raise CheckFailed(f"bench_serving exited {done.returncode}: {done.stderr[-1500:]}")
    return lines


CHECKS = {
    "images": check_images,
    "models": check_models,
    "serving": check_serving,
    # Models inside one worker: its Python request handling, sharing the batcher's interpreter lock,
    # capped an H200 near 190 requests/s. The model process with 4 workers spreads that work.
    "serving-process": lambda: check_serving(workers=4, engine="process"),
}


def main(names: list[str]) -> int:
    import torch
    if not torch.cuda.is_available():
        print(f"no CUDA here (torch {torch.__version__}): nothing to check; run this on a machine with a GPU")
        return 0
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    failed = []
    for name in names or CHECKS:
        try:
            lines = CHECKS[name]()
        except Exception as exc:  # report every check, then fail
            failed.append(name)
            lines = [f"FAILED: {type(exc).__name__}: {exc}"]
        for line in lines:
            print(f"[{name}] {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    unknown = set(sys.argv[1:]) - set(CHECKS)
    if unknown:
        raise SystemExit(f"unknown checks {sorted(unknown)}; known: {sorted(CHECKS)}")
    sys.exit(main(sys.argv[1:]))
