"""The wording's catalogues (pipelines/wording/locales/<lang>/LC_MESSAGES/ioc.po): every message in every
language, with the same placeholders and the same plural-ness; every id the code and the wall's pages ask for
exists; no empty message; GET /api/wording serves exactly the catalogues."""

from __future__ import annotations

import ast
import re
import string
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipelines import wording
from pipelines.settings import REPO_ROOT

PIPELINES = REPO_ROOT / "pipelines"
STATIC = PIPELINES / "serve" / "static"
# the calls that take a message id as their first string argument: text(id, …), both(id, …), Refused.saying(status, id, …),
# bilingual(id, …)
CALLS = {"text", "both", "saying", "bilingual"}
# the briefing's helpers that take the last part of ids: _headers("no", "kpi") asks for briefing.column.no, …
SUFFIXED = {"_headers": "briefing.column.", "_cover": "briefing.cover."}
ID = re.compile(r"^[a-z][a-z_]*(\.[a-z0-9_]+)+$")


def _read(lang: str) -> dict:
    from babel.messages.pofile import read_po

    with wording.path(lang).open("rb") as f:
        return {m.id[0] if isinstance(m.id, tuple) else m.id: m for m in read_po(f) if m.id}


def _fields(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name is not None}


def _strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


def test_every_message_is_in_every_language_with_the_same_placeholders():
    vi, en = _read("vi"), _read("en")
    assert vi.keys() == en.keys(), {"only in vi": sorted(vi.keys() - en.keys()), "only in en": sorted(en.keys() - vi.keys())}
    for ident in vi:
        assert ID.match(ident), f"{ident!r} is not a symbolic id (dotted, lower case)"
        assert vi[ident].pluralizable == en[ident].pluralizable, f"{ident}: plural forms in one language only"
        fields = {lang: [_fields(s) for s in _strings(book[ident])] for lang, book in (("vi", vi), ("en", en))}
        every = fields["vi"] + fields["en"]
        assert all(f == every[0] for f in every), f"{ident}: placeholders differ {fields}"
        for lang, book in (("vi", vi), ("en", en)):
            assert all(s.strip() for s in _strings(book[ident])), f"{ident}: empty in {lang}"
            assert book[ident].auto_comments, f"{ident}: no #. comment saying where it is shown ({lang})"


def _python_ids() -> tuple[set[str], set[str]]:
    """The ids the code asks for (a literal), and the prefixes of those it builds (an f-string's literal start)."""
    ids, prefixes = set(), set()
    for file in PIPELINES.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name in SUFFIXED:
                ids |= {SUFFIXED[name] + a.value for a in node.args if isinstance(a, ast.Constant)}
            if name not in CALLS:
                continue
            for arg in node.args[:2]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and ID.match(arg.value):
                    ids.add(arg.value)
                    break
                if isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
                    start = arg.values[0].value
                    if ID.match(start.rstrip(".")):
                        prefixes.add(start)
                        break
    return ids, prefixes


def _js_ids() -> set[str]:
    """The ids the pages ask for: the wall's words (t().word.key → wall.word.key, the status words i18n.js maps
    to the platform's ids), the elements' data-i18n, and the upload page's say(…)/words[…] and its elements'
    data-i18n (whole ids)."""
    wall = (STATIC / "wall.js").read_text(encoding="utf-8")
    i18n = (STATIC / "i18n.js").read_text(encoding="utf-8")
    asked = {f"wall.{m[0]}" + (f".{m[1]}" if m[1] else "") for m in re.findall(r"t\(\)\.(\w+)(?:\.(\w+))?", wall)}
    shared = set(re.findall(r'\w+: "((?:kpi|report)\.[\w.]+)"', i18n))
    asked = {a for a in asked if not a.startswith(("wall.status", "wall.cell"))} | shared
    asked |= {f"wall.{k}" for k in re.findall(r'data-i18n(?:-label)?="(\w+)"', (STATIC / "index.html").read_text())}
    submit = (STATIC / "submit.js").read_text(encoding="utf-8")
    asked |= set(re.findall(r'say\("([\w.]+)"', submit))
    asked |= set(re.findall(r'data-i18n="([\w.]+)"', (STATIC / "submit.html").read_text(encoding="utf-8")))
    asked |= {f"submit.status.{s}" for s in ("accepted", "waiting", "refused", "loaded", "partial", "quarantined",
                                               "failed", "duplicate", "empty")}
    return asked


def test_every_id_the_code_asks_for_is_in_both_languages():
    ids, prefixes = _python_ids()
    assert len(ids) > 20 and "kpi.to_date" in ids, "the scan finds the code's ids"
    assert {"briefing.summary", "briefing.column.no", "briefing.cover.tasks", "cli.column.period"} <= ids
    for lang in wording.LANGUAGES:
        known = wording.ids(lang)
        assert ids <= known, f"unknown ids in {lang}: {sorted(ids - known)}"
        for prefix in prefixes:
            assert any(i.startswith(prefix) for i in known), f"no id starts with {prefix!r} in {lang}"


def test_every_id_the_pages_ask_for_is_in_both_languages():
    asked = _js_ids()
    assert {"wall.title", "wall.why_count", "kpi.status.red", "report.status.late", "submit.rows"} <= asked
    assert {"wall.language", "wall.crumbs", "submit.page.file_label", "submit.page.token_change"} <= asked
    wall_words = {i.rsplit(".", 1)[0] for i in wording.ids() if i.startswith("wall.")} | wording.ids()
    for lang in wording.LANGUAGES:
        known = wording.ids(lang) | {i.rsplit(".", 1)[0] for i in wording.ids(lang)}  # t().batch: a group
        assert asked <= known, f"the pages ask for ids missing in {lang}: {sorted(asked - known)}"
    assert asked <= wall_words


VIETNAMESE = re.compile(r"[ạảãàáâậầấẩẫăắằẳẵặđêếềểễệôốồổỗộơớờởỡợưứừửữựíìỉĩịúùủũụóòỏõọéèẻẽẹýỳỷỹỵ]", re.IGNORECASE)


class _Page(HTMLParser):
    """A page's elements whose text comes from the wording (data-i18n: its text as the HTML holds it, each child
    marked data-slot="name" as {name}) or whose aria-label does (data-i18n-label), and any Vietnamese the page
    shows that comes from neither."""

    VOID = {"meta", "link", "input", "br", "img", "hr", "source"}

    def __init__(self):
        super().__init__()
        self.open: list[dict] = []  # the elements open: tag, data-i18n id, data-slot, text held
        self.texts: list[tuple[str, str]] = []
        self.labels: list[tuple[str, str]] = []
        self.loose: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "aria-label" in a:
            if "data-i18n-label" in a:
                self.labels.append((a["data-i18n-label"], a["aria-label"]))
            elif VIETNAMESE.search(a["aria-label"]):
                self.loose.append(a["aria-label"])
        if a.get("data-slot"):
            owner = next((e for e in reversed(self.open) if e["id"]), None)
            assert owner is not None, f"data-slot={a['data-slot']!r} outside an element with data-i18n"
            owner["text"].append(f"{{{a['data-slot']}}}")
        if tag not in self.VOID:
            self.open.append({"tag": tag, "id": a.get("data-i18n"), "slot": a.get("data-slot"), "text": []})

    def handle_endtag(self, tag):
        while self.open:
            element = self.open.pop()
            if element["id"]:
                self.texts.append((element["id"], " ".join("".join(element["text"]).split())))
            if element["tag"] == tag:
                break

    def handle_data(self, data):
        holder = next((e for e in reversed(self.open) if e["id"] or e["slot"]), None)
        if holder is not None and holder["id"]:
            holder["text"].append(data)
        elif holder is None and VIETNAMESE.search(data):
            self.loose.append(data.strip())


@pytest.mark.parametrize("page, prefix", [("index.html", "wall."), ("submit.html", "")])
def test_the_pages_show_the_catalogue_s_vietnamese_before_the_wording_loads(page, prefix):
    """Every text and aria-label of a page in Vietnamese is one of the wording's (data-i18n, data-i18n-label:
    on the wall the id after `wall.`, on the upload page the whole id), and the HTML holds the catalogue's own
    Vietnamese for the moment before the wording loads."""
    parsed = _Page()
    parsed.feed((STATIC / page).read_text(encoding="utf-8"))
    vi = wording.catalogue("vi")
    assert len(parsed.texts) > 5
    for ident, shown in parsed.texts + parsed.labels:
        assert prefix + ident in vi, f"{page}: {prefix + ident} is not in the wording"
        assert shown == vi[prefix + ident], f"{page}: {prefix + ident} shows {shown!r}, the wording {vi[prefix + ident]!r}"
    assert not parsed.loose, f"{page}: Vietnamese that is not from the wording: {parsed.loose}"


def test_text_fills_placeholders_and_plural_forms():
    assert wording.text("kpi.status.red") == "Không đạt" and wording.text("kpi.status.red", "en") == "Off target"
    assert wording.text("wall.units", "en", n=1) == "1 unit" and wording.text("wall.units", "en", n=3) == "3 units"
    assert wording.text("wall.units", "vi", n=3) == "3 đơn vị"
    assert wording.both("kpi.to_date", d="03/12") == {"vi": "đến ngày 03/12", "en": "to date 03/12"}
    assert wording.bilingual("cli.column.period") == "kỳ / period"
    with pytest.raises(KeyError, match="no.such.message"):
        wording.text("no.such.message")
    with pytest.raises(KeyError, match="no wording in the language"):
        wording.text("kpi.status.red", "fr")


def test_the_wall_is_served_the_catalogues():
    from pipelines.serve.app import create_app

    response = TestClient(create_app()).get("/api/wording")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-cache"
    body = response.json()
    assert body["default"] == "vi" and body["languages"] == ["vi", "en"]
    assert body["messages"] == {lang: wording.catalogue(lang) for lang in wording.LANGUAGES}
    assert body["messages"]["en"]["wall.units"] == ["{n} unit", "{n} units"]
    assert body["messages"]["vi"]["wall.units"] == "{n} đơn vị"
    assert body["messages"]["vi"].keys() == body["messages"]["en"].keys() == wording.ids()


def test_the_pages_keep_no_wording_of_their_own():
    """What the wall's scripts show comes from the catalogues: no Vietnamese sentence is left in them (the unit
    and period words of i18n.js's formatting aside)."""
    i18n = (STATIC / "i18n.js").read_text(encoding="utf-8")
    assert "STRINGS = {};" in i18n and "Trung tâm" not in i18n
    for script in ("wall.js", "submit.js"):
        code = re.sub(r"(^|\s)//[^\n]*", r"\1", (STATIC / script).read_text(encoding="utf-8"))  # not comments
        assert not re.search(r'"[^"\n]*[ạảãàáâậầấẩẫăắằẳẵặđ][^"\n]*"', code), script


def test_the_first_read_is_quick():
    import time

    wording._read.cache_clear()
    start = time.perf_counter()
    for lang in wording.LANGUAGES:
        wording.text("wall.title", lang)
    assert time.perf_counter() - start < 1.0, "the catalogues are read in milliseconds, once per process"


def test_catalogues_are_files_of_the_package():
    for lang in wording.LANGUAGES:
        assert wording.path(lang).is_file()
    assert not list(Path(wording.LOCALES).rglob("*.mo")), "no compiled catalogue is kept: the .po is read"
