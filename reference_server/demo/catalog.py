"""The built-in demo models. Importing this module registers them; the demo registry
(registry.DEMO_MODELS) imports it on its first lookup."""

from . import fraud, fraud_online, sim, tiny_llm  # noqa: F401
