"""HTTP plumbing the fake services share (stdlib only).

dataverse_server.py, figshare_server.py, github_server.py and
zenodo_server.py each build on this: a keep-alive HTTP/1.1 handler that
parses the request line, reads and drains bodies, answers JSON, serves a
file with single-range support, and a threading server that prints
`READY PORT...` once listening (tests/it/support/fake.rs reads that line).
What the services do differently (routes, error bodies, rate-limit
headers, limits) stays in each fake, with its source.
"""

import argparse
import json
import os
import re
import signal
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 256 * 1024
# What a fake's state may log for the tests (see FakeHandler.send_log).
LOGS = ("api_log", "storage_log", "violations")


class ApiError(Exception):
    """An error reply: its status, the message the service words, and
    headers to send with it."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def arguments(doc):
    """The command line every fake takes (--host, --port), described by the
    first line of its `doc`."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    return p


def configure(st, query, fields):
    """`/_fake/config?KEY=VALUE...`: for each KEY of `fields` (KEY:
    (attribute, parse)) that the query names, sets that attribute of the
    state `st` to the parsed value."""
    for key, (attribute, parse) in fields.items():
        if key in query:
            setattr(st, attribute, parse(query[key]))


def page_size(value):
    """A largest page size from the query: at least 1."""
    return max(1, int(value))


# The listing faults every fake's config takes: `list_fault=KIND` and
# `max_page=N` (the largest page a listing actually gives).
LISTING_CONFIG = {"list_fault": ("list_fault", str), "max_page": ("max_page", page_size)}


def switch(value):
    """A switch from the query: on when "1"."""
    return value == "1"


def dispatching(*methods):
    """Class decorator: requests of each of `methods` go to `self.dispatch()`
    (any other method is answered 501 by http.server)."""

    def wrap(cls):
        for method in methods:
            setattr(cls, "do_" + method, lambda self: self.dispatch())
        return cls

    return wrap


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The environment variable that turns the request log on, and its prefix.
    log_env = ""
    log_prefix = "fake"
    json_type = "application/json"

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's
        # algorithm and delayed ACKs add 40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # quiet unless asked
        if self.log_env and os.environ.get(self.log_env):
            sys.stderr.write("%s: %s\n" % (self.log_prefix, fmt % args))

    def parse_request(self):
        # Each request of a kept-alive connection has a body of its own.
        self._body_read = False
        return super().parse_request()

    @property
    def st(self):
        return self.server.state

    def parsed(self):
        """The path and the query (blank values kept) of the request."""
        url = urllib.parse.urlsplit(self.path)
        return url.path, dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))

    def reply_headers(self):
        """Headers every JSON or empty reply carries (rate limits)."""
        return {}

    def send_json(self, status, obj, headers=None):
        """`obj` as JSON; `None` is an empty body without a type."""
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", self.json_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in {**self.reply_headers(), **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_log(self, name):
        """Answers the test-only log endpoint `name` when it is one this
        fake keeps: `api-log` (API requests), `storage-log` (requests the
        storage host received, and the `violations` among them: those that
        carried a credential), `reset-log` (empties them). The caller holds
        the state's lock. Whether it answered."""
        st = self.st
        if name == "api-log" and hasattr(st, "api_log"):
            self.send_json(200, {"requests": st.api_log})
        elif name == "storage-log" and hasattr(st, "storage_log"):
            self.send_json(200, {"requests": st.storage_log, "violations": st.violations})
        elif name == "reset-log":
            for log in LOGS:
                if hasattr(st, log):
                    setattr(st, log, [])
            self.send_json(200, {"ok": True})
        else:
            return False
        return True

    def send_empty(self, status, headers=None):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        for k, v in {**self.reply_headers(), **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()

    def body_reader(self):
        """Yields the request body in chunks (Content-Length or chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    b = self.rfile.read(min(CHUNK, left))
                    if not b:
                        return
                    left -= len(b)
                    yield b
                self.rfile.readline(16)
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                b = self.rfile.read(min(CHUNK, left))
                if not b:
                    return
                left -= len(b)
                yield b

    def read_body(self):
        """The whole (small) request body."""
        self._body_read = True
        return b"".join(self.body_reader())

    def drain(self):
        """Reads an unread body so the connection stays usable."""
        if getattr(self, "_body_read", False):
            return
        self._body_read = True
        try:
            for _ in self.body_reader():
                pass
        except (OSError, ValueError):
            self.close_connection = True

    def byte_range(self, total, suffixes=True):
        """The (start, end, status) a `Range: bytes=` header asks of `total`
        bytes: 200 for the whole, 206 for one range, 416 (already answered)
        when it lies past the end. Several ranges or garbage get the whole
        object, as S3 answers. `suffixes`: whether `bytes=-N` (the last N
        bytes) is understood."""
        start, end = 0, total - 1
        rng = self.headers.get("Range")
        if not rng:
            return start, end, 200
        pattern = r"bytes=(\d*)-(\d*)" if suffixes else r"bytes=(\d+)-(\d*)"
        m = re.fullmatch(pattern, rng.strip())
        if not m or not (m.group(1) or m.group(2)):
            return start, end, 200
        if m.group(1):
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else total - 1
        else:
            start = max(0, total - int(m.group(2)))
        end = min(end, total - 1)
        if start >= total or start > end:
            self.send_empty(416, {"Content-Range": "bytes */%d" % total})
            return start, end, 416
        return start, end, 206

    def send_file(self, path, content_type, headers, drop=None):
        """GET/HEAD of the file at `path` with single-range support (see
        byte_range), sending `headers` as well; with `drop`, the body breaks
        after that many bytes (see send_file_body)."""
        total = os.path.getsize(path)
        start, end, status = self.byte_range(total)
        if status == 416:
            return
        length = end - start + 1 if total else 0
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        for k, v in headers.items():
            self.send_header(k, v)
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, total))
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(path, "rb") as f:
            self.send_file_body(f, start, length, drop)

    def send_file_body(self, f, start, length, drop=None):
        """`length` bytes of open file `f` from `start`; with `drop`, the
        connection breaks after that many bytes (a cut mid-body)."""
        f.seek(start)
        sent = 0
        left = length
        while left > 0:
            b = f.read(min(CHUNK, left))
            if not b:
                break
            if drop is not None and sent + len(b) > drop:
                self.wfile.write(b[: max(0, drop - sent)])
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self.wfile.write(b)
            sent += len(b)
            left -= len(b)


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, state, queue=None):
        if queue is not None:
            self.request_queue_size = queue
        super().__init__(addr, handler)
        self.state = state


def serve(main, others=(), cleanup=None):
    """Serves `others` in threads and `main` here, once `READY` and every
    port (main's first) are printed; SIGTERM ends it, then `cleanup` runs."""
    for server in others:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports = [s.server_address[1] for s in (main, *others)]
    print("READY " + " ".join(map(str, ports)), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        main.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if cleanup is not None:
            cleanup()
