"""The headers both fronts answer with: which version served, and how long a request waited
for a version scaled to zero to load (x-cold-start, read by slogate's clients)."""

from __future__ import annotations


def version_headers(version: str, waited_s: float) -> list[tuple[bytes, bytes]]:
    """x-model-version, and x-cold-start (the seconds this request waited for a load) when it met a cold version."""
    headers = [(b"x-model-version", version.encode())]
    if waited_s > 0:
        headers.append((b"x-cold-start", f"{waited_s:.6f}".encode()))
    return headers
