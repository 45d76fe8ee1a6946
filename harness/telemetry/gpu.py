"""GPU telemetry through NVML (nvidia-ml-py): utilisation, memory used and power per device.

Selected only where NVML initialises and reports at least one device; on a machine without
an NVIDIA driver `gpu_reader()` is None and the sampler records no GPU columns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

GpuReader = Callable[[], dict[str, float]]


def gpu_reader(nvml: Any = None) -> GpuReader | None:
    """A function sampling every device, or None where there is no NVML or no GPU."""
    nvml, handles = _devices(nvml)
    if not handles:
        return None
    return lambda: _sample(nvml, handles)


def device_names(nvml: Any = None) -> list[str]:
    """The names of the GPUs NVML sees (empty where there is no NVML or no GPU)."""
    nvml, handles = _devices(nvml)
    names = [nvml.nvmlDeviceGetName(handle) for handle in handles]
    return [name.decode() if isinstance(name, bytes) else str(name) for name in names]


def _devices(nvml: Any) -> tuple[Any, list[Any]]:
    """NVML and a handle per device; no handles where there is no NVML or no GPU."""
    try:
        nvml = nvml or __import__("pynvml")
        nvml.nvmlInit()
        return nvml, [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
    except Exception:  # noqa: BLE001 - ImportError, NVMLError_LibraryNotFound, _DriverNotLoaded, ...: no GPU to read
        return nvml, []


def _sample(nvml: Any, handles: list[Any]) -> dict[str, float]:
    row: dict[str, float] = {}
    for index, handle in enumerate(handles):
        try:
            row[f"gpu{index}_util_percent"] = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            row[f"gpu{index}_memory_used_bytes"] = float(nvml.nvmlDeviceGetMemoryInfo(handle).used)
            row[f"gpu{index}_power_w"] = nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0  # NVML reports mW
        except Exception:  # noqa: BLE001, S112 - a device that stops answering leaves a gap, not a dead sampler
            continue
    return row

