"""Runs the model process beside gunicorn's workers (from gunicorn.conf.py, in the master).

Standard library only: the master must never import torch (CUDA cannot be used after a fork).
The socket lives in a private directory and every connection proves it knows a random key, which
the master hands to the model process and, by inheritance, to the workers.
"""
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from . import AUTHKEY_ENV, SOCKET_ENV

log = logging.getLogger("aiqa.model_process")
# A model process that keeps dying is started again after 1 s, then 2, 4... up to a minute; the
# delay starts over once one has run for STEADY_S.
RESTART_DELAY_S, MAX_RESTART_DELAY_S, STEADY_S = 1.0, 60.0, 120.0


class Supervisor:
    def __init__(self, on_exit=None, logger=None):
        self.on_exit = on_exit or (lambda pid: None)  # gunicorn.conf.py marks its metrics dead
        self.log = logger or log  # gunicorn.conf.py passes gunicorn's, which the master writes
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._directory = None
        self._thread = None

    def start(self) -> "Supervisor":
        self._directory = tempfile.mkdtemp(prefix="aiqa-model-process-")  # mode 0700
        os.environ[SOCKET_ENV] = os.path.join(self._directory, "model-process.sock")
        os.environ[AUTHKEY_ENV] = secrets.token_hex(32)
        self._spawn()
        self._thread = threading.Thread(target=self._watch, name="aiqa-model-process-supervisor", daemon=True)
        self._thread.start()
        return self

    def _spawn(self) -> None:
        env = {**os.environ, "AIQA_ENGINE": "inline", "AIQA_ENGINE_PARENT": str(os.getpid())}
        # Its own session: a Ctrl-C or a signal to the server's process group reaches the master,
        # which then stops it; any other exit is a crash, and it is started again.
        self.process = subprocess.Popen([sys.executable, "-m", "service.model_process"], env=env, start_new_session=True)
        self.log.info(f"model process {self.process.pid} started")

    def _watch(self) -> None:
        delay = RESTART_DELAY_S
        while not self._stopping.is_set():
            started = time.monotonic()
            # The exit status may be lost: gunicorn's master reaps any child that exits.
            self.process.wait()
            self.on_exit(self.process.pid)
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= STEADY_S:
                delay = RESTART_DELAY_S
            self.log.error(f"model process {self.process.pid} exited; starting it again in {delay:g} s")
            if self._stopping.wait(delay):
                return
            delay = min(2 * delay, MAX_RESTART_DELAY_S)
            self.restarts += 1
            self._spawn()

    def stop(self, timeout: float = 10) -> None:
        self._stopping.set()
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._directory:
            shutil.rmtree(self._directory, ignore_errors=True)

