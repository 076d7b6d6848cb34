"""One small wrapper per model kind; LOADERS maps a profile's `task` to its wrapper."""
from .base import ModelSpec, ModelWrapper, resolve_device, resolve_dtype
from .causal_lm import CausalLM
from .classifier import SequenceClassifier
from .embedder import Embedder
from .image import TextToImage
from .qa import QuestionAnswerer
from .token_classifier import TokenClassifier
from .zero_shot import ZeroShotClassifier

LOADERS = {
    CausalLM.task: CausalLM,
    SequenceClassifier.task: SequenceClassifier,
    Embedder.task: Embedder,
    TextToImage.task: TextToImage,
    QuestionAnswerer.task: QuestionAnswerer,
    TokenClassifier.task: TokenClassifier,
}
# Kinds built on a model of the same profile rather than on weights of their own.
DERIVED = {
    ZeroShotClassifier.task: ZeroShotClassifier,
}

__all__ = ["LOADERS", "DERIVED", "ModelSpec", "ModelWrapper", "resolve_device", "resolve_dtype"]
