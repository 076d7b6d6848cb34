"""The model process (AIQA_ENGINE=process): one process per server holds the models and their
batchers; the gunicorn workers parse and validate HTTP requests and hand their model calls to it
over a Unix socket.

Why: with models inside each worker (AIQA_ENGINE=inline, the default), a worker's request threads
and its batcher share one interpreter lock, so one worker answers at most about 1 / (Python time
per request) requests a second however fast the GPU is, and more workers each hold a copy of every
model and batch only their own requests. With the model process, HTTP work spreads over the
workers' cores, every request of the server joins the same batches, and each GPU holds one copy of
each model.

  supervisor  in the gunicorn master: starts the model process, starts it again if it dies
  server      the model process itself (`python -m service.model_process`)
  client      in each worker: a registry whose models forward their calls to the model process

Only the contract's calls cross the socket (service.contract.CALLS), with its attributes
(ATTRIBUTES) copied once.
"""
from ..contract import ATTRIBUTES, CALLS  # noqa: F401 (the protocol's names, for client and server)

SOCKET_ENV = "AIQA_ENGINE_SOCKET"
AUTHKEY_ENV = "AIQA_ENGINE_AUTHKEY"
