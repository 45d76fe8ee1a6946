"""The built-in backends. Importing this module registers them; the backend registries
(base.BACKENDS, generative.GENERATIVE_BACKENDS) import it on their first lookup.

No backend module imports this one, so the seams never depend on their plugins.
"""

from . import generative_host, sim, torch_lm, torch_mlp, torchscript, vllm_engine  # noqa: F401
