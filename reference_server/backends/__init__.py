"""Backend plugins. Importing a module registers its backends (see base.register_backend)."""

from . import generative_host, sim, torch_mlp, torchscript  # noqa: F401
