"""A report's PDF, written by WeasyPrint from the report's HTML.

WeasyPrint takes about a second to load: `reporting.rendering` imports this module only when it
writes a PDF, so that the web processes, the workers and the commands that never write one start
without it.
"""

from __future__ import annotations

from typing import Any

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse


class InlineImages(URLFetcher):
    """WeasyPrint reads the chart from memory (`cid:chart`, as in the email) and fetches nothing
    else: a report never reaches the network or the disk while it is rendered."""

    def __init__(self, images: dict[str, bytes]) -> None:
        super().__init__(allowed_protocols=["cid"])
        self.images = images

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        name = url.removeprefix("cid:")
        if not url.startswith("cid:") or name not in self.images:
            raise ValueError(f"Reports embed only their own images, not {url}")
        return URLFetcherResponse(url, self.images[name], {"Content-Type": "image/png"})


def html_to_pdf(html: str, images: dict[str, bytes]) -> bytes:
    """The PDF of `html`, whose `cid:` images are those of `images`."""
    return HTML(string=html, url_fetcher=InlineImages(images)).write_pdf()
