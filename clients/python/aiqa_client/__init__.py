"""Python client for the aiqa scoring service, and the `aiqa run` chatbot test runner."""
__version__ = "0.1.0"

from .client import Client  # noqa: E402
from .errors import AiqaError  # noqa: E402

__all__ = ["Client", "AiqaError", "__version__"]
