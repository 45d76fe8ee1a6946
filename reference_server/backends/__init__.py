"""Backend plugins: the seams (base.py, generative.py) and the built-in backends (builtin.py)."""
