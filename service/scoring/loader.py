"""Metric modules in evaluate's format, loaded from this package's folders by path, never from the hub.

Each folder `<name>/<name>.py` holds one `evaluate.Metric` subclass. `evaluate.load` imports it by path
(it copies the file into its dynamic-modules cache and checks the libraries the file imports, one
import per line), offline: downloads are refused (local_files_only) and evaluate's own offline flag
(HF_EVALUATE_OFFLINE; evaluate does not read HF_HUB_OFFLINE) is switched on in its config. The
process's HF_HUB_OFFLINE is left as the operator set it, since it also governs the registry's hub
downloads. Modules are loaded once per process and shared by request threads; `_compute` keeps no state.
"""
import threading
from pathlib import Path

from ..errors import NotFound

METRICS_DIR = Path(__file__).resolve().parent
_modules: dict = {}
_lock = threading.Lock()


def names() -> list[str]:
    """Every metric this package ships: the folders that hold a module of their own name."""
    return sorted(path.name for path in METRICS_DIR.iterdir()
                  if path.is_dir() and (path / f"{path.name}.py").is_file())


def unknown_metric(name: str) -> NotFound:
    known = names()
    return NotFound(f"no metric named {name!r}; known metrics: {', '.join(known)}",
                    errors={"metric": [f"Unknown metric {name!r}."]}, known_metrics=known)


def module(name: str):
    """The loaded evaluate module called `name` (404 listing the known ones when there is none)."""
    found = _modules.get(name)
    if found is not None:
        return found
    if name not in names():
        raise unknown_metric(name)
    with _lock:
        if name not in _modules:
            _modules[name] = _load(name)
    return _modules[name]


def _load(name: str):
    import evaluate
    from evaluate.utils.file_utils import DownloadConfig
    evaluate.config.HF_EVALUATE_OFFLINE = True  # any request evaluate would make raises instead
    return evaluate.load(str(METRICS_DIR / name), keep_in_memory=True,
                         download_config=DownloadConfig(local_files_only=True))


def preload() -> None:
    """Load every module (a worker does this in the background at start, so requests find them ready)."""
    for name in names():
        module(name)
