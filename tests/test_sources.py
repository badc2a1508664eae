"""Digest sources: the indexed folder (front-matter dates, refresh, problems) and the URL template over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import CategoryRule, DigestSettings, Settings
from bot.digest.categories import Categorizer, rules_from_mapping
from bot.digest.sources import DigestUnavailable, FolderSource, UrlSource, open_source, url_template_problem
from bot.errors import DigestError
from tests.conftest import free_port, reference_digests

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
DAY = dt.date(2025, 10, 7)
RULES = {"Hardware": {"aliases": ["hw", "硬件"], "keywords": ["chip", "芯片"]},
         "Developer Tools": {"aliases": ["dev", "开发工具"], "keywords": ["SDK", "compiler"]}}


def digest_text(when: str, title: str, items: Sequence[tuple[str, str, str]],
                categories: Sequence[str] = ("Hardware", "Developer Tools")) -> str:
    """A digest in the reference layout: front matter, intro, rule, numbered items, rule, commentary."""
    lines = ["---", f'title: "{title}"', f"date: {when}", f"categories: [{', '.join(categories)}]", "---", "",
             f"Opening remarks for {title}.", "", "---", ""]
    for number, (headline, url, summary) in enumerate(items, start=1):
        lines += [f"{number}.".ljust(4) + f"[{headline}]({url})", "", f"    {summary}", ""]
    lines += ["---", "", "### Commentary", "", "A short closing note.", ""]
    return "\n".join(lines)


def sample_items(tag: str) -> list[tuple[str, str, str]]:
    return [
        (f"{tag}: a new chip for phones", "https://news.example.com/a", "It runs **small models** on the phone."),
        (f"{tag}: an SDK for agents", "https://news.example.com/b", "Developers get a toolkit."),
        (f"{tag}: funding round", "https://news.example.com/c", "A startup raised money."),
    ]


def categorizer() -> Categorizer:
    return Categorizer(rules_from_mapping(RULES))


def write(path: Path, content: str, mtime_ns: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- folder -----------------------------------------------------------------------------------

async def test_dates_come_from_front_matter_not_file_names(tmp_path: Path) -> None:
    write(tmp_path / "2025-10-07.md", digest_text("2025-10-05", "Sunday issue", sample_items("sun")))
    write(tmp_path / "notes" / "latest.md", digest_text("2025-10-07", "Tuesday issue", sample_items("tue")))
    source = FolderSource(tmp_path, categorizer(), SHANGHAI)
    tuesday = await source.for_date(DAY)
    sunday = await source.for_date(dt.date(2025, 10, 5))
    assert tuesday is not None and tuesday.title == "Tuesday issue"
    assert sunday is not None and sunday.title == "Sunday issue"
    assert await source.for_date(dt.date(2025, 10, 6)) is None
    assert await source.dates() == (dt.date(2025, 10, 5), DAY)
    assert source.problems == {}


async def test_categorizer_runs_on_indexed_digests(tmp_path: Path) -> None:
    write(tmp_path / "a.md", digest_text("2025-10-07", "Issue", sample_items("x")))
    digest = await FolderSource(tmp_path, categorizer(), SHANGHAI).for_date(DAY)
    assert digest is not None
    assert "Hardware" in digest.items[0].categories
    assert "Developer Tools" in digest.items[1].categories


@pytest.mark.parametrize(("zone", "expected"), [("Asia/Shanghai", dt.date(2025, 10, 8)),
                                                ("Europe/Berlin", dt.date(2025, 10, 7)),
                                                ("America/New_York", dt.date(2025, 10, 7))])
async def test_offset_timestamp_near_midnight_is_dated_in_the_configured_zone(
        tmp_path: Path, zone: str, expected: dt.date) -> None:
    # 00:30 in Shanghai on the 8th is still the 7th in Berlin and New York.
    write(tmp_path / "late.md", digest_text("2025-10-08T00:30:00+08:00", "Late issue", sample_items("late")))
    source = FolderSource(tmp_path, categorizer(), ZoneInfo(zone))
    digest = await source.for_date(expected)
    assert digest is not None and digest.title == "Late issue"
    assert digest.date == expected
    assert digest.published_at is not None
    assert digest.published_at.utcoffset() == dt.timedelta(hours=8)     # the timestamp is kept as written
    assert await source.dates() == (expected,)


async def test_bare_date_is_taken_as_written_in_any_zone(tmp_path: Path) -> None:
    write(tmp_path / "bare.md", digest_text("2025-10-08", "Bare", sample_items("bare")))
    for zone in (SHANGHAI, NEW_YORK):
        source = FolderSource(tmp_path, categorizer(), zone)
        assert await source.dates() == (dt.date(2025, 10, 8),)


async def test_refresh_reparses_only_what_changed(tmp_path: Path) -> None:
    for offset in range(30):
        day = DAY - dt.timedelta(days=offset)
        write(tmp_path / f"d{offset:02d}.md", digest_text(day.isoformat(), f"Issue {day}", sample_items("x")))
    clock = FakeClock()
    source = FolderSource(tmp_path, categorizer(), SHANGHAI, clock=clock)
    assert len(await source.dates()) == 30
    assert source.parses == 30

    # Many commands within the interval: not even a directory scan; after it, a scan but no parse.
    for _ in range(5):
        await source.for_date(DAY)
    clock.now += 5
    await source.latest(DAY)
    assert source.parses == 30

    # One file edited (new title, new mtime): exactly one parse, and the new content is served.
    edited = tmp_path / "d00.md"
    old = edited.stat().st_mtime_ns
    write(edited, digest_text(DAY.isoformat(), "Corrected issue", sample_items("y")), mtime_ns=old + 10**9)
    clock.now += 5
    digest = await source.for_date(DAY)
    assert digest is not None and digest.title == "Corrected issue"
    assert source.parses == 31

    # A new file and a deleted one.
    write(tmp_path / "new.md", digest_text("2025-10-08", "Tomorrow", sample_items("z")))
    (tmp_path / "d01.md").unlink()
    clock.now += 5
    assert await source.for_date(dt.date(2025, 10, 8)) is not None
    assert await source.for_date(dt.date(2025, 10, 6)) is None
    assert source.parses == 32
    assert len(await source.dates()) == 30


async def test_refresh_waits_for_the_interval_unless_forced(tmp_path: Path) -> None:
    write(tmp_path / "a.md", digest_text("2025-10-07", "First", sample_items("a")))
    clock = FakeClock()
    source = FolderSource(tmp_path, categorizer(), SHANGHAI, refresh_interval=1.0, clock=clock)
    assert await source.for_date(DAY) is not None
    write(tmp_path / "b.md", digest_text("2025-10-06", "Second", sample_items("b")))
    clock.now += 0.5
    assert await source.for_date(dt.date(2025, 10, 6)) is None           # not looked at yet
    await source.refresh()                                                # asked explicitly
    assert await source.for_date(dt.date(2025, 10, 6)) is not None


async def test_a_date_moved_to_another_file_follows_it(tmp_path: Path) -> None:
    write(tmp_path / "a.md", digest_text("2025-10-07", "A", sample_items("a")))
    source = FolderSource(tmp_path, categorizer(), SHANGHAI, refresh_interval=0)
    assert await source.dates() == (DAY,)
    write(tmp_path / "a.md", digest_text("2025-10-06", "A, redated", sample_items("a")))
    assert await source.for_date(DAY) is None
    moved = await source.for_date(dt.date(2025, 10, 6))
    assert moved is not None and moved.title == "A, redated"


async def test_malformed_files_are_skipped_and_reported_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path / "good.md", digest_text("2025-10-07", "Good", sample_items("g")))
    broken = tmp_path / "broken.md"
    write(broken, "Just some notes without front matter.\n")
    reported: list[tuple[str, str]] = []
    source = FolderSource(tmp_path, categorizer(), SHANGHAI, refresh_interval=0,
                          on_problem=lambda path, message: reported.append((path, message)))
    with caplog.at_level(logging.WARNING, logger="bot.digest.sources"):
        assert await source.for_date(DAY) is not None
        await source.refresh()
        await source.refresh()
    assert list(source.problems) == [str(broken)]
    message = source.problems[str(broken)]
    assert str(broken) in message and "\n" not in message
    assert reported == [(str(broken), message)]                  # counted once, not once per refresh
    assert sum("broken.md" in record.getMessage() for record in caplog.records) == 1

    write(broken, digest_text("2025-10-06", "Fixed", sample_items("f")), mtime_ns=broken.stat().st_mtime_ns + 10**9)
    assert await source.for_date(dt.date(2025, 10, 6)) is not None
    assert source.problems == {}


async def test_two_files_for_one_date_the_newer_wins(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    base = 1_700_000_000 * 10**9
    write(tmp_path / "old.md", digest_text("2025-10-07", "Draft", sample_items("d")), mtime_ns=base)
    write(tmp_path / "zz-new.md", digest_text("2025-10-07", "Final", sample_items("f")), mtime_ns=base + 10**9)
    with caplog.at_level(logging.WARNING, logger="bot.digest.sources"):
        source = FolderSource(tmp_path, categorizer(), SHANGHAI)
        digest = await source.for_date(DAY)
    assert digest is not None and digest.title == "Final"

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if "digests are dated 2025-10-07" in r.getMessage()]

    assert len(warnings()) == 1 and "using the newest" in warnings()[0] and "zz-new.md" in warnings()[0]
    # An unrelated change does not repeat the warning.
    with caplog.at_level(logging.WARNING, logger="bot.digest.sources"):
        write(tmp_path / "other.md", digest_text("2025-10-06", "Other", sample_items("o")))
        await source.refresh()
    assert len(warnings()) == 1
    # Touch the older one: now it is the newer, and that is worth saying again.
    os.utime(tmp_path / "old.md", ns=(base + 2 * 10**9, base + 2 * 10**9))
    with caplog.at_level(logging.WARNING, logger="bot.digest.sources"):
        await source.refresh()
    digest = await source.for_date(DAY)
    assert digest is not None and digest.title == "Draft"
    assert len(warnings()) == 2


async def test_latest_is_the_newest_on_or_before(tmp_path: Path) -> None:
    for day in ("2025-10-01", "2025-10-03", "2025-10-09"):
        write(tmp_path / f"{day}.md", digest_text(day, f"Issue {day}", sample_items(day)))
    source = FolderSource(tmp_path, categorizer(), SHANGHAI)
    latest = await source.latest(DAY)
    assert latest is not None and latest.date == dt.date(2025, 10, 3)
    exact = await source.latest(dt.date(2025, 10, 9))
    assert exact is not None and exact.date == dt.date(2025, 10, 9)
    assert await source.latest(dt.date(2025, 9, 30)) is None


async def test_hidden_and_non_markdown_files_are_ignored(tmp_path: Path) -> None:
    write(tmp_path / ".draft.md", "not a digest")
    write(tmp_path / "a.md~", "not a digest")
    write(tmp_path / "readme.txt", "not a digest")
    write(tmp_path / "a.md", digest_text("2025-10-07", "A", sample_items("a")))
    source = FolderSource(tmp_path, categorizer(), SHANGHAI)
    assert await source.dates() == (DAY,)
    assert source.problems == {}
    assert source.parses == 1


async def test_a_missing_folder_is_a_digest_error(tmp_path: Path) -> None:
    source = FolderSource(tmp_path / "absent", categorizer(), SHANGHAI)
    with pytest.raises(DigestError, match="digest folder not found"):
        await source.for_date(DAY)


async def test_reference_digests_index_by_their_front_matter(tmp_path: Path) -> None:
    references = reference_digests()
    if not references:
        pytest.skip("the reference digests are not beside this checkout")
    for path in references:
        (tmp_path / f"copy-{path.name}").write_bytes(path.read_bytes())
    source = FolderSource(tmp_path, categorizer(), SHANGHAI)
    assert source.problems == {}
    dates = await source.dates()
    assert len(dates) == len(references)
    assert source.problems == {}


# -- choosing the source ----------------------------------------------------------------------

async def test_open_source_resolves_folders_against_the_config_folder(tmp_path: Path) -> None:
    write(tmp_path / "digests" / "a.md", digest_text("2025-10-07", "A", sample_items("a")))
    settings = Settings(digests=DigestSettings(source="./digests"), base_dir=tmp_path,
                        categories=(CategoryRule("Hardware"),))
    source = open_source(settings, categorizer())
    assert isinstance(source, FolderSource)
    assert await source.for_date(DAY) is not None
    await source.close()


async def test_open_source_takes_http_templates_as_urls() -> None:
    settings = Settings(digests=DigestSettings(source="https://digests.example.com/{date:%Y-%m-%d}.md",
                                               fetch_timeout=7.5))
    source = open_source(settings, categorizer())
    assert isinstance(source, UrlSource)
    assert source.url_for(DAY) == "https://digests.example.com/2025-10-07.md"
    assert source.timeout == 7.5
    await source.close()


@pytest.mark.parametrize(("template", "fragment"), [
    ("https://example.com/today.md", "does not use the date"),
    ("https://example.com/{day}.md", "bad URL template"),
    ("https://example.com/{date:%Y-%m-%d", "bad URL template"),
    ("ftp://example.com/{date:%Y-%m-%d}.md", "not an http(s) URL"),
    ("https://example.com/today.md?token=s3cr3t", "does not use the date"),
])
def test_bad_url_templates_are_refused(template: str, fragment: str) -> None:
    problem = url_template_problem(template) or ""
    assert fragment in problem and "s3cr3t" not in problem
    with pytest.raises(ValueError, match="template"):
        UrlSource(template, categorizer(), SHANGHAI)


# -- URL template over real HTTP --------------------------------------------------------------

@dataclass
class DigestServer:
    """A local web server publishing digests by date, with ETag and Last-Modified validators."""

    documents: dict[str, tuple[str, str]] = field(default_factory=dict)   # day → (body, etag)
    statuses: dict[str, int] = field(default_factory=dict)               # day → forced status
    hanging: set[str] = field(default_factory=set)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        day = request.match_info["day"]
        self.requests.append((day, dict(request.headers)))
        response = await self._answer(request, day)
        self.answered.append(response.status)
        return response

    async def _answer(self, request: web.Request, day: str) -> web.StreamResponse:
        if day in self.hanging:
            await self.release.wait()
        if day in self.statuses:
            return web.Response(status=self.statuses[day], text="upstream trouble")
        if day not in self.documents:
            return web.Response(status=404, text="not published")
        body, etag = self.documents[day]
        last_modified = "Tue, 07 Oct 2025 01:00:00 GMT"
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body.encode(), content_type="text/markdown", charset="utf-8",
                            headers={"ETag": etag, "Last-Modified": last_modified})

    def template(self, query: str = "") -> str:
        assert self.server is not None
        return str(self.server.make_url("/digests/")) + "{date:%Y-%m-%d}.md" + query

    def days_requested(self) -> list[str]:
        return [day for day, _ in self.requests]


async def redirect_to_itself(request: web.Request) -> web.Response:
    raise web.HTTPFound(location=str(request.url))


@pytest.fixture
async def digest_server() -> AsyncIterator[DigestServer]:
    state = DigestServer()
    app = web.Application()
    app.router.add_get("/digests/{day}.md", state.handle)
    app.router.add_get("/loop/{day}.md", redirect_to_itself)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.server = server
    try:
        yield state
    finally:
        state.release.set()
        await server.close()


def url_source(template: str, timeout: float = 5.0) -> UrlSource:
    return UrlSource(template, categorizer(), SHANGHAI, fresh_for=0.0, timeout=timeout)


async def test_first_get_then_conditional_get_served_from_cache(digest_server: DigestServer) -> None:
    digest_server.documents["2025-10-07"] = (digest_text("2025-10-07", "Tuesday", sample_items("t")), '"v1"')
    source = url_source(digest_server.template())
    try:
        first = await source.for_date(DAY)
        second = await source.for_date(DAY)
    finally:
        await source.close()
    assert first is not None and first.title == "Tuesday"
    assert second == first
    assert digest_server.answered == [200, 304]
    (_, first_headers), (_, second_headers) = digest_server.requests
    assert "If-None-Match" not in first_headers
    assert second_headers["If-None-Match"] == '"v1"'
    assert second_headers["If-Modified-Since"] == "Tue, 07 Oct 2025 01:00:00 GMT"


async def test_a_changed_document_is_fetched_again(digest_server: DigestServer) -> None:
    digest_server.documents["2025-10-07"] = (digest_text("2025-10-07", "Draft", sample_items("d")), '"v1"')
    source = url_source(digest_server.template())
    try:
        draft = await source.for_date(DAY)
        digest_server.documents["2025-10-07"] = (digest_text("2025-10-07", "Final", sample_items("f")), '"v2"')
        final = await source.for_date(DAY)
    finally:
        await source.close()
    assert draft is not None and draft.title == "Draft"
    assert final is not None and final.title == "Final"
    assert digest_server.answered == [200, 200]


async def test_fresh_answers_come_from_the_cache_without_a_request(digest_server: DigestServer) -> None:
    digest_server.documents["2025-10-07"] = (digest_text("2025-10-07", "T", sample_items("t")), '"v1"')
    clock = FakeClock()
    source = UrlSource(digest_server.template(), categorizer(), SHANGHAI, fresh_for=60.0, clock=clock)
    try:
        for _ in range(3):
            assert await source.for_date(DAY) is not None
            assert await source.for_date(dt.date(2025, 10, 6)) is None
        assert source.requests == 2
        clock.now += 61
        assert await source.for_date(DAY) is not None
        assert source.requests == 3
    finally:
        await source.close()
    assert digest_server.answered == [200, 404, 304]


async def test_concurrent_askers_share_one_request(digest_server: DigestServer) -> None:
    digest_server.documents["2025-10-07"] = (digest_text("2025-10-07", "T", sample_items("t")), '"v1"')
    source = url_source(digest_server.template())
    try:
        results = await asyncio.gather(*(source.for_date(DAY) for _ in range(10)))
    finally:
        await source.close()
    assert all(result is not None and result.title == "T" for result in results)
    assert len(digest_server.requests) == 1


async def test_not_published_is_none(digest_server: DigestServer) -> None:
    source = url_source(digest_server.template())
    try:
        assert await source.for_date(DAY) is None
    finally:
        await source.close()
    assert digest_server.answered == [404]


async def test_server_errors_are_one_line_digest_errors(digest_server: DigestServer) -> None:
    digest_server.statuses["2025-10-07"] = 503
    template = digest_server.template("?token=s3cr3t").replace("http://", "http://reader:pa55@")
    source = url_source(template)
    try:
        with pytest.raises(DigestUnavailable) as caught:
            await source.for_date(DAY)
    finally:
        await source.close()
    message = str(caught.value)
    assert "HTTP 503" in message and "2025-10-07.md" in message
    assert "s3cr3t" not in message and "pa55" not in message and "\n" not in message


async def test_internal_server_error_is_a_digest_error(digest_server: DigestServer) -> None:
    digest_server.statuses["2025-10-07"] = 500
    source = url_source(digest_server.template())
    try:
        with pytest.raises(DigestError, match="HTTP 500"):
            await source.for_date(DAY)
    finally:
        await source.close()


async def test_a_hanging_server_times_out(digest_server: DigestServer) -> None:
    digest_server.documents["2025-10-07"] = (digest_text("2025-10-07", "T", sample_items("t")), '"v1"')
    digest_server.hanging.add("2025-10-07")
    source = url_source(digest_server.template(), timeout=0.3)
    try:
        with pytest.raises(DigestUnavailable, match=r"no answer within 0\.3 s"):
            await source.for_date(DAY)
    finally:
        await source.close()


async def test_a_closed_port_is_a_connection_error() -> None:
    source = url_source(f"http://127.0.0.1:{free_port()}/{{date:%Y-%m-%d}}.md")
    try:
        with pytest.raises(DigestUnavailable, match="cannot fetch") as caught:
            await source.for_date(DAY)
    finally:
        await source.close()
    assert "\n" not in str(caught.value)


async def test_a_malformed_document_is_a_digest_error(digest_server: DigestServer) -> None:
    digest_server.documents["2025-10-07"] = ("<html>Service page</html>", '"x"')
    source = url_source(digest_server.template())
    try:
        with pytest.raises(DigestError) as caught:
            await source.for_date(DAY)
    finally:
        await source.close()
    assert not isinstance(caught.value, DigestUnavailable)
    assert "2025-10-07.md" in str(caught.value)


async def test_a_long_document_arrives_whole(digest_server: DigestServer) -> None:
    items = [(f"Story {n} about a chip", f"https://news.example.com/{n}", "Words " * 400) for n in range(1, 61)]
    body = digest_text("2025-10-07", "Long issue", items)
    assert len(body.encode()) > 128 * 1024            # several network reads
    digest_server.documents["2025-10-07"] = (body, '"long"')
    source = url_source(digest_server.template())
    try:
        digest = await source.for_date(DAY)
    finally:
        await source.close()
    assert digest is not None and len(digest.items) == 60
    assert digest.items[-1].summary_text.count("Words") == 400


async def test_an_oversized_document_is_refused(digest_server: DigestServer) -> None:
    digest_server.documents["2025-10-07"] = (digest_text("2025-10-07", "T", sample_items("t")), '"v1"')
    source = UrlSource(digest_server.template(), categorizer(), SHANGHAI, fresh_for=0, max_bytes=100)
    try:
        with pytest.raises(DigestError, match="larger than 100 bytes"):
            await source.for_date(DAY)
    finally:
        await source.close()


async def test_latest_looks_back_day_by_day(digest_server: DigestServer) -> None:
    digest_server.documents["2025-10-04"] = (digest_text("2025-10-04", "Saturday", sample_items("s")), '"s"')
    source = url_source(digest_server.template())
    try:
        latest = await source.latest(DAY)
    finally:
        await source.close()
    assert latest is not None and latest.title == "Saturday"
    assert digest_server.days_requested() == ["2025-10-07", "2025-10-06", "2025-10-05", "2025-10-04"]


async def test_latest_gives_up_after_the_lookback(digest_server: DigestServer) -> None:
    digest_server.documents["2025-09-01"] = (digest_text("2025-09-01", "Old", sample_items("o")), '"o"')
    source = UrlSource(digest_server.template(), categorizer(), SHANGHAI, fresh_for=0, lookback_days=5)
    try:
        assert await source.latest(DAY) is None
    finally:
        await source.close()
    assert len(digest_server.requests) == 6


async def test_latest_skips_a_malformed_day_but_not_an_outage(digest_server: DigestServer) -> None:
    digest_server.documents["2025-10-07"] = ("no front matter here", '"bad"')
    digest_server.documents["2025-10-06"] = (digest_text("2025-10-06", "Monday", sample_items("m")), '"m"')
    source = url_source(digest_server.template())
    try:
        latest = await source.latest(DAY)
        assert latest is not None and latest.title == "Monday"
        digest_server.statuses["2025-10-07"] = 502
        with pytest.raises(DigestUnavailable, match="HTTP 502"):
            await source.latest(DAY)
    finally:
        await source.close()


async def test_close_closes_the_session(digest_server: DigestServer) -> None:
    digest_server.documents["2025-10-07"] = (digest_text("2025-10-07", "T", sample_items("t")), '"v1"')
    sessions: list[aiohttp.ClientSession] = []

    def factory() -> aiohttp.ClientSession:
        session = aiohttp.ClientSession()
        sessions.append(session)
        return session

    source = UrlSource(digest_server.template(), categorizer(), SHANGHAI, fresh_for=0,
                       session_factory=factory)
    await source.for_date(DAY)
    await source.for_date(DAY)
    await source.close()
    assert len(sessions) == 1
    assert sessions[0].closed



async def test_a_redirect_loop_error_never_shows_the_query_or_credentials(digest_server: DigestServer) -> None:
    assert digest_server.server is not None
    # aiohttp's own error text for a redirect loop carries the URL as it re-encoded it.
    template = str(digest_server.server.make_url("/loop/")) + "{date:%Y-%m-%d}.md?token=s3cr3t"
    source = url_source(template.replace("http://", "http://reader:pa55@"))
    try:
        with pytest.raises(DigestUnavailable) as caught:
            await source.for_date(DAY)
    finally:
        await source.close()
    message = str(caught.value)
    assert "s3cr3t" not in message and "pa55" not in message and "\n" not in message


async def test_another_days_document_is_not_that_days_digest(digest_server: DigestServer) -> None:
    # The URL for the 7th still serves the 6th's document (a stale copy behind a cache).
    digest_server.documents["2025-10-07"] = (digest_text("2025-10-06", "Monday", sample_items("m")), '"v1"')
    source = url_source(digest_server.template())
    try:
        assert await source.for_date(DAY) is None
    finally:
        await source.close()


# -- the checks check-config shares -----------------------------------------------------------

@pytest.mark.parametrize(("template", "fragment"), [
    ("https://x.example/{date!s:>999999999}", "only {date} and {date:FORMAT}"),
    ("https://x.example/{date.year}/{date:%m}", "only {date} and {date:FORMAT}"),
    ("https://x.example/{0}/{date}", "only {date} and {date:FORMAT}"),
    ("https://x.example/{date:{date}}", "only {date} and {date:FORMAT}"),
    ("https://x.example/{date:%H}.md", "does not use the date"),
    ("https://x.example/news {date}.md", "space or a control character"),
    ("https://x.example:99999/{date}.md", "valid host and port"),
    ("https:///{date}.md", "with a host"),
])
def test_url_templates_that_could_not_be_fetched_are_refused_without_quoting_them(template: str,
                                                                                  fragment: str) -> None:
    problem = url_template_problem(template) or ""
    assert fragment in problem
    assert "x.example" not in problem


def test_url_scheme_case_and_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.digest.sources import folder_path, is_url

    assert is_url("HTTPS://x.example/{date}.md") and is_url("http://x") and not is_url("./https://x")
    assert url_template_problem("HTTPS://x.example/{date}.md") is None
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert folder_path("~/digests", tmp_path / "conf") == tmp_path / "home" / "digests"
    assert folder_path("digests/../d", tmp_path / "conf") == tmp_path / "conf" / "d"
    for bad in ("dig\x00ests", "~no_such_user_zz/digests"):
        with pytest.raises(ValueError):
            folder_path(bad, tmp_path)
    settings = Settings(digests=DigestSettings(source="~/digests"), base_dir=tmp_path / "conf")
    source = open_source(settings, categorizer())
    assert isinstance(source, FolderSource) and source.folder == tmp_path / "home" / "digests"


async def test_current_looks_at_the_folder_now_where_for_date_may_answer_from_a_recent_scan(tmp_path: Path) -> None:
    path = tmp_path / "today.md"
    write(path, digest_text(DAY.isoformat(), "First", sample_items("a")))
    source = FolderSource(tmp_path, categorizer(), SHANGHAI, clock=FakeClock())
    first = await source.for_date(DAY)
    assert first is not None and first.title == "First"
    write(path, digest_text(DAY.isoformat(), "Fixed", sample_items("a")), mtime_ns=path.stat().st_mtime_ns + 10**9)
    assert await source.for_date(DAY) is first                  # within the refresh interval
    now = await source.current(DAY)
    assert now is not None and now.title == "Fixed"
    assert await source.current(DAY) is now                     # unchanged since: the same digest


async def test_current_asks_the_server_again_within_the_cache_time(digest_server: DigestServer) -> None:
    digest_server.documents["2025-10-07"] = (digest_text("2025-10-07", "T", sample_items("t")), '"v1"')
    source = UrlSource(digest_server.template(), categorizer(), SHANGHAI, fresh_for=60.0, clock=FakeClock())
    try:
        cached = await source.for_date(DAY)
        assert await source.current(DAY) is cached              # a 304: the digest it had
        digest_server.documents["2025-10-07"] = (digest_text("2025-10-07", "T2", sample_items("t")), '"v2"')
        assert await source.for_date(DAY) is cached             # still fresh in the cache
        now = await source.current(DAY)
        assert now is not None and now.title == "T2"
    finally:
        await source.close()
    assert digest_server.answered == [200, 304, 200]
