"""The one thread of a process that runs the models' forward passes on the CPU.

Every batcher (service/batching.py) hands its batch to this thread instead of running it on its own.
The reason is OpenMP: torch's CPU kernels run their parallel regions on a team of threads that
belongs to the thread which called them, one team per calling thread, kept while that thread lives.
With a batcher thread per model and kind of work, a worker held several teams, more OpenMP threads
than cores, and libgomp then stops letting idle team threads spin between parallel regions: each of
the hundreds of small kernels of a forward pass paid for waking its team. Measured on SmolLM2-135M
(2 cores): a decode step took 55 ms from a batcher thread and 32 ms from the one thread that had
ever run a kernel, the same work. One compute thread per process keeps one team, so kernels find it
spinning; forward passes of different models were serialised anyway (on a CPU they only fight over
the cores). Model loading runs on a thread that ends when it is done (service/registry.py), so its
team goes with it.
"""
import threading
from queue import SimpleQueue


class ComputeThread:
    """Runs callables one at a time on a long-lived thread, started on first use (so in the worker,
    never before a fork); a call made on that thread itself runs directly."""

    def __init__(self, name: str = "aiqa-compute"):
        self.name = name
        self._calls: SimpleQueue = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, fn):
        """fn() on the compute thread: its value, or its exception raised here."""
        if threading.current_thread() is self._thread:
            return fn()
        self._ensure_thread()
        call = _Call(fn)
        self._calls.put(call)
        call.done.wait()
        if call.error is not None:
            raise call.error
        return call.value

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            call = self._calls.get()
            try:
                call.value = call.fn()
            except BaseException as exc:  # handed to the caller, whatever it is
                call.error = exc
            finally:
                call.done.set()


class _Call:
    __slots__ = ("fn", "value", "error", "done")

    def __init__(self, fn):
        self.fn, self.value, self.error, self.done = fn, None, None, threading.Event()


COMPUTE = ComputeThread()
