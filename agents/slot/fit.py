"""Whether a model fits, said before anything loads: its estimated need (agents/slot/memory_need.py) against
the slot's memory budget, the GPU's memory when its device asks for one, and the machine's RAM otherwise.

`verdict()` is pure; `gpu_memory_mb()` and `ram_mb()` read the machine (nvidia-smi, /proc/meminfo) and say
None when they can't tell.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from agents.slot.policy import Budget

GPU_DEVICES = ("gpu", "cuda", "kompute", "metal", "vulkan", "amd", "nvidia", "intel")


def wants_gpu(device: str) -> bool:
    return device == "auto" or device.split(":", 1)[0] in GPU_DEVICES


def verdict(need_mb: float, budget: Budget, device: str, gpu_mb: float | None, ram_mb: float | None) -> str:
    """"yes", or "no: <what is too small>", for one model. The budget binds first (the slot refuses a model
    over it); then the GPU when the device asks for one (a model that doesn't fit runs on the CPU: gpt4all and
    the slot fall back), then RAM. Pure."""
    if budget.mb is not None and need_mb > budget.mb:
        return f"no: over the slot budget ({budget.mb:,.0f} MB)"
    if wants_gpu(device) and gpu_mb is not None:
        if need_mb <= gpu_mb:
            return f"yes (GPU {gpu_mb:,.0f} MB)"
        where = f"GPU has {gpu_mb:,.0f} MB: runs on the CPU"
        if ram_mb is not None and need_mb > ram_mb:
            return f"no: {where}, and RAM has {ram_mb:,.0f} MB"
        return f"no: {where}"
    if ram_mb is not None and need_mb > ram_mb:
        return f"no: RAM has {ram_mb:,.0f} MB"
    return "yes" + (" (CPU)" if wants_gpu(device) else "")


def gpu_memory_mb() -> float | None:
    """The largest GPU's total memory in MB (NVIDIA, through nvidia-smi), None when there is none to ask."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    sizes = [float(line) for line in out.split() if line.replace(".", "", 1).isdigit()]
    return max(sizes) if sizes else None


def ram_mb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (OSError, ValueError, AttributeError):
        return None
