"""Access-log formats: exact Hits for realistic lines, malformed lines, directives, detection,
and (hypothesis) parse never raises and its fast path agrees with its slow path."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.core.errors import MonitorError
from monitor.logs.formats import (
    CACHE_MAX,
    FORMATS,
    SKIP,
    Hit,
    LogFormatError,
    detect,
    make,
    section,
)

CLF = b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
CLF_HIT = Hit(971211336.0, "127.0.0.1", "/apache_pb.gif", 200, 2326)
UA = b'"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"'
COMBINED = CLF + b' "http://www.example.com/start.html" ' + UA

# 2023-11-14 22:13:20 at +05:30 is 16:43:20 UTC.
IPV6_PLUS_0530 = (b'2001:db8::1 - - [14/Nov/2023:22:13:20 +0530] '
                  b'"POST /api/user/1?x=1/2 HTTP/1.1" 201 -')
IPV6_HIT = Hit(1699980200.0, "2001:db8::1", "/api", 201, 0)


def parse(name: str, line: bytes):
    return make(name).parse(line)


# -- Common and Combined ---------------------------------------------------------------------


@pytest.mark.parametrize(("line", "hit"), [
    (CLF, CLF_HIT),
    (CLF + b"\r", CLF_HIT),
    (IPV6_PLUS_0530, IPV6_HIT),
    # Across midnight and a year: 23:30 at -02:00 is 01:30 UTC on 1 January 2024.
    (b'10.1.2.3 - - [31/Dec/2023:23:30:00 -0200] "GET / HTTP/1.1" 200 0',
     Hit(1704072600.0, "10.1.2.3", "/", 200, 0)),
    (b'10.0.0.1 - - [29/Feb/2024:23:59:59 +0000] "GET http://example.com/a/b HTTP/1.1" 200 5',
     Hit(1709251199.0, "10.0.0.1", "/a", 200, 5)),
    (b'10.0.0.1 - - [29/Feb/2024:23:59:59 +0000] "GET https://example.com:8443 HTTP/2.0" 301 5',
     Hit(1709251199.0, "10.0.0.1", "/", 301, 5)),
    (b'10.0.0.1 - - [29/Feb/2024:23:59:59 +0000] "OPTIONS * HTTP/1.1" 204 -',
     Hit(1709251199.0, "10.0.0.1", "/", 204, 0)),
    (b'10.0.0.1 - - [29/Feb/2024:23:59:59 +0000] "GET /#top/x HTTP/1.1" 200 1',
     Hit(1709251199.0, "10.0.0.1", "/", 200, 1)),
    (b'10.0.0.1 - - [29/Feb/2024:23:59:59 +0000] "GET /caf\xc3\xa9/menu HTTP/1.1" 200 1',
     Hit(1709251199.0, "10.0.0.1", "/caf\u00e9", 200, 1)),
    (b'10.0.0.\xff - - [29/Feb/2024:23:59:59 +0000] "GET /\xff\xfe/x HTTP/1.1" 200 1',
     Hit(1709251199.0, "10.0.0.\ufffd", "/\ufffd\ufffd", 200, 1)),
    # Methods beyond the usual ones, HTTP/1.0 and 2, an authuser holding a space.
    (b'10.0.0.1 - - [29/Feb/2024:23:59:59 +0000] "PROPFIND /dav/x HTTP/1.1" 207 10',
     Hit(1709251199.0, "10.0.0.1", "/dav", 207, 10)),
    (b'10.0.0.1 - - [29/Feb/2024:23:59:59 +0000] "M-SEARCH * HTTP/1.1" 200 10',
     Hit(1709251199.0, "10.0.0.1", "/", 200, 10)),
    (b'10.0.0.1 - john smith [29/Feb/2024:23:59:59 +0000] "GET /x HTTP/2" 200 10',
     Hit(1709251199.0, "10.0.0.1", "/x", 200, 10)),
    # Apache escapes a quote in the request line: it does not end the request.
    (b'10.0.0.1 - - [29/Feb/2024:23:59:59 +0000] "GET /a\\"b/c HTTP/1.1" 400 10',
     Hit(1709251199.0, "10.0.0.1", '/a\\"b', 400, 10)),
])
def test_common_lines(line, hit):
    assert parse("common", line) == hit
    parser = make("common")
    assert [parser.parse(line) for _ in range(3)] == [hit] * 3  # through its caches too


@pytest.mark.parametrize(("line", "hit"), [
    (COMBINED, CLF_HIT),
    (COMBINED + b"\r", CLF_HIT),
    (IPV6_PLUS_0530 + b' "-" "curl/8.4.0"', IPV6_HIT),
    # nginx's further fields ($http_x_forwarded_for...) are allowed after the user agent.
    (COMBINED + b' "198.51.100.7, 10.0.0.1" 0.004', CLF_HIT),
    (CLF + b' "-" "Mozilla/5.0 \\"quoted\\" agent"', CLF_HIT),
    (b'10.0.0.1 - - [29/Feb/2024:23:59:59 +0000] "GET /a\\"b/c HTTP/1.1" 400 10 "-" "x"',
     Hit(1709251199.0, "10.0.0.1", '/a\\"b', 400, 10)),
    (b'::ffff:10.0.0.1 - - [01/Jan/2024:00:00:00 +0100] "HEAD /search?q=a/b HTTP/1.1" 304 - '
     b'"-" "-"', Hit(1704063600.0, "::ffff:10.0.0.1", "/search", 304, 0)),
])
def test_combined_lines(line, hit):
    parser = make("combined")
    assert [parser.parse(line) for _ in range(3)] == [hit] * 3


def test_common_and_combined_do_not_take_each_other():
    assert parse("combined", CLF) is None  # no referer nor user agent
    assert parse("common", COMBINED) is None  # fields after the size


HEAD = b'10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] '
MALFORMED_CLF = {
    "no request": HEAD + b'"-" 400 0',
    "TLS handshake as nginx writes it": HEAD + b'"\\x16\\x03\\x01\\x00\\xa5\\x01\\x00" 400 157',
    "TLS handshake raw": HEAD + b'"\x16\x03\x01\x00\xa5\x01\x00" 400 157',
    "request of two words": HEAD + b'"GET /" 200 1',
    "request of four words": HEAD + b'"GET /a b HTTP/1.1" 200 1',
    "lowercase method": HEAD + b'"get / HTTP/1.1" 200 1',
    "not HTTP": HEAD + b'"GET / FTP/1.0" 200 1',
    "target no path": HEAD + b'"GET foo HTTP/1.1" 200 1',
    "target host:port": HEAD + b'"CONNECT example.com:443 HTTP/1.1" 200 1',
    "status of 4 digits": HEAD + b'"GET / HTTP/1.1" 2000 1',
    "status of letters": HEAD + b'"GET / HTTP/1.1" abc 1',
    "status 99": HEAD + b'"GET / HTTP/1.1" 99 1',
    "status 600": HEAD + b'"GET / HTTP/1.1" 600 1',
    "size of letters": HEAD + b'"GET / HTTP/1.1" 200 12a',
    "negative size": HEAD + b'"GET / HTTP/1.1" 200 -5',
    "no size": HEAD + b'"GET / HTTP/1.1" 200',
    "day 32": b'1.2.3.4 - - [32/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1',
    "29 February 2023": b'1.2.3.4 - - [29/Feb/2023:13:55:36 -0700] "GET / HTTP/1.1" 200 1',
    "unknown month": b'1.2.3.4 - - [10/Okt/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1',
    "hour 25": b'1.2.3.4 - - [10/Oct/2000:25:55:36 -0700] "GET / HTTP/1.1" 200 1',
    "no zone": b'1.2.3.4 - - [10/Oct/2000:13:55:36] "GET / HTTP/1.1" 200 1',
    "zone of a day": b'1.2.3.4 - - [10/Oct/2000:13:55:36 +2400] "GET / HTTP/1.1" 200 1',
    "ISO time": b'1.2.3.4 - - [2000-10-10T13:55:36Z] "GET / HTTP/1.1" 200 1',
    "no brackets": b'1.2.3.4 - - 10/Oct/2000:13:55:36 -0700 "GET / HTTP/1.1" 200 1',
    "no ident nor user": b'1.2.3.4 [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1',
    "no user": b'1.2.3.4 - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1',
    "no client": b' - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1',
    "unterminated request": HEAD + b'"GET / HTTP/1.1 200 1',
    "only a host": b"127.0.0.1",
    "prose": b"the server restarted at noon",
    "JSON": b'{"remote_addr": "1.2.3.4", "status": 200}',
}


def warm(parser, times: list[bytes], targets: list[bytes]) -> None:
    """Fill the parser's caches (times, sections) so that its fast path gets the lines."""
    tail = b' "-" "curl/8.4.0"' if parser.name == "combined" else b""
    for stamp in times:
        for target in targets:
            line = b"10.9.9.9 - - " + stamp + b' "GET ' + target + b' HTTP/1.1" 200 1' + tail
            assert isinstance(parser.parse(line), Hit), line


@pytest.mark.parametrize("line", MALFORMED_CLF.values(), ids=MALFORMED_CLF.keys())
@pytest.mark.parametrize("name", ["common", "combined"])
def test_malformed_clf_lines_are_none(name, line):
    if name == "combined" and line.count(b'"') >= 2:
        line += b' "-" "curl/8.4.0"'
    cold, hot = make(name), make(name)
    warm(hot, [b"[10/Oct/2000:13:55:36 -0700]"], [b"/", b"/a"])
    assert [cold.parse(line), cold.parse(line), hot.parse(line)] == [None, None, None]


def test_combined_without_its_user_agent_is_none():
    parser = make("combined")
    warm(parser, [b"[10/Oct/2000:13:55:36 -0700]"], [b"/apache_pb.gif"])
    assert parser.parse(CLF + b' "-"') is None
    assert parser.parse(CLF + b' "-" "unterminated') is None


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("line", [b"", b" ", b"\r", b" \t \r"])
def test_blank_lines_are_skipped(name, line):
    assert parse(name, line) is SKIP


# -- W3C -------------------------------------------------------------------------------------

IIS_HEADER = [
    b"#Software: Microsoft Internet Information Services 10.0",
    b"#Version: 1.0",
    b"#Date: 2023-01-02 03:04:05",
    b"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    b"cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes time-taken",
]
IIS_LINE = (b"2023-01-02 03:04:05 10.0.0.5 GET /api/user/7 id=3 443 - 192.0.2.4 "
            b"Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 5120 12")
IIS_HIT = Hit(1672628645.0, "192.0.2.4", "/api", 200, 5120)


def w3c(*lines: bytes) -> list:
    parser = make("w3c")
    return [parser.parse(line) for line in lines]


def test_w3c_lines():
    results = w3c(*IIS_HEADER, IIS_LINE, IIS_LINE + b"\r", IIS_LINE)
    assert results == [SKIP] * 4 + [IIS_HIT] * 3
    ipv6 = (b"2023-01-02 23:59:59 10.0.0.5 POST / - 443 bob 2001:db8::9 - - 302 0 0 - 1")
    assert w3c(*IIS_HEADER, ipv6) == [SKIP] * 4 + [Hit(1672703999.0, "2001:db8::9", "/", 302, 0)]


def test_w3c_fields_in_any_order_with_fractions_and_no_bytes():
    header = b"#Fields: c-ip sc-status time cs-uri-stem date\r"
    line = b"2001:db8::7 404 03:04:05.250 /missing/page 2023-01-02\r"
    assert w3c(header, line) == [SKIP, Hit(1672628645.25, "2001:db8::7", "/missing", 404, 0)]


def test_w3c_a_second_fields_directive_changes_the_layout_mid_file():
    second = b"#Fields: date time c-ip cs-uri-stem sc-status sc-bytes"
    short = b"2023-01-02 03:04:06 192.0.2.5 /static/app.js 200 900"
    assert w3c(*IIS_HEADER, IIS_LINE, second, short, IIS_LINE) == [
        SKIP, SKIP, SKIP, SKIP, IIS_HIT, SKIP,
        Hit(1672628646.0, "192.0.2.5", "/static", 200, 900),
        None,  # the old layout no longer fits
    ]


def test_w3c_lines_without_a_usable_fields_directive_are_malformed():
    no_ip = b"#Fields: date time cs-uri-stem sc-status"
    good = b"#Fields: date time c-ip cs-uri-stem sc-status"
    line = b"2023-01-02 03:04:05 192.0.2.4 /a 200"
    assert w3c(line, b"#Version: 1.0", line, no_ip, b"2023-01-02 03:04:05 /a 200",
               good, line) == [None, SKIP, None, SKIP, None, SKIP,
                               Hit(1672628645.0, "192.0.2.4", "/a", 200, 0)]


@pytest.mark.parametrize("line", [
    b"2023-01-02 03:04:05 192.0.2.4 /a 200",  # a field short
    b"2023-01-02 03:04:05 192.0.2.4 /a 200 12 extra",
    b"2023-13-02 03:04:05 192.0.2.4 /a 200 12",
    b"2023-01-02 03:04:61 192.0.2.4 /a 200 12",
    b"02/01/2023 03:04:05 192.0.2.4 /a 200 12",
    b"2023-01-02 03:04:05 192.0.2.4 /a - 12",
    b"2023-01-02 03:04:05 192.0.2.4 /a 200 twelve",
    b"2023-01-02 03:04:05 192.0.2.4 - 200 12",
    b"2023-01-02 03:04:05 192.0.2.4 \x16\x03\x01 400 12",
])
def test_malformed_w3c_lines_are_none(line):
    header = b"#Fields: date time c-ip cs-uri-stem sc-status sc-bytes"
    valid = b"2023-01-02 03:04:05 192.0.2.4 /a 200 12"
    # Once with its caches warm from a valid line, once cold.
    assert w3c(header, valid, line) == [SKIP, Hit(1672628645.0, "192.0.2.4", "/a", 200, 12),
                                        None]
    assert w3c(header, line) == [SKIP, None]


# -- CSV -------------------------------------------------------------------------------------

CSV_HEADER = b'"remotehost","rfc931","authuser","date","request","status","bytes"'
CSV_LINE = b'"10.0.0.2","-","apache",1549573860,"GET /api/user HTTP/1.0",200,1234'
CSV_HIT = Hit(1549573860.0, "10.0.0.2", "/api", 200, 1234)


@pytest.mark.parametrize(("line", "hit"), [
    (CSV_LINE, CSV_HIT),
    (CSV_LINE + b"\r", CSV_HIT),
    (b'"10.0.0.3","-","-",1549573861,"POST /report,daily/x HTTP/1.1",503,-',
     Hit(1549573861.0, "10.0.0.3", "/report,daily", 503, 0)),
    (b'"10.0.0.4","-","-",1549573862,"GET /a""b/c HTTP/1.0",200,5',
     Hit(1549573862.0, "10.0.0.4", '/a"b', 200, 5)),
    (b"10.0.0.5,-,-,1549573863,GET /x HTTP/1.0,404,0",
     Hit(1549573863.0, "10.0.0.5", "/x", 404, 0)),
    (b'"2001:db8::5","-","a,b",1549573863.5,"GET http://h/caf\xc3\xa9/1 HTTP/1.1",200,7',
     Hit(1549573863.5, "2001:db8::5", "/caf\u00e9", 200, 7)),
    (b'"\xff","-","-",1549573860,"GET /\xff/x HTTP/1.0",200,1',
     Hit(1549573860.0, "\ufffd", "/\ufffd", 200, 1)),
])
def test_csv_lines(line, hit):
    parser = make("csv")
    assert [parser.parse(CSV_HEADER)] + [parser.parse(line) for _ in range(3)] == (
        [SKIP] + [hit] * 3)


def test_csv_header_unquoted_is_skipped():
    assert parse("csv", b"remotehost,rfc931,authuser,date,request,status,bytes\r") is SKIP


@pytest.mark.parametrize("line", [
    b'"10.0.0.2","-","apache",1549573860,"GET /api/user HTTP/1.0",200',
    b'"10.0.0.2","-","apache",1549573860,"GET /api/user HTTP/1.0",200,1234,9',
    b'"10.0.0.2","-","apache",yesterday,"GET /api/user HTTP/1.0",200,1234',
    b'"10.0.0.2","-","apache",-1549573860,"GET /api/user HTTP/1.0",200,1234',
    b'"10.0.0.2","-","apache",1549573860,"GET /api/user HTTP/1.0",OK,1234',
    b'"10.0.0.2","-","apache",1549573860,"-",400,0',
    b'"10.0.0.2","-","apache",1549573860,"\x16\x03\x01\x00",400,0',
    b'"10.0.0.2","-","apache",1549573860,"GET /api/user HTTP/1.0",200,x',
    b'"10.0.0.2","-","apache",1549573860,"GET /api/user HTTP/1.0",200,"12\x0034"',
    b'"10.0.0.2","-","apache",1549573860,"GET /api/user HTTP/1.0,200,1234',
    b'"10.0.0.2" "-" "apache" 1549573860 "GET /api/user HTTP/1.0" 200 1234',
])
def test_malformed_csv_lines_are_none(line):
    parser = make("csv")
    assert [parser.parse(CSV_LINE), parser.parse(line), parser.parse(line)] == [
        CSV_HIT, None, None]


# -- Sections, names, detection ---------------------------------------------------------------


@pytest.mark.parametrize(("target", "expected"), [
    ("/api/user/1", "/api"),
    ("/api/", "/api"),
    ("/api", "/api"),
    ("/", "/"),
    ("/index.html", "/index.html"),
    ("/api?x=1/2", "/api"),
    ("/?p=123", "/"),
    ("/#x/y", "/"),
    ("/a#b?c/d", "/a"),
    ("//double/slash", "/"),
    ("http://h/a/b", "/a"),
    ("HTTPS://h:8443/a?b/c", "/a"),
    ("http://h", "/"),
    ("http://h?x=/a/b", "/"),
    ("http://user@h/x", "/x"),
    ("*", "/"),
    ("", "/"),
    ("/caf\u00e9/x", "/caf\u00e9"),
    (b"/\xff/x", "/\ufffd"),
    (b"/a/b", "/a"),
    ("foo", None),
    ("example.com:443", None),
    ("\x16\x03", None),
])
def test_section(target, expected):
    assert section(target) == expected


def test_make_gives_a_new_parser_of_each_name():
    assert [make(name).name for name in FORMATS] == ["common", "combined", "w3c", "csv"]
    assert make("w3c") is not make("w3c")


def test_make_an_unknown_format():
    with pytest.raises(LogFormatError) as caught:
        make("apache")
    assert str(caught.value) == ("unknown log format 'apache': the formats are "
                                 "common, combined, w3c, csv")
    assert isinstance(caught.value, MonitorError)


def test_detect_each_format():
    assert detect([CLF, CLF + b"\r", b""]).name == "common"
    assert detect([COMBINED, b"garbage", COMBINED]).name == "combined"
    assert detect([CSV_HEADER, CSV_LINE]).name == "csv"
    assert detect([CSV_HEADER]).name == "csv"
    # Mostly combined with a few common lines (a log whose format changed): combined.
    assert detect([CLF, COMBINED, COMBINED, b"\x16\x03"]).name == "combined"


def test_detect_w3c_feeds_the_parser_its_directives():
    parser = detect([*IIS_HEADER, IIS_LINE])
    assert parser.name == "w3c"
    assert parser.parse(IIS_LINE) == IIS_HIT  # it knows the fields without seeing them again
    header_only = detect(IIS_HEADER)  # a log just rotated: directives, no request yet
    assert header_only.name == "w3c"
    assert header_only.parse(IIS_LINE) == IIS_HIT


def test_detect_returns_a_new_parser():
    lines = [COMBINED]
    assert detect(lines) is not detect(lines)


def test_detect_garbage():
    with pytest.raises(LogFormatError) as caught:
        detect([b"", b"Apr 10 12:00:01 host sshd[42]: Accepted key", b"\x16\x03\x01\xff"])
    assert str(caught.value) == (
        "cannot tell the format of the log from its first 3 lines: none is a common, "
        "combined, w3c or csv request; the first reads "
        "'Apr 10 12:00:01 host sshd[42]: Accepted key'")


def test_detect_nothing():
    for lines, count in (([], "0 lines"), ([b"\r"], "1 line"), ([b"", b" "], "2 lines")):
        with pytest.raises(LogFormatError) as caught:
            detect(lines)
        assert str(caught.value) == (f"cannot tell the format of the log from its first "
                                     f"{count}: there is no request in them")


# -- Caches ------------------------------------------------------------------------------------


def test_caches_stay_bounded_and_right_across_clears():
    parser = make("combined")
    start = 1704067200  # 2024-01-01 00:00:00 UTC
    count = CACHE_MAX * 2 + 500
    hits = []
    for second in range(count):
        minute, sec = divmod(second, 60)
        hour, minute = divmod(minute, 60)
        day, hour = divmod(hour, 24)
        line = (f'10.0.{second % 256}.1 - - [{day + 1:02d}/Jan/2024:{hour:02d}:{minute:02d}:'
                f'{sec:02d} +0000] "GET /s{second}/x HTTP/1.1" 200 {second} "-" "-"')
        hits.append(parser.parse(line.encode()))
    assert hits == [Hit(float(start + s), f"10.0.{s % 256}.1", f"/s{s}", 200, s)
                    for s in range(count)]
    assert len(parser._times) <= CACHE_MAX and len(parser._sections) <= CACHE_MAX


# -- Properties --------------------------------------------------------------------------------

RESULT_TYPES = (Hit, type(None))


@pytest.mark.parametrize("name", FORMATS)
@given(line=st.binary(max_size=300))
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_parse_never_raises_on_any_bytes(name, line):
    parser = make(name)
    parser.parse(b"#Fields: date time c-ip cs-uri-stem sc-status sc-bytes")
    result = parser.parse(line)
    assert result is SKIP or isinstance(result, RESULT_TYPES)


def pick(valid: tuple[bytes, ...], broken: tuple[bytes, ...] = ()):
    """One of `valid` mostly (so that most lines have one defect or none), else of `broken`."""
    if not broken:
        return st.sampled_from(valid)
    return st.sampled_from(list(valid) * (6 * len(broken)) + list(broken) * len(valid))


# CLF-like lines from valid and broken fragments, so that both paths are exercised deeply.
CLF_TIMES = (b"[10/Oct/2000:13:55:36 -0700]", b"[10/Oct/2000:13:55:36 +0000]")
CLF_TARGETS = (b"/", b"/a/b", b"/a?x=/y", b"http://h/a/b", b"*", b'/a\\"b', b"/caf\xc3\xa9/x",
               b"/?p=1", b"/\xff/")
clf_lines = st.tuples(
    pick((b"1.2.3.4", b"::1", b"\xff\xfe", b"h[1]"), (b"", b'a"b')),
    pick((b" - - ", b" - john smith ", b" -  "), (b" - ", b' - "x" ', b" - -  ", b"- - ")),
    pick(CLF_TIMES, (b"[10/Oct/2000:13:55:36]", b"[32/Oct/2000:13:55:36 +0000]", b"[x]", b"")),
    pick((b' "',), (b" ", b'"', b' \\"', b'  "')),
    pick((b"GET", b"M-SEARCH", b"POST"), (b"get", b"", b"\x16\x03")),
    pick((b" ",), (b"  ", b"")),
    pick(CLF_TARGETS, (b"", b"foo", b"/a b", b'/a"b')),
    pick((b" ",), (b"  ", b"")),
    pick((b"HTTP/1.1", b"HTTP/2"), (b"HTTP/9", b"FTP/1.0", b"HTTP/1.1\\", b"")),
    pick((b'" ',), (b'\\" ', b"", b'"', b'"  ', b'\\"" ')),
    pick((b"200", b"404"), (b"99", b"abc", b"2000", b"")),
    pick((b" ",), (b"  ", b"", b" 1 ")),
    pick((b"12", b"-"), (b"x", b"-5", b"1_0", b"")),
    pick((b"", b' "-" "curl"', b' "-" "ua" "xff"', b"\r", b' "a\\"b" "c"'),
         (b' "-"', b' "-" "ua"\r', b'"-" "ua"', b' "-" "u"a"', b" x", b' "-" "ua')),
).map(b"".join)


@pytest.mark.parametrize("name", ["common", "combined"])
@given(line=clf_lines)
@settings(max_examples=1500, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_clf_fast_path_agrees_with_the_slow_path(name, line):
    cold, hot = make(name), make(name)
    warm(hot, CLF_TIMES, [target for target in CLF_TARGETS if b'"' not in target])
    slow = make(name)._slow(line)  # type: ignore[attr-defined]
    assert cold.parse(line) == cold.parse(line) == hot.parse(line) == slow


W3C_HEADER = b"#Fields: date time c-ip cs-uri-stem sc-status sc-bytes"
w3c_lines = st.tuples(
    pick((b"2023-01-02",), (b"2023-13-02", b"-", b"#Remark:")),
    pick((b" ",), (b"  ", b"\t")),
    pick((b"03:04:05", b"03:04:05.5"), (b"25:00:00", b"3:04:05")),
    pick((b" 192.0.2.4 ", b" ::1 ", b" - ", b" \xff "), (b" ", b"  ")),
    pick((b"/a/b", b"/", b"http://h/x/y"), (b"-", b"foo")),
    pick((b" 200 ", b" 404 "), (b" - ", b" 2000 ", b" ")),
    pick((b"12", b"-"), (b"x", b"12 13", b"")),
    pick((b"", b"\r", b" "), (b" x",)),
).map(b"".join)


@given(line=w3c_lines)
@settings(max_examples=1000, deadline=None)
def test_w3c_fast_path_agrees_with_the_slow_path(line):
    cold, hot, slow = make("w3c"), make("w3c"), make("w3c")
    for parser in (cold, hot, slow):
        parser.parse(W3C_HEADER)
    for stem in (b"/a/b", b"/", b"/x/y"):
        for time in (b"03:04:05", b"03:04:05.5"):
            assert isinstance(hot.parse(b"2023-01-02 " + time + b" 1.2.3.4 " + stem + b" 200 1"),
                              Hit)
    expected = slow._slow(line, line.split())  # type: ignore[attr-defined]
    assert cold.parse(line) == cold.parse(line) == hot.parse(line) == expected


csv_lines = st.tuples(
    pick((b'"10.0.0.2"', b'"\xff"'), (b"10.0.0.2", b'"10.0.0.2', b'"a""b"', b"")),
    pick((b',"-","apache",', b',"a,b","",'), (b",-,-,", b",,", b',"-"')),
    pick((b"1549573860", b"1549573860.5"), (b"x", b'"1549573860"', b"1.2.3", b"-1")),
    pick((b',"',), (b", ", b",", b', "')),
    pick((b"GET /api/user HTTP/1.0", b"GET /a,b/c HTTP/1.0", b"PROPFIND /d/x HTTP/1.1",
          b"GET http://h/a/b HTTP/1.1"),
         (b"GET /a\"\"b HTTP/1.0", b"-", b"get / HTTP/1.0", b"GET /x", b"GET /d/x FTP/1.0")),
    pick((b'",200,', b'",404,'), (b'",2000,', b'","200",', b'",200', b'"200,')),
    pick((b"1234", b"-", b"1234\r"), (b"x", b"12,3", b"", b"1234\r\r")),
).map(b"".join)


@given(line=csv_lines)
@settings(max_examples=1000, deadline=None)
def test_csv_fast_path_agrees_with_the_slow_path(line):
    cold, hot = make("csv"), make("csv")
    for date in (b"1549573860", b"1549573860.5"):
        for target in (b"/api/user", b"/a,b/c", b"/d/x"):
            assert isinstance(hot.parse(b'"1.2.3.4","-","-",' + date + b',"GET ' + target
                                        + b' HTTP/1.0",200,1'), Hit)
    expected = make("csv")._slow(line)  # type: ignore[attr-defined]
    assert cold.parse(line) == cold.parse(line) == hot.parse(line) == expected


# -- The benchmark's logs ----------------------------------------------------------------------


@pytest.mark.parametrize("name", FORMATS)
def test_the_benchmark_logs_parse_to_the_hits_they_were_made_from(name):
    from itertools import chain, islice

    from bench import logs

    count = 25_000
    source = {"common": logs.common_lines, "combined": logs.combined_lines,
              "w3c": logs.w3c_lines, "csv": logs.csv_lines}[name](logs.Model())
    lines = [line.encode() for line in islice(source, count)]
    parser = detect(lines[:100])
    assert parser.name == name
    expected = []
    for second, client, request in islice(chain.from_iterable(logs.Model().batches()), count):
        path = request[1].split("?")[0]
        end = path.find("/", 1)
        expected.append(Hit(float(second), client, path[:end] if end > 0 else path, request[3],
                            request[4]))
    results = [parser.parse(line) for line in lines]
    if name in ("w3c", "csv"):  # a header first, then every line
        assert results == [SKIP] + expected[:count - 1]
    else:  # one in 20,000 lines is a TLS handshake, sent to the HTTP port
        expected[7777] = None
        assert results == expected
