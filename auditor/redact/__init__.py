"""``auditor redact``: the fix for what the gate finds, and the evidence that it was applied.

- ``entities``: which types are replaced (direct identifiers; the plan's special categories; ``--entities``);
- ``keys`` + ``rewrite``: Presidio's ``AnonymizerEngine`` with a keyed-HMAC pseudonym operator, run in the
  scan's workers (detect, rewrite, detect again);
- ``write``: one writer per format the scan reads, the same records in the same order;
- ``run``: the command's library function; ``model``: ``OUT.redaction.json``;
- ``chain``: what the gate makes of that evidence (the sha256 chain, ``facts.redaction``).

Reading, detection and workers are the scan's own (:mod:`auditor.scan.read`, :mod:`auditor.scan.drive`), so a
redaction and the scan that checks it never disagree about what a file contains.
"""
