"""The README and docs/ link only to what exists: every relative link and image names a
file of the repository, and every ``#anchor`` a heading of its page, by the slugs GitHub
gives headings. External links (``https:``, ``mailto:``) are not fetched."""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))??(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_TARGET = re.compile(r"\]\(\s*(<[^>]*>|[^\s)]*)")  # [text](target) and ![alt](target)
REFERENCE_TARGET = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")  # [label]: target
HTML_TARGET = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']*)["']""")
HTML_ANCHOR = re.compile(r"""<[a-z]+\b[^>]*?\b(?:id|name)\s*=\s*["']([^"']+)["']""")
EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")
KEPT = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl"}  # letters, marks, digits


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, numbered from 1, with code spans blanked: a
    link or a heading inside code is an example, not a link."""
    lines, fence = [], None
    for number, line in enumerate(text.splitlines(), 1):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
        else:
            lines.append((number, CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)))
    return lines


def heading_text(source: str) -> str:
    """A heading's text as GitHub renders it: code spans keep their content; link and
    image markup, inline HTML, emphasis asterisks and entities go."""
    parts = []
    for index, piece in enumerate(CODE_SPAN.split(source)):
        # CODE_SPAN.split gives text, backticks, code, text, backticks, code, ...
        if index % 3 == 2:
            parts.append(piece)
        elif index % 3 == 0:
            piece = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", piece)
            piece = re.sub(r"<[^>]+>", "", piece)
            parts.append(html.unescape(piece.replace("*", "")))
    return "".join(parts).strip()


def slug(text: str) -> str:
    """GitHub's anchor for a heading (github-slugger): lower case; letters, marks, digits,
    ``-``, ``_`` and spaces kept, every other character dropped; each space a ``-``."""
    kept = (ch for ch in text.lower() if ch in " -_" or unicodedata.category(ch) in KEPT)
    return "".join(kept).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor of a page: its headings' slugs, a repeated one numbered ``-1``,
    ``-2``... as GitHub does, and the ``id`` or ``name`` of its HTML elements."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    lines = prose_lines(text)
    headings = []
    for position, (number, line) in enumerate(lines):
        atx = ATX_HEADING.match(line)
        if atx:
            headings.append(atx.group(1) or "")
        elif SETEXT_UNDERLINE.match(line) and position > 0:
            previous_number, previous = lines[position - 1]
            underlines = previous_number == number - 1 and previous.strip()
            if underlines and not ATX_HEADING.match(previous):
                headings.append(previous.strip())
        found.update(HTML_ANCHOR.findall(line))
    for heading in headings:
        base = result = slug(heading_text(heading))
        while result in seen:
            seen[base] += 1
            result = f"{base}-{seen[base]}"
        seen[result] = 0
        found.add(result)
    return found


def link_targets(text: str) -> list[tuple[int, str]]:
    """Each link or image target of a page's prose, with its line number."""
    targets = []
    for number, line in prose_lines(text):
        for pattern in (INLINE_TARGET, REFERENCE_TARGET, HTML_TARGET):
            targets.extend((number, target.strip("<>")) for target in pattern.findall(line))
    return targets


def broken_links(pages: list[Path], root: Path) -> list[str]:
    """``page:line: target: why`` for every relative link of ``pages`` that leads nowhere."""
    broken = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for number, target in link_targets(text):
            if EXTERNAL.match(target):
                continue
            where = f"{page.relative_to(root).as_posix()}:{number}: {target or '(empty)'}"
            path, _, anchor = target.partition("#")
            path = unquote(path.partition("?")[0])
            if not path and not anchor:
                broken.append(f"{where}: empty link")
                continue
            file = (page.parent / path).resolve() if path else page
            if not file.is_relative_to(root.resolve()):
                broken.append(f"{where}: outside the repository")
                continue
            if not file.exists():
                broken.append(f"{where}: no such file")
                continue
            if anchor and file.suffix == ".md" and file.is_file():
                if unquote(anchor) not in anchors(file.read_text(encoding="utf-8")):
                    broken.append(f"{where}: no heading #{anchor} in {file.name}")
    return broken


def test_every_relative_link_in_the_readme_and_docs_resolves():
    broken = broken_links(PAGES, ROOT)
    assert not broken, "broken links:\n" + "\n".join(broken)


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Data privacy: export and erasure", "data-privacy-export-and-erasure"),
        ("Admin > Users", "admin--users"),
        ("Users' requests", "users-requests"),
        ("Secrets, CSRF, HTTPS", "secrets-csrf-https"),
        ("The `flask admin-users` commands", "the-flask-admin-users-commands"),
        ("`snake_case` names", "snake_case-names"),
        ("**Bold** and [a link](docs/api.md)", "bold-and-a-link"),
        ("Ärger – über 1,000+ × 2", "ärger--über-1000--2"),
        ("Fish &amp; chips", "fish--chips"),
    ],
)
def test_a_heading_anchor_follows_githubs_slug_rules(heading, anchor):
    assert slug(heading_text(heading)) == anchor


def test_repeated_headings_get_numbered_anchors():
    page = "# Notes\n\n## Notes\n\nNotes\n-----\n\n```sh\n# Notes\n```\n"
    assert anchors(page) == {"notes", "notes-1", "notes-2"}


def test_a_broken_link_or_anchor_is_reported_with_its_line(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "api.md").write_text("# The Python API\n\n## Calls\n")
    (tmp_path / "shot.png").write_bytes(b"")
    (tmp_path / "README.md").write_text(
        "# Title\n"
        "![shot](shot.png) [api](docs/api.md#calls) [top](#title)\n"
        "[gone](docs/gone.md) ![gone](docs/gone.png) [bad](docs/api.md#nope) [self](#nope)\n"
        "[web](https://example.com/x.md) [mail](mailto:a@example.com) `[code](docs/no.md)`\n"
        "```md\n[in a fence](docs/no.md)\n```\n"
        "[up](../../etc/passwd)\n"
        "[ref]: docs/missing.md\n"
    )
    assert broken_links([tmp_path / "README.md"], tmp_path) == [
        "README.md:3: docs/gone.md: no such file",
        "README.md:3: docs/gone.png: no such file",
        "README.md:3: docs/api.md#nope: no heading #nope in api.md",
        "README.md:3: #nope: no heading #nope in README.md",
        "README.md:8: ../../etc/passwd: outside the repository",
        "README.md:9: docs/missing.md: no such file",
    ]


def test_every_setting_of_the_demo_script_is_in_the_readme():
    script = (ROOT / "scripts" / "demo").read_text()
    settings = set(re.findall(r"\$\{(\w+):-", script)) | {"DATABASE_URL"}
    assert settings >= {"PORT", "DEMO_USERS"}
    readme = (ROOT / "README.md").read_text()
    assert {name for name in settings if f"`{name}`" not in readme} == set()
