"""LLM demo assets for the reference server (the tiny random-weight LLaMA)."""
