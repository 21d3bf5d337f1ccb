"""Request bodies, sockets and closed routes against the running app (`python app.py`), over raw HTTP
as a hostile client would send them: a body is refused as it arrives past its limit whatever its headers
say, a size declared and never sent holds nothing, slow or greedy sockets are cut off, and an honest
visitor is still answered."""
from __future__ import annotations

import logging
import socket
import time

import httpx
import pytest
from gradio_client import Client

from bench.visitor import Caller
from harness.app_driver import serve_app_process, still_serving
from harness.hostile import PeakRss, steady_rss, tree_mb
from webapp.guards.limits import HEADER_SECONDS
from webapp.guards.log_limit import RateLimit

ADDRESS_CONNECTIONS = 20
SESSIONS_KEPT = 50


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    env = {"RUNS_DIR": str(tmp_path_factory.mktemp("runs")), "GRADIO_TEMP_DIR": str(cache), "CACHE_MAX_MB": "60",
           "ADDRESS_CONNECTIONS": str(ADDRESS_CONNECTIONS), "SESSIONS_KEPT": str(SESSIONS_KEPT)}
    with serve_app_process(env) as (url, proc):
        yield url, proc, cache


def connect(url: str, source: str = "127.0.0.1") -> socket.socket:
    """A raw connection to the app from `source` (any 127.x address is this machine)."""
    host, port = url.split("//")[1].strip("/").split(":")
    s = socket.create_connection((host, int(port)), timeout=30, source_address=(source, 0))
    return s


def answer(s: socket.socket) -> bytes:
    """What the server sent before closing or within the socket's timeout."""
    got = b""
    try:
        while chunk := s.recv(65536):
            got += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return got


def test_a_json_body_is_refused_as_it_arrives(server, reference):
    url, proc, _ = server
    declared = httpx.post(url + "gradio_api/queue/join", content=b"{" + b" " * 3_000_000 + b"}",
                          headers={"content-type": "application/json"}, timeout=60)
    assert declared.status_code == 413 and "kB" in declared.text

    def endless():
        for _ in range(2000):           # 200 MB, chunked: no length to refuse it by
            yield b" " * 100_000
    with PeakRss(proc.pid) as rss:
        chunked = httpx.post(url + "gradio_api/queue/join", content=endless(),
                             headers={"content-type": "application/json"}, timeout=60)
    assert chunked.status_code == 413
    assert rss.growth < 50, f"+{rss.growth:.0f} MB for a refused body"
    still_serving(Client(url, verbose=False), reference)


def test_a_chunked_upload_is_charged_for_what_arrives(server):
    # Content-Length: 1 and a chunked body: the guard once charged the 1 byte and the server read the rest.
    url, _, cache = server
    before = tree_mb(cache)
    s = connect(url)
    head = (b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n")
    s.sendall(head)
    part = b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x\"\r\n\r\n"
    try:
        s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        for _ in range(50):             # 50 MB against a 30 MB-a-minute allowance
            s.sendall(b"%x\r\n%s\r\n" % (1_000_000, b"x" * 1_000_000))
    except (BrokenPipeError, ConnectionResetError):
        pass                            # refused midway: the server closed the connection
    got = answer(s)
    s.close()
    assert got == b"" or got.split(b" ")[1] in (b"400", b"413", b"429"), got[:200]
    assert tree_mb(cache) - before < 35


def test_sizes_declared_and_never_sent_hold_nothing(server, reference):
    url, _, _ = server
    held = []
    for i in range(10):                 # 10 clients declare 25 MB each: far past the cache's 60 MB quota
        s = connect(url, f"127.0.0.{10 + i}")
        s.sendall(b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                  b"Content-Length: 25000000\r\n\r\n")
        held.append(s)
    time.sleep(1)
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.4"), timeout=60) as visitor:
        honest = visitor.post(url + "gradio_api/upload", files={"files": ("a.bin", b"a" * 1_000_000)})
    assert honest.status_code == 200, honest.text
    still_serving(Client(url, verbose=False), reference)
    for s in held:
        s.close()


def test_headers_that_never_finish_are_cut_off(server):
    url, _, _ = server
    s = connect(url)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")      # and nothing more
    started = time.monotonic()
    assert answer(s) == b""
    assert time.monotonic() - started < HEADER_SECONDS + 10
    s.close()


def test_one_address_cannot_hold_every_connection(server, reference):
    url, _, _ = server
    sockets = [connect(url, "127.0.0.2") for _ in range(ADDRESS_CONNECTIONS + 10)]
    time.sleep(1)
    closed = 0
    for s in sockets:
        s.settimeout(0.5)
        s.sendall(b"GET /gradio_api/info HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            closed += s.recv(100) == b""
        except (TimeoutError, ConnectionResetError):
            pass
    assert closed >= 10
    still_serving(Client(url, verbose=False), reference)           # from another address
    for s in sockets:
        s.close()


def test_forwarded_addresses_do_not_make_new_allowances(server):
    # Without a trusted proxy (no SPACE_ID), X-Forwarded-For is the client's own words: neither the
    # upload guard nor uvicorn takes an address from it.
    url, _, _ = server
    codes = [httpx.post(url + "gradio_api/upload", files={"files": ("x", b"x" * 5_000_000)},
                        headers={"x-forwarded-for": f"10.0.0.{i}"}, timeout=60).status_code for i in range(10)]
    assert 429 in codes and codes.count(200) <= 6


def test_unused_routes_are_closed(server):
    url, _, _ = server
    assert httpx.post(url + "gradio_api/process_recording", files={"files": ("x", b"x")}).status_code == 404
    assert httpx.get(url + "gradio_api/deep_link", params={"session_hash": "x"}).status_code == 404


def test_a_url_in_place_of_a_sketch_file_is_not_fetched(server):
    url, _, _ = server
    remote = {"path": url + "config", "url": url + "config", "meta": {"_type": "gradio.FileData"}}
    with pytest.raises(Exception, match="not fetched"):
        Client(url, verbose=False).predict({"background": None, "layers": [], "composite": remote},
                                           api_name="/predict")


def test_behind_a_proxy_the_address_it_appends_is_the_client(tmp_path):
    # On a Space the proxy appends the address it got the request from; what the client wrote comes first.
    env = {"RUNS_DIR": str(tmp_path), "TRUST_FORWARDED": "1"}
    with serve_app_process(env) as (url, _):
        codes = [httpx.post(url + "gradio_api/upload", files={"files": ("x", b"x" * 5_000_000)},
                            headers={"x-forwarded-for": f"10.0.0.{i}, 192.0.2.7"}, timeout=60).status_code
                 for i in range(10)]
        other = httpx.post(url + "gradio_api/upload", files={"files": ("x", b"x" * 5_000_000)},
                           headers={"x-forwarded-for": "192.0.2.8"}, timeout=60)
    assert 429 in codes and codes.count(200) <= 6
    assert other.status_code == 200


def test_the_log_lets_through_a_bounded_number_of_records_a_minute():
    limit = RateLimit(per_minute=5)
    records = [logging.LogRecord("uvicorn.error", logging.ERROR, "", 0, "Too many open files", None, None)
               for _ in range(1000)]
    assert sum(limit.filter(r) for r in records) == 5
    other = logging.LogRecord("webapp.training.runs", logging.INFO, "", 0, "left out", None, None)
    assert limit.filter(other)              # counted per logger: one flood does not silence the others


def test_the_sessions_kept_are_bounded(server, reference):
    # Each call over REST is a new session, whose copy of the page's configuration (~210 kB) Gradio keeps.
    url, proc, _ = server
    before = steady_rss(proc.pid)
    for _ in range(6 * SESSIONS_KEPT):
        caller = Caller(url)            # a new session for every call
        assert "no training run" in caller.call("/stop", [])[0]
        caller.close()
    grown = steady_rss(proc.pid) - before
    assert grown < 30, f"+{grown:.0f} MB for {6 * SESSIONS_KEPT} sessions (~63 MB if every one were kept)"
    still_serving(Client(url, verbose=False), reference)
