"""Files and records -> Article: text, markdown, HTML, JSON and JSON Lines; no embedding."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import yaml

from tanya.errors import InputError
from tanya.types import Article

logger = logging.getLogger(__name__)

_TEXT_SUFFIXES = frozenset({".txt"})
_MARKDOWN_SUFFIXES = frozenset({".md"})
_HTML_SUFFIXES = frozenset({".html", ".htm"})
_JSON_SUFFIXES = frozenset({".json"})
_JSONL_SUFFIXES = frozenset({".jsonl"})
SUPPORTED_SUFFIXES = _TEXT_SUFFIXES | _MARKDOWN_SUFFIXES | _HTML_SUFFIXES | _JSON_SUFFIXES | _JSONL_SUFFIXES

_SNIFF_BYTES = 8192
_MAX_CONTROL_RATIO = 0.10
# Bytes that never appear in text; tab, newlines, form feed and escape do.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 27))
_BOMS = (
    # UTF-32 first: its little-endian mark starts with the UTF-16 one.
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)

_TITLE_MAX_CHARS = 150
_TITLE_MAX_WORDS = 20
_SENTENCE_ENDINGS = (".", "!", "?", ":", ";", ",", "…")
_CLOSERS = "\"'”’»)]"

_LINE_BREAKS = re.compile(r"\r\n?|[\v\f\x85\u2028\u2029]")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MD_HEADING = re.compile(r"#\s+(.*?)(?:\s+#+)?\s*")

_JSON_TYPE_NAMES = {bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}


@dataclass
class IngestReport:
    """What reading left out, one `path:line: reason` line per skipped file or record."""

    skipped: int = 0
    warnings: list[str] = field(default_factory=list)

    def skip(self, where: str, reason: str) -> None:
        """Count one unusable file or record and say why."""
        # Paths, ids and parser messages can carry newlines; a warning stays one line.
        line = _one_line(f"{where}: {reason}")
        self.skipped += 1
        self.warnings.append(line)
        logger.warning("skipped %s", line)


def read_sources(
    sources: Sequence[Path], report: IngestReport, max_bytes: int = 50_000_000
) -> Iterator[Article]:
    """Read articles from folders (recursively) and files; unusable content goes to `report`."""
    roots = [Path(source) for source in sources]
    # Checked before the first article, so a typo fails fast instead of after a long read.
    for root in roots:
        if not root.exists():
            raise InputError(f"{root}: no such file or folder")
    return _read_roots(roots, report, max_bytes)


class _Unusable(Exception):
    """A file or record that cannot become an article; `line` refines where, when known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def _read_roots(roots: list[Path], report: IngestReport, max_bytes: int) -> Iterator[Article]:
    seen: dict[str, str] = {}
    for root in roots:
        for path, rel in _files(root, report):
            for article, where in _read_file(path, rel, report, max_bytes):
                first = seen.get(article.id)
                if first is not None:
                    report.skip(where, f"duplicate id '{article.id}' (first seen at {first})")
                    continue
                seen[article.id] = where
                yield article


def _files(root: Path, report: IngestReport) -> Iterator[tuple[Path, str]]:
    """(path, path relative to the source) for every readable-looking file, in a stable order."""
    if not root.is_dir():
        if root.suffix.lower() not in SUPPORTED_SUFFIXES:
            # Named on purpose, so saying nothing would look like a silent failure.
            kind = root.suffix or "no extension"
            report.skip(str(root), f"unsupported file type ({kind})")
            return
        yield root, root.name
        return

    def walk_error(error: OSError) -> None:
        report.skip(str(error.filename), error.strerror or str(error))

    found: list[tuple[tuple[str, ...], Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            found.append((tuple(rel.split("/")), path, rel))
    for _, path, rel in sorted(found):
        yield path, rel


def _read_file(path: Path, rel: str, report: IngestReport, max_bytes: int) -> Iterator[tuple[Article, str]]:
    """Articles of one file with where each came from; problems go to `report`."""
    where = str(path)
    suffix = path.suffix.lower()
    try:
        if not path.is_file():
            raise _Unusable("not a regular file")
        size = path.stat().st_size
        if size > max_bytes:
            raise _Unusable(f"too large ({size / 1_000_000:.1f} MB)")
        text = _decode(path.read_bytes())
        if not text.strip():
            raise _Unusable("empty")
        if suffix in _JSONL_SUFFIXES:
            yield from _read_jsonl(text, rel, where, report)
        elif suffix in _JSON_SUFFIXES:
            yield from _read_json(text, rel, where, report)
        else:
            if suffix in _HTML_SUFFIXES:
                fields = _parse_html(text)
            elif suffix in _MARKDOWN_SUFFIXES:
                fields = _parse_markdown(text)
            else:
                fields = _parse_plain(text)
            article_id = fields.pop("id", "") or rel
            if not fields.get("text", "").strip():  # e.g. a lone escape character: not empty until cleaned
                raise _Unusable("no text once control characters are removed")
            yield Article(id=article_id, origin=rel, **fields), where
    except _Unusable as unusable:
        report.skip(where if unusable.line is None else f"{where}:{unusable.line}", unusable.reason)
    except OSError as error:
        report.skip(where, error.strerror or str(error))


# --- bytes -> str


def _decode(data: bytes) -> str:
    """Text of a file's bytes: UTF-8 when it is, else the most plausible legacy encoding."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec)
            except UnicodeDecodeError as error:
                raise _Unusable(f"invalid {codec} text ({error.reason})") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    head = data[:_SNIFF_BYTES]
    if b"\x00" in head:
        raise _Unusable("binary file")
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if head and controls / len(head) > _MAX_CONTROL_RATIO:
        raise _Unusable("binary file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_legacy(data)


def _decode_legacy(data: bytes) -> str:
    import charset_normalizer

    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        raise _Unusable("not UTF-8, and no other text encoding fits")
    # Short Latin text fits many code pages equally well; an Indonesian file that is not
    # UTF-8 is almost always Windows-1252, so it wins every tie.
    for match in matches:
        if match.chaos <= best.chaos and "cp1252" in match.could_be_from_charset:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                break
            logger.debug("decoded as cp1252")
            return text
    logger.debug("decoded as %s", best.encoding)
    return str(best)


# --- text normalisation


def _clean_text(text: str) -> str:
    """One newline style, no control characters, NFC, no trailing spaces or outer blank lines."""
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROL_CHARS.sub("", text)
    text = unicodedata.normalize("NFC", text)
    lines = [line.rstrip() for line in text.split("\n")]
    start = 0
    while start < len(lines) and not lines[start]:
        start += 1
    end = len(lines)
    while end > start and not lines[end - 1]:
        end -= 1
    return "\n".join(lines[start:end])


def _clean_field(value: object) -> str:
    """A metadata value as one clean line; numbers and dates become text, null and containers ""."""
    if value is None or isinstance(value, (list, dict)):
        return ""
    # YAML front matter turns `date: 2024-03-12` into a date object.
    text = value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)
    text = _CONTROL_CHARS.sub("", _LINE_BREAKS.sub(" ", text))
    return " ".join(unicodedata.normalize("NFC", text).split())


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _json_type(value: object) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


# --- plain text and markdown


def _looks_like_title(line: str) -> bool:
    bare = line.rstrip(_CLOSERS).rstrip()
    return (
        bool(bare)
        and len(line) <= _TITLE_MAX_CHARS
        and len(line.split()) <= _TITLE_MAX_WORDS
        and not bare.endswith(_SENTENCE_ENDINGS)
    )


def _split_first_line(text: str) -> tuple[str, str]:
    """The first line and the text after it, without the blank lines in between."""
    first, _, rest = text.partition("\n")
    return first.strip(), rest.lstrip("\n")


def _parse_plain(text: str) -> dict[str, str]:
    text = _clean_text(text)
    first, rest = _split_first_line(text)
    if rest and _looks_like_title(first):
        return {"title": _clean_field(first), "text": rest}
    return {"text": text}


def _parse_markdown(text: str) -> dict[str, str]:
    text = _clean_text(text)
    meta: dict[str, str] = {}
    if text.split("\n", 1)[0].strip() == "---":
        meta, text = _front_matter(text)
    if not text:
        raise _Unusable("no text after the front matter")
    first, rest = _split_first_line(text)
    heading = _MD_HEADING.fullmatch(first)
    if meta.get("title"):
        # The same title repeated as a heading is not part of the article's text.
        if heading and rest and _clean_field(heading.group(1)) == meta["title"]:
            text = rest
    elif heading and rest:
        meta["title"] = _clean_field(heading.group(1))
        text = rest
    elif rest and _looks_like_title(first):
        meta["title"] = _clean_field(first)
        text = rest
    return {**meta, "text": text}


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Front matter keys tanya uses and the text after the block."""
    lines = text.split("\n")
    close = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if close is None:
        raise _Unusable("bad front matter (no closing ---)", line=1)
    try:
        data = yaml.safe_load("\n".join(lines[1:close]))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise _Unusable(
            f"bad front matter ({problem})", line=None if mark is None else mark.line + 2
        ) from None
    except RecursionError:
        raise _Unusable("bad front matter (nested too deeply)", line=1) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _Unusable(f"bad front matter (a {_json_type(data)}, not key: value pairs)", line=1)
    meta = {key: _clean_field(data.get(key)) for key in ("id", "title", "date", "source", "url")}
    # A url written by hand is a deliberate, stable identity, as it is in a record.
    meta["id"] = meta["id"] or meta["url"]
    return meta, _clean_text("\n".join(lines[close + 1 :]))


# --- JSON and JSON Lines


def _record(item: object, default_id: str, origin: str) -> Article:
    if not isinstance(item, dict):
        raise _Unusable(f"record is a JSON {_json_type(item)}, not an object")
    if "text" not in item or item["text"] is None:
        raise _Unusable("missing text")
    raw = item["text"]
    if not isinstance(raw, str):
        raise _Unusable(f"text is a {_json_type(raw)}, not a string")
    text = _clean_text(raw)
    if not text:
        raise _Unusable("empty text")
    url = _clean_field(item.get("url"))
    return Article(
        id=_clean_field(item.get("id")) or url or default_id,
        text=text,
        title=_clean_field(item.get("title")),
        date=_clean_field(item.get("date")),
        source=_clean_field(item.get("source")),
        url=url,
        origin=origin,
    )


def _read_jsonl(text: str, rel: str, where: str, report: IngestReport) -> Iterator[tuple[Article, str]]:
    # Not splitlines(): JSON strings may hold U+2028, which it would treat as a line end.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        at = f"{where}:{number}"
        try:
            item = json.loads(line, strict=False)
        except json.JSONDecodeError as error:
            report.skip(at, f"malformed JSON ({error.msg}, column {error.colno})")
            continue
        except RecursionError:
            report.skip(at, "malformed JSON (nested too deeply)")
            continue
        try:
            article = _record(item, default_id=f"{rel}#{number}", origin=f"{rel}:{number}")
        except _Unusable as unusable:
            report.skip(at, unusable.reason)
            continue
        yield article, at


def _read_json(text: str, rel: str, where: str, report: IngestReport) -> Iterator[tuple[Article, str]]:
    try:
        data = json.loads(text, strict=False)
    except json.JSONDecodeError as error:
        raise _Unusable(f"malformed JSON ({error.msg}, column {error.colno})", line=error.lineno) from None
    except RecursionError:
        raise _Unusable("malformed JSON (nested too deeply)") from None
    if isinstance(data, dict) and "articles" in data and "text" not in data:
        data = data["articles"]
        if not isinstance(data, list):
            raise _Unusable(f"'articles' is a JSON {_json_type(data)}, not a list")
    if isinstance(data, dict):
        yield _record(data, default_id=rel, origin=rel), where
        return
    if not isinstance(data, list):
        raise _Unusable(f"expected a record or a list of records, found a JSON {_json_type(data)}")
    # Items are numbered, not lined: a compact file holds them all on one line.
    for number, item in enumerate(data, start=1):
        at = f"{where}#{number}"
        try:
            article = _record(item, default_id=f"{rel}#{number}", origin=f"{rel}#{number}")
        except _Unusable as unusable:
            report.skip(at, unusable.reason)
            continue
        yield article, at


# --- HTML

_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "object"})
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_DATE_META = frozenset(
    {
        "article:published_time", "og:article:published_time", "datepublished", "date",
        "dc.date", "dc.date.issued", "dcterms.date", "pubdate", "publishdate", "publish-date",
        "publish_date", "content_publisheddate", "parsely-pub-date", "sailthru.date",
    }
)  # fmt: skip


class _PageParser(HTMLParser):
    """Title, canonical url, published date and a plain fallback text of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.canonical = ""
        self.og_url = ""
        self.date = ""
        self._parts: list[str] = []
        self._skip_depth = 0
        self._in_title = False
        self._title_parts: list[str] = []
        self._ld_json: list[str] | None = None
        self._ld_blocks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name.lower(): (value or "") for name, value in attrs}
        if tag == "meta":
            key = (attr.get("property") or attr.get("name") or attr.get("itemprop") or "").lower()
            if key == "og:url" and not self.og_url:
                self.og_url = attr.get("content", "").strip()
            elif key in _DATE_META and not self.date:
                self.date = attr.get("content", "").strip()
        elif tag == "link" and "canonical" in attr.get("rel", "").lower().split():
            self.canonical = self.canonical or attr.get("href", "").strip()
        elif attr.get("itemprop", "").lower() == "datepublished" and not self.date:
            self.date = (attr.get("content") or attr.get("datetime") or "").strip()
        if tag == "title":
            self._in_title = True
        elif tag == "script" and attr.get("type", "").lower() == "application/ld+json":
            self._ld_json = []
        if tag == "body":
            # An unclosed <head> or stray <script> must not hide the whole page.
            self._skip_depth = 0
        elif tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self._parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "script" and self._ld_json is not None:
            self._ld_blocks.append("".join(self._ld_json))
            self._ld_json = None
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title_parts.append(data)
        elif self._ld_json is not None:
            self._ld_json.append(data)
        elif not self._skip_depth:
            self._parts.append(data)

    def close(self) -> None:
        super().close()
        self.title = _clean_field("".join(self._title_parts))
        if not self.date:
            self.date = next(filter(None, map(_ld_date, self._ld_blocks)), "")

    @property
    def url(self) -> str:
        # A relative canonical link names no page on its own.
        for candidate in (self.canonical, self.og_url):
            if candidate.startswith(("http://", "https://")):
                return candidate
        return ""

    @property
    def text(self) -> str:
        lines = (" ".join(line.split()) for line in "".join(self._parts).split("\n"))
        return "\n".join(line for line in lines if line)


def _ld_date(block: str) -> str:
    """datePublished from a JSON-LD block, or ""."""
    try:
        data = json.loads(block, strict=False)
    except (ValueError, RecursionError):
        return ""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            value = node.get("datePublished")
            if isinstance(value, str) and value.strip():
                return value.strip()
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return ""


def _parse_html(html: str) -> dict[str, str]:
    page = _PageParser()
    page.feed(html)
    page.close()
    text, title, sitename = "", "", ""
    try:
        import trafilatura

        document = trafilatura.bare_extraction(html, include_comments=False, with_metadata=True)
    except Exception:  # a third-party parser on arbitrary input; the plain fallback still works
        logger.debug("trafilatura failed; using the plain HTML text", exc_info=True)
        document = None
    if document is not None:
        text = _clean_text(getattr(document, "text", None) or "")
        title = _clean_field(getattr(document, "title", None))
        sitename = _clean_field(getattr(document, "sitename", None))
    if not text:
        # trafilatura gives up on tiny pages that still hold a usable paragraph.
        text = _clean_text(page.text)
    title = title or page.title
    first, rest = _split_first_line(text)
    if title and rest and _clean_field(first) == title:
        text = rest
    if not text:
        raise _Unusable("no text found in the HTML")
    date = _clean_field(page.date)
    return {"text": text, "title": title, "date": date, "source": sitename, "url": page.url}
