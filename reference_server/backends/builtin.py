"""The built-in backends, declared by name and module; the backend registries
(base.BACKENDS, generative.GENERATIVE_BACKENDS) import this module on their first lookup.

Each backend's module is imported only when a model.json names it: the torch backends pull in
torch (~3 s at start), which a server of sim models never needs.
No backend module imports this one, so the seams never depend on their plugins.
"""

from .base import BACKENDS
from .generative import GENERATIVE_BACKENDS

for _name, _module in {"sim": "sim", "torch": "torch_mlp", "torchscript": "torchscript",
                       "vllm": "generative_host", "torch-lm": "generative_host"}.items():
    BACKENDS.add_lazy(_name, f"{__package__}.{_module}")
for _name, _module in {"vllm": "vllm_engine", "torch-lm": "torch_lm"}.items():
    GENERATIVE_BACKENDS.add_lazy(_name, f"{__package__}.{_module}")
