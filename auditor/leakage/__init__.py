"""The leakage audit: canaries planted in training, then membership inference, the one-run ε lower bound,
canary exposure and PII extraction on the trained model (:mod:`auditor.leakage.audit`)."""
