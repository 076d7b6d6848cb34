"""Build llama-cpp-python's wheel for this machine's CPU once, into a folder named by what went in.

    python scripts/llama/build_wheel.py VERSION ROOT [--kernels auto|amx|avx2]

Prints the folder that holds the wheel (ROOT/llama-cpp-python-VERSION-KERNELS-HASH, HASH over the
CMake flags and the patches applied); builds it first when that folder holds none. pip's own cache
would hand back whatever wheel it built first, with any flags, hence a folder of our own.

Kernels (docs/decisions.md has the measurements):
  avx2  portable x86-64 kernels (AVX2, FMA, F16C): any x86-64 CPU of the last ten years.
  amx   AVX-512 and Intel AMX int8 kernels, for CPUs whose flags have amx_int8 (Xeon Sapphire Rapids
        and later): a decode step of 8 rows costs about half as much, of 16 a third. llama.cpp's AMX
        code needs amx-tile-config.patch (it says why).
  auto  amx where /proc/cpuinfo has every flag the amx build uses, else avx2 (the default).
Both are built from the sdist with the patches in scripts/llama/ applied; q4_1-tiled-products.patch
gives Q4_1 weights a tiled kernel for batches of rows where AMX does not take them.

A build takes about 6 minutes on 2 cores; it is written to FOLDER.partial and moved in place whole.
Only the folder goes to standard output (the Makefile reads it); pip's and patch's output goes to
standard error.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PORTABLE = ["-DGGML_NATIVE=OFF", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON"]
# The CMake flags and the patches of each build (the module's docstring says why).
KERNELS = {
    "avx2": (PORTABLE, [HERE / "q4_1-tiled-products.patch"]),
    "amx": (PORTABLE + ["-DGGML_AVX512=ON", "-DGGML_AVX512_VNNI=ON", "-DGGML_AVX512_BF16=ON", "-DGGML_AVX_VNNI=ON",
                        "-DGGML_AMX_TILE=ON", "-DGGML_AMX_INT8=ON", "-DGGML_AMX_BF16=ON"],
            [HERE / "q4_1-tiled-products.patch", HERE / "amx-tile-config.patch"]),
}
# What the amx build executes: a CPU without one of these would fault in it.
AMX_FLAGS = {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx512_bf16",
             "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"}


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def choose(kernels: str, flags: set[str]) -> str:
    if kernels != "auto":
        return kernels
    return "amx" if AMX_FLAGS <= flags else "avx2"


def folder(root: Path, version: str, kernels: str) -> Path:
    args, patches = KERNELS[kernels]
    digest = hashlib.sha256(" ".join(args).encode())
    for patch in patches:
        digest.update(patch.read_bytes())
    return root / f"llama-cpp-python-{version}-{kernels}-{digest.hexdigest()[:12]}"


def build(version: str, kernels: str, target: Path) -> None:
    args, patches = KERNELS[kernels]
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    env = dict(os.environ, CMAKE_ARGS=" ".join(args))
    pip = [sys.executable, "-m", "pip"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(pip + ["download", "--quiet", "--no-deps", "--no-binary", ":all:", "-d", tmp,
                              f"llama-cpp-python=={version}"], check=True, stdout=sys.stderr)
        [sdist] = Path(tmp).glob("*.tar.gz")
        with tarfile.open(sdist) as archive:
            archive.extractall(tmp, filter="data")
        [tree] = [p for p in Path(tmp).iterdir() if p.is_dir()]
        for patch in patches:
            with patch.open("rb") as diff:
                subprocess.run(["patch", "--quiet", "--forward", "-p1", "-d", str(tree)], stdin=diff, check=True,
                               stdout=sys.stderr)
        print(f"building llama-cpp-python {version} ({kernels} kernels, about 6 minutes on 2 cores)", file=sys.stderr)
        subprocess.run(pip + ["wheel", "--quiet", "--no-deps", "--no-cache-dir", "-w", str(partial), str(tree)],
                       check=True, env=env, stdout=sys.stderr)  # stdout carries only the folder
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version")
    parser.add_argument("root", type=Path)
    parser.add_argument("--kernels", choices=["auto", *KERNELS], default="auto")
    options = parser.parse_args()
    kernels = choose(options.kernels, cpu_flags())
    target = folder(options.root, options.version, kernels)
    if not any(target.glob("*.whl")):
        target.parent.mkdir(parents=True, exist_ok=True)
        build(options.version, kernels, target)
    print(target)


if __name__ == "__main__":
    main()
