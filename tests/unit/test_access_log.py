"""The log hand-off: request threads queue records, one writer thread formats and writes them."""
import json
import logging
import os
import threading

from service.observability import JSONFormatter, _HandOff


def _logger(name: str, stream) -> tuple[logging.Logger, _HandOff]:
    target = logging.StreamHandler(stream)
    target.setFormatter(JSONFormatter())
    handler = _HandOff(target)
    logger = logging.getLogger(name)
    logger.propagate, logger.handlers = False, [handler]
    logger.setLevel(logging.INFO)
    return logger, handler


def test_every_line_from_many_threads_is_written_whole_and_in_order_per_thread(tmp_path):
    path = tmp_path / "log.jsonl"
    with open(path, "w") as stream:
        logger, handler = _logger("aiqa.test.threads", stream)

        def write(thread):
            for i in range(200):
                logger.info("request", extra={"fields": {"thread": thread, "i": i}})
        threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        handler.flush_pending()
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(entries) == 1600
    for thread in range(8):
        assert [e["i"] for e in entries if e["thread"] == thread] == list(range(200))


def test_a_forked_process_starts_its_own_writer(tmp_path):
    path = tmp_path / "log.jsonl"
    with open(path, "a") as stream:
        logger, handler = _logger("aiqa.test.fork", stream)
        logger.info("parent")
        handler.flush_pending()
        pid = os.fork()
        if pid == 0:  # the child: no writer thread was inherited
            try:
                logger.info("child")
                handler.flush_pending()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    assert [json.loads(line)["message"] for line in path.read_text().splitlines()] == ["parent", "child"]
