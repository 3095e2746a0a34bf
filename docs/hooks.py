"""MkDocs hook: the parameter reference page is generated from the schema at every build.

``docs/parameters.md`` on disk is only a pointer for readers of the raw repository; the site shows
the table that :func:`lattice.params.doc.reference_table` builds from the parameter dataclasses,
split into one section per config group, so the page can never drift from the code's defaults,
units and sources. Docstrings rendered by mkdocstrings lose their Sphinx role names
(":mod:", ":func:") on the way to the page.
"""

from __future__ import annotations

import re

GENERATED_PAGE = "parameters.md"

INTRO = """# Parameters

Every configuration key with its default, units, meaning and source, generated from the
parameter dataclasses in `lattice/params/` at each build of this site (the same table is printed
by `python -m lattice.params.doc`). Group presets (organs, hosts, treatments, experiments) change
some of these values; see [the model](model.md) for what each rule does with them,
[configuration](configuration.md) for how to set them and [references](references.md) for the
sources and what "solid", "check" and "uncertain" mean.
"""

#: Sphinx cross-reference roles left in docstrings (":mod:`x`"), as rendered by mkdocstrings:
#: the role name before a code span, and the "~" that shortens a dotted name.
SPHINX_ROLE = re.compile(r":(?:mod|func|class|meth|data|attr|obj|file|exc):(?=<code>)")
SHORTEN = re.compile(r"<code>~")

#: Section title of the keys that belong to no group (seed, backend, duration_h, ...).
TOP_LEVEL = "Run"


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace the on-disk pointer of ``parameters.md`` by the generated reference."""
    if page.file.src_uri != GENERATED_PAGE:
        return markdown
    from lattice.params.doc import reference_table

    # The table is wide: give it the width of the navigation sidebar (Material's `hide`).
    page.meta["hide"] = ["navigation"]
    return INTRO + grouped(escape_html(reference_table())) + "\n"


def grouped(table: str) -> str:
    """One ``##`` section per config group (the key's first part), in the schema's order."""
    header, rule, *rows = table.splitlines()
    sections: dict[str, list[str]] = {}
    for row in rows:
        key = row.split("`")[1]
        group = key.split(".")[0] if "." in key else TOP_LEVEL
        sections.setdefault(group, []).append(row)
    out = []
    for group, group_rows in sections.items():
        title = TOP_LEVEL if group == TOP_LEVEL else f"`{group}`"
        out += ["", f"## {title}", "", header, rule, *group_rows]
    return "\n".join(out)


def escape_html(markdown: str) -> str:
    """Escape ``<`` and ``>`` outside code spans: help texts such as "field drug_<name>" would
    otherwise be read as HTML tags and vanish from the page."""
    parts = markdown.split("`")
    for i in range(0, len(parts), 2):  # even pieces are outside backticks
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def on_page_content(html: str, page, config, files) -> str:
    """Drop the Sphinx role names that some docstrings use, keeping the code span they mark."""
    return SHORTEN.sub("<code>", SPHINX_ROLE.sub("", html))
