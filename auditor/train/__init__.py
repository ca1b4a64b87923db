"""The enforced DP fine-tune: the policies' privacy requirement, met step by step, with evidence."""
