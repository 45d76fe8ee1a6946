"""What serves each version of a target's model, read from its OIP v2 model metadata, and
which server it is (name and version, from the OIP v2 server metadata).

The reference server publishes, per version, its traffic share and the backend that
actually serves it (an LLM version declared `vllm` may run on its `torch-lm` fallback,
orders of magnitude slower). Other OIP servers publish their versions at least; an
endpoint without the route (a plain OpenAI server) leaves both empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

METADATA_TIMEOUT_S = 5.0
HeadersFor = Callable[[str, str], dict[str, str]]  # (method, url) -> the call's headers (signed afresh)


async def served_versions(http: aiohttp.ClientSession, base_url: str, model: str | None,
                          headers_for: HeadersFor) -> tuple[dict[str, float | None], dict[str, dict[str, Any]]]:
    """(version → traffic share, version → what serves it), or empty mappings when unknown."""
    if not model:
        return {}, {}
    url = f"{base_url.rstrip('/')}/v2/models/{model}"
    meta = await _metadata(http, url, headers_for("GET", url))
    parameters = meta.get("parameters") or {}
    traffic = parameters.get("traffic") or {}
    served = parameters.get("served") or {}
    versions = [str(v) for v in meta.get("versions") or []] or list(traffic) or list(served)
    return {v: traffic.get(v) for v in versions}, {v: served[v] for v in versions if v in served}


async def server_metadata(http: aiohttp.ClientSession, base_url: str, headers_for: HeadersFor) -> dict[str, str]:
    """The server's `name` and `version` (`GET /v2`), or an empty mapping where it publishes none."""
    url = f"{base_url.rstrip('/')}/v2"
    meta = await _metadata(http, url, headers_for("GET", url))
    return {key: meta[key] for key in ("name", "version") if isinstance(meta.get(key), str)}


async def _metadata(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> dict[str, Any]:
    try:
        timeout = aiohttp.ClientTimeout(total=METADATA_TIMEOUT_S)
        async with http.get(url, headers=headers, timeout=timeout) as response:
            if response.status != 200:
                return {}
            body = orjson.loads(await response.read())
    except (TimeoutError, aiohttp.ClientError, orjson.JSONDecodeError):
        return {}
    return body if isinstance(body, dict) else {}
