"""`aiqa run`: drive a chatbot through a suite of functional, consistency, bias and adversarial cases."""
from .base import SuiteError
from .execution import SuiteResult, estimate, run_suite
from .suite import Suite, load_suite

__all__ = ["Suite", "SuiteError", "SuiteResult", "estimate", "load_suite", "run_suite"]
