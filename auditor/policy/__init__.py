"""Policies: YAML rule sets with CEL conditions, their loader, the engine, waivers and policy tests."""
