"""Dataset scanning: readers, recognizers, the scan engine and the legal categories it feeds.

Public entry points live in :mod:`auditor.scan.api` (``scan_dataset``, ``scan_plan_dataset``, ``load_scan``);
the result shape is :mod:`auditor.scan.model`. Inside, one module per stage:

- ``read``: streaming readers (JSONL, CSV, Parquet, text; gzip) -> ``Record`` values and counted read problems;
- ``recognizers`` + ``identifiers``: identifier rules with validators, Hyperscan-prefiltered;
- ``lexicon`` + ``data/special_*.yaml``: special-category and minor detectors (EN/ZH), data-driven;
- ``ner``: the bundled spaCy model, NER components only; ``presidio``: offline Presidio engine factories;
- ``engine``: the per-worker detector; ``drive``: worker processes and de-duplication; ``engines``: where the
  detection runs (``local`` processes or ``ray``: Ray Data), one interface; ``scanner``: aggregation, findings.jsonl;
- ``categories`` + ``data/categories.yaml``: entity type -> GDPR / CCPA / PIPL / HIPAA categories.

Nothing here imports presidio, spaCy or Hyperscan at module import time except inside the functions that
need them, so ``auditor check`` and ``load_scan`` stay fast.
"""
