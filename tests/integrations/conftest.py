"""The tiny models and plans of the training tests (built from configs; nothing is downloaded)."""

from tests.train.conftest import (  # noqa: F401  (pytest finds fixtures by name)
    _one_thread,
    make_lm_plan,
    make_plan,
    tiny_llama,
    tiny_model,
)
