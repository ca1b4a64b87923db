"""auditor: a compliance auditing and policy engine for fine-tuning language models on personal data.

The package is a library first; :mod:`auditor.cli` is a thin click layer over it. Heavy libraries (torch,
transformers, opacus, presidio, spaCy) are imported only inside the functions that need them, so that the
pre-training gate (``auditor check``) stays fast enough to run on every pipeline change.
"""

__version__ = "0.1.0"
