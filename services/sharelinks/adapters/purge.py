"""The CDN purge hook: an HTTP POST naming the surrogate keys to drop (the asset id; every delivery
carries it in ``Surrogate-Key`` and ``Cache-Tag``), as :class:`services.sharelinks.ports.CdnPurger`.

The request is ``POST {url}`` with ``Surrogate-Key: <keys space-separated>`` and the JSON body
``{"surrogate_keys": [...], "tags": [...]}`` (the same list twice: header-keyed and tag-keyed purge APIs
each find theirs), plus ``Authorization: Bearer <token>`` when a token is configured. Any 2xx is success.
"""

from __future__ import annotations

import httpx


class HttpPurger:
    def __init__(self, url: str, *, token: str = "", timeout_s: float = 5.0):
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def purge(self, surrogate_keys: tuple[str, ...]) -> None:
        response = await self._client.post(
            self._url,
            json={"surrogate_keys": list(surrogate_keys), "tags": list(surrogate_keys)},
            headers={**self._headers, "Surrogate-Key": " ".join(surrogate_keys)},
        )
        if not response.is_success:
            raise RuntimeError(f"purge hook answered HTTP {response.status_code}: {response.text[:200]}")

    async def close(self) -> None:
        await self._client.aclose()
