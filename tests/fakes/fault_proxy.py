#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for annexa's soak and kill tests (stdlib only).

It sits between the remote and a real server (moto_server, a fake service):
each route listens on its own loopback port and forwards to one upstream.
For each request it decides, from a seed and the request alone, whether to
inject a fault and which:

    reset          send the headers and part of the body, then a TCP reset
    status_5xx     answer 500, 502 or 503 (the next 0-2 requests for the same
                   object get the same: a burst)
    retry_after    answer 429 with Retry-After: 1
    rate_limited   answer 429 without Retry-After
    stall_headers  accept the request and send nothing for --stall seconds
    stall_body     send the headers and part of the body, then nothing for
                   --stall seconds
    truncate       send the headers (full Content-Length) and part of the
                   body, then close the connection cleanly
    html_200       answer 200 text/html with a portal page (never a DELETE:
                   a lie there loses nothing)
    duplicate_page S3 ListObjectsV2: the page says there is more, and the
                   next page is the same page with the same token again

The decision is a hash of (seed, method, path, how many times this method and
path were asked before), so each object meets the same faults whatever the
interleaving of parallel jobs.

Usage:
    fault_proxy.py --seed N --route HOST:PORT[,OBJECT_REGEX] [--route ...]
        [--rate 0.2] [--stall 3] [--kinds reset,status_5xx,...]
Prints "READY <admin_port> <port of route 1> <port of route 2> ..." once
every port listens. Absolute URLs to an upstream in a Location header are
rewritten to that upstream's route, so redirects stay inside the proxy.

The admin port answers (no proxying):
    GET  /stats    {"requests", "faults": {kind: n}, "objects": {path:
                   {"served": bytes, "refetched": bytes}}, "served",
                   "refetched"}; "refetched" counts body bytes of an object
                   sent again although they were sent before (since the last
                   /forget): a resumed download must ask only for the rest
    POST /config?rate=R[&kinds=a,b]   change the fault rate (0 turns it off)
    POST /forget   forget objects that were sent whole (after a drop,
                   fetching one again is expected); partly sent ones stay
                   remembered, so a later resume is still checked
"""

import argparse
import hashlib
import http.client
import json
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import ThreadingTCPServer, StreamRequestHandler

KINDS = [
    "reset",
    "status_5xx",
    "retry_after",
    "rate_limited",
    "stall_headers",
    "stall_body",
    "truncate",
    "html_200",
    "duplicate_page",
]
BODY_KINDS = {"reset", "stall_body", "truncate"}
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade", "trailer"}
PORTAL = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
    b"<body><p>Please sign in to the network to continue.</p></body></html>\n"
)
CHUNK = 64 * 1024


class State:
    def __init__(self, args):
        self.seed = args.seed
        self.rate = args.rate
        self.kinds = list(args.kinds)
        self.stall = args.stall
        self.lock = threading.Lock()
        self.asked = {}
        self.bursts = {}
        self.requests = 0
        self.faults = {k: 0 for k in KINDS}
        self.objects = {}
        self.pages = {}
        self.page_count = 0
        self.port_map = {}

    def decide(self, method, path):
        """The fault for this request, or None."""
        with self.lock:
            self.requests += 1
            key = (method, path)
            n = self.asked.get(key, 0)
            self.asked[key] = n + 1
            burst = self.bursts.get(key)
            if burst:
                status, left = burst
                if left > 0:
                    self.bursts[key] = (status, left - 1)
                    return ("status_5xx", status)
                del self.bursts[key]
            if self.rate <= 0 or not self.kinds:
                return None
            digest = hashlib.sha256(("%d|%s|%s|%d" % (self.seed, method, path, n)).encode()).digest()
            roll, pick, extra = struct.unpack(">QQQ", digest[:24])
            if roll / 2.0**64 >= self.rate:
                return None
            kind = self.kinds[pick % len(self.kinds)]
            if kind == "status_5xx":
                status = (500, 502, 503)[extra % 3]
                more = (extra >> 8) % 3
                if more:
                    self.bursts[key] = (status, more)
                return (kind, status)
            return (kind, extra)

    def count(self, kind):
        with self.lock:
            self.faults[kind] += 1

    def served(self, path, start, length, total):
        """Records body bytes [start, start+length) of an object of `total`
        bytes as sent."""
        if length <= 0:
            return
        with self.lock:
            entry = self.objects.setdefault(path, {"served": 0, "refetched": 0, "ranges": [], "total": total})
            entry["total"] = total
            entry["served"] += length
            end = start + length
            overlap = 0
            for a, b in entry["ranges"]:
                overlap += max(0, min(b, end) - max(a, start))
            entry["refetched"] += overlap
            entry["ranges"] = merge(entry["ranges"] + [(start, end)])

    def forget_complete(self):
        """Forgets objects sent whole: fetching one again is a new download
        (after a drop), not a resume."""
        with self.lock:
            for entry in self.objects.values():
                if entry["ranges"] == [(0, entry["total"])]:
                    entry["ranges"] = []

    def stats(self):
        with self.lock:
            objects = {p: {"served": e["served"], "refetched": e["refetched"]} for p, e in self.objects.items()}
            return {
                "requests": self.requests,
                "faults": dict(self.faults),
                "objects": objects,
                "served": sum(o["served"] for o in objects.values()),
                "refetched": sum(o["refetched"] for o in objects.values()),
            }


def merge(ranges):
    out = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


class ProxyHandler(StreamRequestHandler):
    """One client connection: requests are read and answered in turn."""

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self):
        try:
            while self.one_request():
                pass
        except (ConnectionError, socket.timeout, OSError):
            pass

    def one_request(self):
        line = self.rfile.readline(65537)
        if not line:
            return False
        parts = line.decode("latin-1").split()
        if len(parts) != 3:
            return False
        method, target, _version = parts
        headers = []
        while True:
            h = self.rfile.readline(65537)
            if h in (b"\r\n", b"\n", b""):
                break
            name, _, value = h.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        lower = {k.lower(): v for k, v in headers}
        body = self.read_body(lower)
        st = self.server.state
        split = urllib.parse.urlsplit(target)
        fault = st.decide(method, split.path)
        kind = fault[0] if fault else None
        if kind == "html_200" and method == "DELETE":
            kind = None
        if kind == "duplicate_page" and not is_listing(method, split.query):
            kind = None
        if kind in ("status_5xx", "retry_after", "rate_limited", "html_200", "stall_headers"):
            st.count(kind)
            return self.answer_fault(kind, fault[1], method)
        if kind == "duplicate_page":
            token = dict(urllib.parse.parse_qsl(split.query)).get("continuation-token")
            with st.lock:
                page = st.pages.get(token)
            if page is not None:
                st.count(kind)
                return self.send_whole(200, "OK", [("Content-Type", "application/xml")], page, method)
        return self.forward(method, target, split, headers, body, kind, fault[1] if fault else 0)

    def read_body(self, lower):
        if "content-length" in lower:
            n = int(lower["content-length"])
            return self.rfile.read(n) if n else b""
        if lower.get("transfer-encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def answer_fault(self, kind, extra, method):
        st = self.server.state
        if kind == "stall_headers":
            time.sleep(st.stall)
            return False
        if kind == "status_5xx":
            status = extra
            reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}[status]
            body = b"<html><body>%d %s</body></html>\n" % (status, reason.encode())
            return self.send_whole(status, reason, [("Content-Type", "text/html")], body, method)
        if kind == "retry_after":
            return self.send_whole(429, "Too Many Requests", [("Retry-After", "1")], b"slow down\n", method)
        if kind == "rate_limited":
            return self.send_whole(429, "Too Many Requests", [], b"slow down\n", method)
        return self.send_whole(200, "OK", [("Content-Type", "text/html; charset=utf-8")], PORTAL, method)

    def send_whole(self, status, reason, headers, body, method):
        out = ["HTTP/1.1 %d %s" % (status, reason)]
        out += ["%s: %s" % h for h in headers]
        out.append("Content-Length: %d" % len(body))
        self.wfile.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        if method != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        return True

    def forward(self, method, target, split, headers, body, kind, extra):
        st = self.server.state
        host, port = self.server.upstream
        conn = http.client.HTTPConnection(host, port, timeout=120)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() in HOP_HEADERS or name.lower() == "content-length":
                    continue
                conn.putheader(name, value)
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.putheader("Connection", "close")
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            out_headers = []
            for name, value in resp.getheaders():
                n = name.lower()
                if n in HOP_HEADERS or n == "content-length":
                    continue
                if n == "location":
                    value = self.rewrite_location(value)
                out_headers.append((name, value))
            no_body = method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
            length = resp.getheader("Content-Length")
            if kind == "duplicate_page":
                data = resp.read()
                data = self.duplicate_page(data)
                if data is not None:
                    st.count(kind)
                    return self.send_whole(resp.status, resp.reason, out_headers, data, method)
                return self.send_whole(resp.status, resp.reason, out_headers, data, method)
            if no_body:
                if length is not None:
                    out_headers.append(("Content-Length", length))
                self.write_head(resp.status, resp.reason, out_headers)
                return True
            if length is None:
                data = resp.read()
                return self.body_with_faults(method, split.path, resp, out_headers, iter([data]), len(data), kind, extra)
            total = int(length)
            return self.body_with_faults(
                method, split.path, resp, out_headers, iter(lambda: resp.read(CHUNK), b""), total, kind, extra
            )
        except (ConnectionError, socket.timeout, http.client.HTTPException) as e:
            sys.stderr.write("fault_proxy: upstream %s %s: %s\n" % (method, target, e))
            return self.send_whole(502, "Bad Gateway", [], b"upstream failed\n", method)
        finally:
            conn.close()

    def body_with_faults(self, method, path, resp, out_headers, chunks, total, kind, extra):
        st = self.server.state
        out_headers.append(("Content-Length", str(total)))
        object_start, object_total = 0, total
        track = self.server.objects is not None and self.server.objects.search(path) and method == "GET"
        if track and resp.status == 206:
            m = re.match(r"bytes (\d+)-\d+/(\d+)", resp.getheader("Content-Range", ""))
            if m:
                object_start, object_total = int(m.group(1)), int(m.group(2))
        track = track and resp.status in (200, 206)
        cut = None
        if kind in BODY_KINDS and total >= 2:
            cut = 1 + extra % (total - 1)
            st.count(kind)
        self.write_head(resp.status, resp.reason, out_headers)
        sent = 0
        try:
            for data in chunks:
                if cut is not None and sent + len(data) >= cut:
                    data = data[: cut - sent]
                    self.wfile.write(data)
                    self.wfile.flush()
                    sent += len(data)
                    break
                self.wfile.write(data)
                sent += len(data)
            self.wfile.flush()
        finally:
            if track:
                st.served(path, object_start, sent, object_total)
        if cut is None:
            return True
        if kind == "stall_body":
            time.sleep(st.stall)
        elif kind == "reset":
            # Let the client read what was sent before the reset drops it.
            time.sleep(0.05)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    def write_head(self, status, reason, headers):
        out = ["HTTP/1.1 %d %s" % (status, reason)]
        out += ["%s: %s" % h for h in headers]
        self.wfile.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        self.wfile.flush()

    def rewrite_location(self, value):
        u = urllib.parse.urlsplit(value)
        if u.scheme in ("http", "https") and u.port is not None:
            mapped = self.server.state.port_map.get((u.hostname, u.port))
            if mapped:
                return urllib.parse.urlunsplit(("http", "127.0.0.1:%d" % mapped, u.path, u.query, u.fragment))
        return value

    def duplicate_page(self, data):
        """A listing page that claims more follows, under a token whose next
        page is this same page again."""
        text = data.decode("utf-8", "replace")
        if "<ListBucketResult" not in text:
            return None
        st = self.server.state
        with st.lock:
            st.page_count += 1
            token = "annexa-duplicate-%d" % st.page_count
        text = re.sub(r"<NextContinuationToken>.*?</NextContinuationToken>", "", text)
        text = text.replace("<IsTruncated>false</IsTruncated>", "<IsTruncated>true</IsTruncated>")
        text = text.replace("</ListBucketResult>", "<NextContinuationToken>%s</NextContinuationToken></ListBucketResult>" % token)
        page = text.encode()
        with st.lock:
            st.pages[token] = page
        return page


def is_listing(method, query):
    return method == "GET" and "list-type=2" in query


class Proxy(ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class AdminHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/stats"):
            return self.reply(self.server.state.stats())
        self.send_error(404)

    def do_POST(self):
        st = self.server.state
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/config":
            with st.lock:
                if "rate" in q:
                    st.rate = float(q["rate"])
                if "kinds" in q:
                    st.kinds = parse_kinds(q["kinds"])
                st.bursts.clear()
            return self.reply({"rate": st.rate, "kinds": st.kinds})
        if u.path == "/forget":
            st.forget_complete()
            return self.reply({})
        self.send_error(404)


def parse_kinds(text):
    kinds = [k for k in text.split(",") if k]
    for k in kinds:
        if k not in KINDS:
            raise SystemExit("unknown fault kind %r (known: %s)" % (k, ", ".join(KINDS)))
    return kinds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", type=float, default=0.2, help="share of requests that meet a fault")
    p.add_argument("--stall", type=float, default=3.0, help="seconds a stall lasts")
    p.add_argument("--kinds", type=parse_kinds, default=list(KINDS))
    p.add_argument("--route", action="append", default=[], help="HOST:PORT[,OBJECT_REGEX]")
    args = p.parse_args()
    state = State(args)
    servers = []
    for spec in args.route:
        upstream, _, pattern = spec.partition(",")
        host, _, port = upstream.rpartition(":")
        server = Proxy(("127.0.0.1", 0), ProxyHandler)
        server.state = state
        server.upstream = (host, int(port))
        server.objects = re.compile(pattern) if pattern else None
        state.port_map[(host, int(port))] = server.server_address[1]
        servers.append(server)
    admin = ThreadingHTTPServer(("127.0.0.1", 0), AdminHandler)
    admin.daemon_threads = True
    admin.state = state
    for server in servers + [admin]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports = " ".join(str(s.server_address[1]) for s in servers)
    print("READY %d %s" % (admin.server_address[1], ports), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
