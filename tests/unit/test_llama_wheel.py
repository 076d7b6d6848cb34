"""llama-cpp-python's build for this CPU (scripts/llama/build_wheel.py, run by `make install`).

The kernels are chosen from the CPU's flags (AMX only where every flag its build executes is there),
the wheel folder's name changes with what went into the build, the patches apply to the code they
mend, and the library `make install` put in this environment has the kernels this CPU was given.
"""
import importlib.util
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("build_wheel", ROOT / "scripts" / "llama" / "build_wheel.py")
build_wheel = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_wheel)

SAPPHIRE_RAPIDS = ("fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi2 avx512f avx512dq avx512bw avx512vl avx512cd "
                   "avx512_vnni avx512_bf16 avx_vnni amx_bf16 amx_tile amx_int8")


def patch_named(kernels: str, name: str) -> Path:
    [patch] = [p for p in build_wheel.KERNELS[kernels][1] if p.name == name]
    return patch


def apply_to_its_context(patch: Path, root: Path) -> str:
    """Apply `patch` to a file made of its hunks' context lines at their line numbers (`make install`
    applies it to the sdist itself): the mended file's text."""
    text = patch.read_text()
    [target] = re.findall(r"^\+\+\+ b/(\S+)", text, flags=re.M)
    lines: list[str] = []
    for start, body in re.findall(r"^@@ -(\d+),\d+ \+\d+,\d+ @@\n((?:[ +-].*\n?)*)", text, flags=re.M):
        lines += ["// other"] * (int(start) - 1 - len(lines))
        lines += [line[1:] for line in body.splitlines() if not line.startswith("+")]
    source = root / target
    source.parent.mkdir(parents=True)
    source.write_text("\n".join(lines) + "\n")
    subprocess.run(["patch", "--quiet", "--forward", "-p1", "-d", str(root)], input=patch.read_bytes(), check=True)
    return source.read_text()


def cpuinfo(tmp_path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: a CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    return path


def test_auto_builds_amx_kernels_only_where_every_flag_they_use_is_there(tmp_path):
    assert build_wheel.choose("auto", build_wheel.cpu_flags(cpuinfo(tmp_path, SAPPHIRE_RAPIDS))) == "amx"
    for missing in ("amx_int8", "amx_tile", "avx512_vnni", "avx512_bf16", "avx512bw"):
        flags = build_wheel.cpu_flags(cpuinfo(tmp_path, SAPPHIRE_RAPIDS.replace(f" {missing}", "")))
        assert missing not in flags
        assert build_wheel.choose("auto", flags) == "avx2", missing
    assert build_wheel.choose("auto", build_wheel.cpu_flags(cpuinfo(tmp_path, "fpu sse avx avx2 fma f16c"))) == "avx2"
    assert build_wheel.choose("auto", build_wheel.cpu_flags(tmp_path / "no-such-file")) == "avx2"
    assert build_wheel.choose("avx2", build_wheel.cpu_flags(cpuinfo(tmp_path, SAPPHIRE_RAPIDS))) == "avx2"
    assert build_wheel.choose("amx", set()) == "amx"


def test_the_wheel_folder_is_named_by_version_kernels_flags_and_patches(tmp_path, monkeypatch):
    root = tmp_path / "wheels"
    avx2, amx = (build_wheel.folder(root, "0.3.36", kernels) for kernels in ("avx2", "amx"))
    assert avx2.parent == root and avx2.name.startswith("llama-cpp-python-0.3.36-avx2-")
    assert amx.name.startswith("llama-cpp-python-0.3.36-amx-") and amx != avx2
    assert build_wheel.folder(root, "0.3.37", "amx") != amx
    patch = tmp_path / "changed.patch"
    patch.write_bytes(patch_named("amx", "amx-tile-config.patch").read_bytes() + b"\n")
    patches = [patch if p.name == "amx-tile-config.patch" else p for p in build_wheel.KERNELS["amx"][1]]
    monkeypatch.setitem(build_wheel.KERNELS, "amx", (build_wheel.KERNELS["amx"][0], patches))
    assert build_wheel.folder(root, "0.3.36", "amx") != amx  # a changed patch is another build


def test_the_amx_patch_makes_the_tile_configuration_reach_memory(tmp_path):
    mended = apply_to_its_context(patch_named("amx", "amx-tile-config.patch"), tmp_path)
    assert mended.index('__asm__ __volatile__("" : : "r"(&tc) : "memory");') < mended.index("_tile_loadconfig(&tc);")


def test_both_builds_give_q4_1_weights_the_tiled_kernel_for_batches(tmp_path):
    """Q4_1 weights (SmolLM2's file) get a tiled product for batches of rows, the single row keeping
    ggml's own (tests/unit/test_llama_backend.py checks a row's logits alone and in batches)."""
    assert patch_named("avx2", "q4_1-tiled-products.patch") == patch_named("amx", "q4_1-tiled-products.patch")
    mended = apply_to_its_context(patch_named("avx2", "q4_1-tiled-products.patch"), tmp_path)
    case = mended.index("case GGML_TYPE_Q4_1:")
    assert mended.index("class tinyBLAS_Q4_1_AVX2") < case
    dispatch = mended[case:mended.index("return true;", case)]
    assert "Btype != GGML_TYPE_Q8_1" in dispatch and "tinyBLAS_Q4_1_AVX2 tb{" in dispatch


def test_the_installed_llama_cpp_has_the_kernels_make_install_chose_for_this_cpu():
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is installed by `make install`")
    llama_cpp.llama_backend_init()
    info = llama_cpp.llama_print_system_info().decode()
    assert "AVX2 = 1" in info
    # `make install LLAMA_KERNELS=avx2` (the Makefile exports it to the tests) forces the portable build.
    if build_wheel.choose(os.environ.get("LLAMA_KERNELS", "auto"), build_wheel.cpu_flags()) == "amx":
        assert "AMX_INT8 = 1" in info, info
    else:
        assert "AMX_INT8 = 1" not in info, info
