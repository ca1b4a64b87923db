"""Integrations with other training stacks. :mod:`auditor.integrations.transformers`: Hugging Face
``Trainer`` and TRL's ``SFTTrainer`` under the gate and the policies' DP requirement. Each module imports its
framework at import time, so import it only where that framework is installed."""
