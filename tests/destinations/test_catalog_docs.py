"""The catalog's documentation keeps up with the catalog: every destination has a row in
docs/destinations.md's catalog table, every row names a destination that exists, and every
page under docs/destinations/ belongs to one and is linked from its row."""

from __future__ import annotations

import re
from pathlib import Path

from seamline.destinations import registry

DOCS = Path(__file__).parents[2] / "docs"
_ROW = re.compile(
    r"^\| (?:\[`(?P<linked>[a-z0-9-]+)`\]\((?P<page>[^)]+)\)|`(?P<plain>[a-z0-9-]+)`) \|"
)


def catalog_rows() -> dict[str, str | None]:
    """Slug → the page its row links to (None when it links none), from the catalog section."""
    text = (DOCS / "destinations.md").read_text()
    section = text.split("## The catalog", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str | None] = {}
    for line in section.splitlines():
        found = _ROW.match(line)
        if found:
            rows[found["linked"] or found["plain"]] = found["page"]
    return rows


def test_every_destination_has_a_row_and_every_row_a_destination() -> None:
    assert sorted(catalog_rows()) == registry.slugs()


def test_every_destination_page_is_linked_from_its_row() -> None:
    rows = catalog_rows()
    pages = sorted(p.stem for p in (DOCS / "destinations").glob("*.md"))
    assert set(pages) <= set(registry.slugs()), "a page for a destination that does not exist"
    for slug in pages:
        assert rows[slug] == f"destinations/{slug}.md", f"{slug}'s row does not link its page"
    for slug, page in rows.items():
        if page is not None:
            assert (DOCS / page).is_file(), f"{slug}'s row links {page}, which does not exist"
