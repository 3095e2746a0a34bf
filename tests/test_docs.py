"""The documentation stays whole and inside the repository (issue 13, docs/index.md):

1. the MkDocs site builds in strict mode (every nav page exists, every link and anchor between
   pages resolves, the API pages render, the generated parameter reference holds the schema);
2. no tracked file points at a path outside the repository (team notes, absolute work folders);
3. every relative link in README.md and docs/**/*.md names a file (and heading) that exists;
4. every work cited by author and year in parameter sources, presets and the model page has a
   full reference in docs/references.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked-file check needs `git ls-files`")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / p for p in out.decode().split("\0") if p]


def _doc_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


# --- 1. the site builds -------------------------------------------------------------------------


def test_site_builds_strict(tmp_path):
    """`mkdocs build --strict` succeeds; the parameter page is generated from the schema."""
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    pytest.importorskip("material", reason="mkdocs-material is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-4000:]

    from lattice.params.run import RunParams
    from lattice.params.spec import describe

    page = (site / "parameters" / "index.html").read_text(encoding="utf-8")
    keys = [key for key, *_ in describe(RunParams)]
    assert len(keys) > 100
    missing = [k for k in keys if f"<code>{k}</code>" not in page]
    assert not missing, f"parameter page lacks {missing[:5]}"
    # The benchmark page includes the root BENCHMARKS.md (snippet), not a copy of it.
    first_heading = next(line for line in (ROOT / "BENCHMARKS.md").read_text().splitlines()
                         if line.startswith("## "))
    assert first_heading[3:].strip() in (site / "benchmarks" / "index.html").read_text(encoding="utf-8")


# --- 2. nothing points outside the repository ---------------------------------------------------


def _outside_patterns() -> list[re.Pattern]:
    """Mentions of the team's notes and work folders, which a clone does not have.

    Built from pieces so that this file does not match itself."""
    notes = ["DES" + "IGN.md", "PIT" + "FALLS", "REFER" + "ENCES.md"]
    words = [re.escape(w) for w in notes]
    words += [re.escape(".." + "/shared"), re.escape("/" + "work/"), "DES" + r"IGN\s*§", "literature" + r"\s+folder"]
    return [re.compile(w, re.IGNORECASE if w.startswith("literature") else 0) for w in words]


def test_no_tracked_file_mentions_outside_paths():
    patterns = _outside_patterns()
    hits = []
    for path in _tracked_files():
        if not path.is_file():
            continue  # deleted in the work tree, not yet committed
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            for pat in patterns:
                if pat.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{n}: {pat.pattern!r}: {line.strip()[:120]}")
    assert not hits, "files point outside the repository (use docs/*.md pages):\n" + "\n".join(hits)


def test_outside_patterns_match_what_they_must():
    """The scan above is not vacuous: each pattern finds the forms it is meant to catch."""
    samples = ["see ../" + "shared/x", "/" + "work/main", "DES" + "IGN.md", "DES" + "IGN §2",
               "PIT" + "FALLS.md", "REFER" + "ENCES.md", "the literature" + " folder"]
    patterns = _outside_patterns()
    for s in samples:
        assert any(p.search(s) for p in patterns), s
    assert not any(p.search("docs/model.md and docs/references.md") for p in patterns)


# --- 3. relative links resolve ------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~)")


def _links(text: str) -> list[str]:
    """Markdown link targets outside fenced code blocks and inline code."""
    out, in_fence = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        out.extend(LINK.findall(line))
    return out


def _slug(heading: str) -> str:
    """The anchor MkDocs (Python-Markdown toc) gives a heading."""
    text = re.sub(r"`|\*\*|\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip()
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(path: Path) -> set[str]:
    anchors, in_fence = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line.strip()):
            in_fence = not in_fence
        elif not in_fence and line.startswith("#"):
            anchors.add(_slug(line.lstrip("#")))
    return anchors


def test_slug_matches_mkdocs():
    assert _slug("One cell step (`Model.step`)") == "one-cell-step-modelstep"
    assert _slug("Hill drug effects: E(c)") == "hill-drug-effects-ec"
    assert _slug("S ⇄ P switching") == "s-p-switching"


@pytest.mark.parametrize("page", _doc_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for target in _links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("//"):
            continue  # absolute URL (http:, https:, mailto:)
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
            continue
        try:
            dest.relative_to(ROOT)
        except ValueError:
            broken.append(f"{target}: outside the repository")
            continue
        if anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


# --- 4. every cited source has a full reference --------------------------------------------------

CITATION = re.compile(
    r"\b((?:van )?[A-Z][a-zA-Zéü\-]+(?: (?:&|and) [A-Z][a-zA-Zéü\-]+)?)(?: et al\.)?,? ((?:19|20)\d\d)\b"
)


def _citations(text: str) -> set[str]:
    """"Author 2010", "Author et al. 2010", "A & B 1997" -> "Author 2010", "A & B 1997"."""
    return {f"{m.group(1).replace(' and ', ' & ')} {m.group(2)}" for m in CITATION.finditer(text)}


def test_citation_pattern():
    assert _citations("(Sharma et al. 2010; Francis and Palsson 1997, van Dam 2017)") == {
        "Sharma 2010", "Francis & Palsson 1997", "van Dam 2017"}


def test_every_cited_source_has_a_full_reference():
    """The parameter sources, the presets' comments and the model page cite works by author and
    year; docs/references.md must hold each of them (full citations live there)."""
    from lattice.params.run import RunParams
    from lattice.params.spec import describe

    texts = [source for *_, source in describe(RunParams)]
    texts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "conf").rglob("*.yaml"))]
    texts += [(ROOT / "docs" / "model.md").read_text(encoding="utf-8")]
    cited = set().union(*(_citations(t) for t in texts))
    assert len(cited) > 30, "the citation scan found too little to be meaningful"
    references = (ROOT / "docs" / "references.md").read_text(encoding="utf-8")
    missing = sorted(c for c in cited if c not in references)
    assert not missing, f"cited but not in docs/references.md: {missing}"
