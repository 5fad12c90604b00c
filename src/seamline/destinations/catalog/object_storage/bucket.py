"""An S3 bucket (AWS or any S3-compatible server: MinIO, Ceph, R2 …) over the destinations'
HTTP client, signed with Signature Version 4: put, get, delete and list objects, and a probe.

Addressing: with no endpoint, AWS's virtual-hosted style
(`https://<bucket>.s3.<region>.amazonaws.com/<key>`); with an endpoint, path style
(`<endpoint>/<bucket>/<key>`), which S3-compatible servers expect by default.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from seamline.destinations.catalog.object_storage.sigv4 import Credentials, encode, signed_headers
from seamline.destinations.errors import PermanentError
from seamline.destinations.http import Http

MAX_LISTED_PAGES = 10_000
"""ListObjectsV2 pages (1000 keys each) read at most for one listing: ten million objects."""
_NAMESPACE = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@dataclass(frozen=True)
class Bucket:
    http: Http
    name: str
    region: str
    credentials: Credentials
    endpoint: str | None = None

    def base(self) -> str:
        """The URL a key is appended to (ending in `/`)."""
        if self.endpoint:
            return f"{self.endpoint.rstrip('/')}/{self.name}/"
        return f"https://{self.name}.s3.{self.region}.amazonaws.com/"

    def put(self, key: str, body: bytes, content_type: str) -> None:
        """Store `body` under `key`, replacing any object there (S3 writes it whole or not)."""
        self._send("PUT", key, body=body, headers={"content-type": content_type})

    def get(self, key: str) -> bytes:
        return self._send("GET", key).content

    def delete(self, key: str) -> None:
        """Remove `key`; a key that is not there is no error (S3 answers 204 either way)."""
        self._send("DELETE", key)

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key under `prefix`, in S3's (lexicographic) order."""
        token: str | None = None
        for _ in range(MAX_LISTED_PAGES):
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            answer = self._send("GET", "", query=query)
            try:
                root = ElementTree.fromstring(answer.content)
            except ElementTree.ParseError as error:
                raise PermanentError(f"the bucket's listing is not XML: {error}") from None
            for found in root.iter(f"{_NAMESPACE}Key"):
                if found.text:
                    yield found.text
            truncated = root.findtext(f"{_NAMESPACE}IsTruncated") == "true"
            token = root.findtext(f"{_NAMESPACE}NextContinuationToken")
            if not truncated or not token:
                return
        raise PermanentError(f"more than {MAX_LISTED_PAGES * 1000} objects under {prefix!r}")

    def _send(
        self,
        method: str,
        key: str,
        *,
        body: bytes = b"",
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        url = httpx.URL(self.base() + encode(key, keep_slash=True))
        query = query or {}
        sent = signed_headers(
            method,
            url.netloc.decode("ascii"),
            url.raw_path.decode("ascii").split("?", 1)[0],
            query,
            body,
            self.credentials,
            self.region,
            datetime.now(UTC),
            headers,
        )
        # The query goes in the URL already encoded as signed: httpx would encode `/` and
        # spaces its own way.
        signed_query = "&".join(
            f"{encode(k, keep_slash=False)}={encode(v, keep_slash=False)}"
            for k, v in sorted(query.items())
        )
        target = str(url) + (f"?{signed_query}" if signed_query else "")
        return self.http.request(method, target, content=body or None, headers=sent)
