#!/usr/bin/env python3
"""A fake Figshare (API v2) for annexa's tests and demo (stdlib only).

Two HTTP servers on loopback:
- the API port speaks the parts of Figshare's API v2 annexa uses, with its
  JSON shapes and `{"message", "code"}` errors (404 also for "no
  permission", 401 for a bad token), paged listings (`page`/`page_size`,
  default 10, at most 1000, or `limit`/`offset`; mixing them is 422), the
  multi-step upload, processing after the completing POST (`status`
  `ic_checking` -> `moving_to_final` -> `available`, `computed_md5` empty
  until then), `GET /file/download/ID` answering 302 to signed storage, and
  the browser path `/ndownloader/files/ID` answering an empty 202 with
  `x-amzn-waf-action: challenge`, as figshare.com does to non-browsers;
- the storage port plays both the upload service (`upload_url`: parts with
  inclusive offsets; the first part of every N-th upload answers 409
  "locked" once) and the signed
  object store the download redirects to (Range, 206). It records every
  request's headers and refuses (400) and records any request that carries
  `Authorization`, so tests can prove the token never left the API host.

Usage:
    figshare_server.py --port 0 [--storage-port 0] [--token TOKEN]
        [--article ID ...] [--part-size BYTES] [--processing-delay SECONDS]
        [--no-locked-parts] [--lock-every N] [--data-dir DIR]
Prints "READY <api_port> <storage_port>" once both servers listen.

Test-only endpoints under /_fake/ on the API port (no token needed):
    GET  /_fake/storage-log     requests the storage host received, violations
    GET  /_fake/api-log         API requests (method, path, status)
    POST /_fake/reset-log
    POST /_fake/publish?article=ID   makes a new public version
    POST /_fake/article?id=ID[&owner=NAME]   creates an empty private article
                                 (of another account than the token's: owner=other)
    POST /_fake/config?drop_after=BYTES&drop_count=K   break K downloads after BYTES
    POST /_fake/config?list_fault=repeat|ignore_offset|stall|huge   file listings
         misbehave (tests/fakes/listing_faults.py; empty: none)
    POST /_fake/file?article=ID&name=N[&supplied_md5=X]   body = content: a
                                 processed file (computed_md5 of the body)
    POST /_fake/files?article=ID&count=N   N small processed files at once
    POST /_fake/config?corrupt_next=K   the next K completed uploads arrive with
         one byte changed: their check ends in `ic_failure`
    POST /_fake/config?private_api_download=0   /file/download/ID serves
         published files only ("Public File Download"); private files then
         come only through the documented route, /ndownloader/files/ID?token=T

Also as Figshare does: offsets past 1000 (or the page that would start
there) answer 422 (docs/api/index.md, "Pagination params"); `computed_md5`
and `supplied_md5` are `null` while unknown; some errors carry an integer
`code`.
    GET  /_fake/state           articles, files, versions as JSON
"""

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse

import listing_faults  # next to this script
import _fake_http
from _fake_http import (CHUNK, LISTING_CONFIG, FakeHandler, FakeServer, arguments, configure, dispatching,
                        serve, switch)


class ApiError(_fake_http.ApiError):
    """Figshare's errors also carry a `code`."""

    def __init__(self, status, message, code="", headers=None):
        super().__init__(status, message, headers)
        self.code = code


class File:
    def __init__(self, fid, name, size, md5):
        self.id = fid
        self.name = name
        self.size = size
        self.supplied_md5 = md5
        self.computed_md5 = ""
        self.status = "created"
        self.upload_token = "up-%d-%s" % (fid, hashlib.md5(str(time.time()).encode()).hexdigest()[:12])
        self.parts = {}  # partNo -> bytes received
        self.locked_once = set()
        self.blob = None  # path once assembled
        self.ready_at = None

    def processed(self, st):
        if self.ready_at is not None and time.time() >= self.ready_at and self.status not in ("available", "ic_failure"):
            h = hashlib.md5()
            with open(self.blob, "rb") as f:
                for b in iter(lambda: f.read(CHUNK), b""):
                    h.update(b)
            self.computed_md5 = h.hexdigest()
            # The supplied MD5 did not match what arrived: the check fails
            # for good (figshare/user_documentation: file status
            # `ic_failure`; annexa notes, services.md).
            if self.supplied_md5 and self.supplied_md5 != self.computed_md5:
                self.status = "ic_failure"
            else:
                self.status = "available"
        elif self.ready_at is not None and self.status == "ic_checking" and time.time() >= self.ready_at - st.delay / 2:
            self.status = "moving_to_final"

    def json_text(self, st, private=True):
        """The JSON of to_json, cached once the file is available (listings
        of thousands of files are asked for thousands of times)."""
        if self.status != "available":
            return json.dumps(self.to_json(st, private))
        cache = self.__dict__.setdefault("_json_cache", {})
        if private not in cache:
            cache[private] = json.dumps(self.to_json(st, private))
        return cache[private]

    def to_json(self, st, private=True):
        d = {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "is_link_only": False,
            "download_url": "%s/ndownloader/files/%d" % (st.web, self.id),
            # Unknown values are null, not "" (Figshare's listings do this).
            "supplied_md5": self.supplied_md5 or None,
            "computed_md5": self.computed_md5 or None,
            "mimetype": "application/octet-stream",
        }
        if private:
            d["status"] = self.status
            d["viewer_type"] = ""
            d["preview_state"] = "preview_not_available"
            avail = self.status == "available"
            d["upload_url"] = "" if avail else "%s/upload/%s" % (st.storage, self.upload_token)
            d["upload_token"] = self.upload_token
        return d


class Article:
    def __init__(self, aid, owner="tester"):
        self.id = aid
        self.owner = owner  # another account's article: 404 on /account/...
        self.files = []  # current (private) files
        self.versions = []  # lists of File, one per published version


class State:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.token = args.token
        self.part_size = args.part_size
        self.delay = args.processing_delay
        self.locked_parts = not args.no_locked_parts
        self.lock_every = max(1, args.lock_every)
        self.max_page = max(1, args.max_page)
        self.list_fault = ""
        self.articles = {a: Article(a) for a in args.article}
        self.files = {}  # id -> File (every file ever, for downloads)
        self.uploads = {}  # upload token -> File
        self.next_id = 30000001
        self.api_log = []
        self.storage_log = []
        self.violations = []
        self.drop_after = None
        self.drop_count = 0
        self.secret = os.urandom(8).hex()
        self.dir = tempfile.mkdtemp(prefix="fake-figshare-", dir=args.data_dir)
        self.web = ""
        self.storage = ""
        self.corrupt_next = 0
        self.private_api_download = True

    def new_id(self):
        with self.lock:
            self.next_id += 1
            return self.next_id

    def sign(self, fid):
        return hashlib.sha256(("%s:%d" % (self.secret, fid)).encode()).hexdigest()[:24]


@dispatching("GET", "HEAD", "POST", "PUT", "DELETE")
class Handler(FakeHandler):
    server_version = "FakeFigshare/2"
    log_env = "FAKE_FIGSHARE_VERBOSE"
    log_prefix = "fake-figshare"
    json_type = "application/json; charset=UTF-8"

    def parsed(self):
        path, query = super().parsed()
        return path, query, urllib.parse.urlsplit(self.path).query

    def send_raw_json(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", self.json_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, message, code="", headers=None):
        self.send_json(status, {"message": message, "code": code}, headers)

    def json_body(self):
        try:
            return json.loads(self.read_body() or b"{}")
        except ValueError:
            raise ApiError(400, "Invalid JSON body", "BadRequest")


# ---------------------------------------------------------------- storage


class StorageHandler(Handler):
    def dispatch(self):
        # One handler serves every request of a kept-alive connection.
        self._body_read = False
        path, query, _ = self.parsed()
        entry = {"method": self.command, "path": path, "headers": {k.lower(): v for k, v in self.headers.items()}}
        with self.st.lock:
            self.st.storage_log.append(entry)
        try:
            if "Authorization" in self.headers:
                with self.st.lock:
                    self.st.violations.append(entry)
                self.drain()
                # As S3 does when a signed URL also gets a header credential.
                body = b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>"
                self.send_response(400)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            m = re.fullmatch(r"/files/(\d+)", path)
            if m and self.command in ("GET", "HEAD"):
                return self.download(int(m.group(1)), query)
            m = re.fullmatch(r"/upload/([^/]+)(?:/(\d+))?", path)
            if m:
                return self.upload(m.group(1), m.group(2))
            self.drain()
            self.send_empty(404)
        except ApiError as e:
            self.drain()
            self.error(e.status, e.message, e.code)
        except BrokenPipeError:
            pass

    def download(self, fid, query):
        st = self.st
        with st.lock:
            f = st.files.get(fid)
            ok = f is not None and f.blob is not None and query.get("sig") == st.sign(fid)
            drop = None
            if ok and st.drop_count > 0 and st.drop_after is not None:
                st.drop_count -= 1
                drop = st.drop_after
        if not ok:
            body = b"<Error><Code>AccessDenied</Code></Error>"
            self.send_response(403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.serve_file(f.blob, f.name, drop)

    def serve_file(self, path, filename, drop):
        disposition = 'attachment; filename="%s"' % filename.replace('"', "_")
        self.send_file(path, "binary/octet-stream", {"Content-Disposition": disposition}, drop)

    def parts_of(self, f):
        ps = self.st.part_size
        parts = []
        n = (f.size + ps - 1) // ps
        for i in range(n):
            start = i * ps
            endo = min(f.size, start + ps) - 1
            parts.append({
                "partNo": i + 1,
                "startOffset": start,
                "endOffset": endo,
                "status": "COMPLETE" if (i + 1) in f.parts else "PENDING",
                "locked": False,
            })
        return parts

    def upload(self, token, part_no):
        st = self.st
        with st.lock:
            f = st.uploads.get(token)
        if f is None:
            raise ApiError(404, "Upload not found", "NotFound")
        if part_no is None:
            if self.command != "GET":
                raise ApiError(405, "Method not allowed", "MethodNotAllowed")
            self.drain()
            with st.lock:
                parts = self.parts_of(f)
                done = all(p["status"] == "COMPLETE" for p in parts)
                return self.send_json(200, {
                    "token": f.upload_token, "name": f.name, "size": f.size, "md5": f.supplied_md5,
                    "status": "COMPLETED" if done and f.blob else "PENDING", "parts": parts,
                })
        if self.command != "PUT":
            raise ApiError(405, "Method not allowed", "MethodNotAllowed")
        n = int(part_no)
        with st.lock:
            parts = self.parts_of(f)
            if n < 1 or n > len(parts):
                raise ApiError(404, "Part not found", "NotFound")
            part = parts[n - 1]
            # Every LOCK_EVERY-th upload finds its first part locked once.
            if st.locked_parts and n == 1 and f.id % st.lock_every == 0 and n not in f.locked_once:
                f.locked_once.add(n)
                raise ApiError(409, "Part is locked", "PartLocked")
        want = part["endOffset"] - part["startOffset"] + 1
        got = int(self.headers.get("Content-Length") or -1)
        if got != want:
            raise ApiError(400, "Part %d must be exactly %d bytes, got %d" % (n, want, got), "BadPartSize")
        self._body_read = True
        path = os.path.join(st.dir, "%s.part%d" % (f.upload_token, n))
        size = 0
        with open(path, "wb") as out:
            for b in self.body_reader():
                out.write(b)
                size += len(b)
        if size != want:
            self.close_connection = True
            return
        with st.lock:
            f.parts[n] = path
        self.send_empty(200)


# -------------------------------------------------------------------- API


class ApiHandler(Handler):
    def dispatch(self):
        self._body_read = False
        path, query, raw_query = self.parsed()
        box = {"s": 200}
        try:
            if path.startswith("/_fake/"):
                return self.admin(path, query)
            path = re.sub(r"^/v2/", "/", path)
            self.authenticate()
            box["s"] = self.route(path, query, raw_query) or 200
        except ApiError as e:
            self.drain()
            box["s"] = e.status
            self.error(e.status, e.message, e.code, e.headers)
        except BrokenPipeError:
            pass
        finally:
            with self.st.lock:
                self.st.api_log.append({"method": self.command, "path": path, "query": raw_query, "status": box["s"]})

    def authenticate(self):
        auth = self.headers.get("Authorization")
        self.user = None
        if auth is not None:
            scheme, _, tok = auth.partition(" ")
            if scheme.lower() not in ("token", "bearer") or tok.strip() != self.st.token:
                raise ApiError(401, "Invalid token", "InvalidToken")
            self.user = "tester"

    def need_user(self):
        if self.user is None:
            raise ApiError(403, "Authorization required", "Forbidden")

    def article(self, aid, private):
        a = self.st.articles.get(aid)
        if a is None:
            raise ApiError(404, "Entity not found: article", "EntityNotFound")
        if private:
            self.need_user()
            if a.owner != self.user:
                # Figshare answers 404 also for "no permission" (docs/api/index.md).
                raise ApiError(404, "Entity not found: article", "EntityNotFound")
        elif not a.versions:
            raise ApiError(404, "Entity not found: article", "EntityNotFound")
        return a

    def paging(self, query, items):
        has_page = "page" in query or "page_size" in query
        has_limit = "limit" in query or "offset" in query
        if has_page and has_limit:
            raise ApiError(422, "page/page_size and limit/offset cannot be used together", "ValidationFailed")
        try:
            if has_limit:
                limit = int(query.get("limit", "10"))
                offset = int(query.get("offset", "0"))
            else:
                page = int(query.get("page", "1"))
                size = int(query.get("page_size", "10"))
                if page < 1 or size < 1:
                    raise ValueError
                if size > 1000:
                    raise ApiError(422, "page_size may be at most 1000", "ValidationFailed")
                # Test knob: a server that gives fewer than asked for.
                size = min(size, self.st.max_page)
                limit, offset = size, (page - 1) * size
        except ValueError:
            raise ApiError(422, "Invalid paging parameters", "ValidationFailed")
        if limit > 1000:
            raise ApiError(422, "page_size/limit may be at most 1000", "ValidationFailed")
        if offset > 1000:
            # "The offset is currently limited at 1000 and if exceeded a 422
            # Unprocessable Entity error will be returned" (docs/api/index.md);
            # this error's code is an integer, as some of Figshare's are.
            raise ApiError(422, "Offset limit exceeded. Please narrow down your search", 422)
        if self.st.list_fault:
            offset = listing_faults.page_index(self.st.list_fault, offset // limit) * limit
        return items[offset:offset + limit]

    def article_json(self, a, files, version=None, private=False):
        st = self.st
        d = {
            "id": a.id,
            "title": "Article %d" % a.id,
            "url": "%s/articles/%d" % (st.api, a.id),
            "is_public": bool(a.versions),
            "status": "public" if a.versions else "draft",
            "version": version if version is not None else len(a.versions),
            "files": [f.to_json(st, private) for f in files],
        }
        return d

    def route(self, path, query, raw_query):
        st = self.st
        m = re.fullmatch(r"/ndownloader/files/(\d+)", path)
        if m and query.get("token") and query.get("token") == st.token:
            # The documented route for private files: the token in the
            # query (docs/api/articles.md, "Download private files").
            self.drain()
            with st.lock:
                f = st.files.get(int(m.group(1)))
                if f is None or f.blob is None or not any(f in a.files for a in st.articles.values()):
                    raise ApiError(404, "Entity not found: file", "EntityNotFound")
            loc = "%s/files/%d?sig=%s&X-Amz-Expires=10" % (st.storage, f.id, st.sign(f.id))
            self.send_empty(302, {"Location": loc})
            return 302
        if m:
            # The browser path: a WAF challenge for anything but a browser.
            self.drain()
            self.send_empty(202, {"x-amzn-waf-action": "challenge", "Content-Type": "text/html; charset=UTF-8"})
            return 202
        if path == "/account" and self.command == "GET":
            self.need_user()
            self.drain()
            self.send_json(200, {"id": 1, "first_name": "Test", "last_name": "User", "email": "test@example.org"})
            return 200
        m = re.fullmatch(r"/file/download/(\d+)", path)
        if m and self.command in ("GET", "HEAD"):
            return self.file_download(int(m.group(1)))
        listing = re.fullmatch(r"/(?:account/)?articles/\d+/files", path)
        if listing and self.command == "GET" and st.list_fault in ("stall", "huge"):
            # Outside the lock: the stall must hold up this answer only.
            self.drain()
            listing_faults.send_body_fault(self, st.list_fault)
            return 200
        m = re.fullmatch(r"/account/articles/(\d+)(/files(?:/(\d+))?)?", path)
        if m:
            with st.lock:
                a = self.article(int(m.group(1)), private=True)
                if m.group(2) is None:
                    if self.command != "GET":
                        raise ApiError(405, "Method not allowed", "MethodNotAllowed")
                    self.drain()
                    for f in a.files:
                        f.processed(st)
                    self.send_json(200, self.article_json(a, a.files, private=True))
                    return 200
                if m.group(3) is None:
                    if self.command == "GET":
                        self.drain()
                        for f in a.files:
                            if f.status != "available":
                                f.processed(st)
                        self.send_raw_json(200, "[" + ",".join(f.json_text(st) for f in self.paging(query, a.files)) + "]")
                        return 200
                    if self.command == "POST":
                        return self.initiate(a)
                    raise ApiError(405, "Method not allowed", "MethodNotAllowed")
                fid = int(m.group(3))
                f = next((x for x in a.files if x.id == fid), None)
                if f is None:
                    raise ApiError(404, "Entity not found: file", "EntityNotFound")
                if self.command == "GET":
                    self.drain()
                    f.processed(st)
                    self.send_json(200, f.to_json(st))
                    return 200
                if self.command == "POST":
                    return self.complete(f)
                if self.command == "DELETE":
                    self.drain()
                    a.files.remove(f)
                    self.send_empty(204)
                    return 204
                raise ApiError(405, "Method not allowed", "MethodNotAllowed")
        m = re.fullmatch(r"/articles/(\d+)(?:/(files|versions)(?:/(\d+))?)?", path)
        if m and self.command == "GET":
            self.drain()
            with st.lock:
                a = self.article(int(m.group(1)), private=False)
                latest = a.versions[-1]
                if m.group(2) is None:
                    self.send_json(200, self.article_json(a, latest))
                elif m.group(2) == "files":
                    if m.group(3) is not None:
                        f = next((x for x in latest if x.id == int(m.group(3))), None)
                        if f is None:
                            raise ApiError(404, "Entity not found: file", "EntityNotFound")
                        self.send_json(200, f.to_json(st, private=False))
                    else:
                        self.send_raw_json(200, "[" + ",".join(f.json_text(st, False) for f in self.paging(query, latest)) + "]")
                elif m.group(3) is None:
                    self.send_json(200, [
                        {"version": i + 1, "url": "%s/articles/%d/versions/%d" % (st.api, a.id, i + 1)}
                        for i in range(len(a.versions))
                    ])
                else:
                    n = int(m.group(3))
                    if n < 1 or n > len(a.versions):
                        raise ApiError(404, "Entity not found: version", "EntityNotFound")
                    self.send_json(200, self.article_json(a, a.versions[n - 1], version=n))
            return 200
        self.drain()
        raise ApiError(404, "Not found", "NotFound")

    def initiate(self, a):
        body = self.json_body()
        name, size, md5 = body.get("name"), body.get("size"), body.get("md5")
        if not isinstance(name, str) or not name or "/" in name:
            raise ApiError(422, "name is required", "ValidationFailed")
        if not isinstance(size, int) or size < 0:
            raise ApiError(422, "size is required", "ValidationFailed")
        if md5 is not None and not re.fullmatch(r"[0-9a-f]{32}", str(md5)):
            raise ApiError(422, "md5 is not an MD5 hex digest", "ValidationFailed")
        st = self.st
        f = File(st.new_id(), name, size, md5 or "")
        a.files.append(f)
        st.files[f.id] = f
        st.uploads[f.upload_token] = f
        loc = "%s/account/articles/%d/files/%d" % (st.api, a.id, f.id)
        self.send_json(201, {"location": loc}, {"Location": loc})
        return 201

    def complete(self, f):
        self.drain()
        st = self.st
        if f.blob is None:
            parts = StorageHandler.parts_of(self, f)
            if any(p["partNo"] not in f.parts for p in parts):
                raise ApiError(400, "Upload is not complete: missing parts", "UploadNotComplete")
            blob = os.path.join(st.dir, "blob-%d" % f.id)
            with open(blob, "wb") as out:
                for p in parts:
                    with open(f.parts[p["partNo"]], "rb") as src:
                        shutil.copyfileobj(src, out, CHUNK)
                    os.unlink(f.parts[p["partNo"]])
            if st.corrupt_next > 0:
                st.corrupt_next -= 1
                with open(blob, "r+b") as out:
                    first = out.read(1)
                    out.seek(0)
                    out.write(bytes([(first[0] ^ 0xFF) if first else 0]))
            f.blob = blob
            f.status = "ic_checking"
            f.ready_at = time.time() + st.delay
        self.send_json(202, {"location": "%s/account/articles/files/%d" % (st.api, f.id)})
        return 202

    def file_download(self, fid):
        self.drain()
        st = self.st
        with st.lock:
            f = st.files.get(fid)
            if f is None or f.blob is None:
                raise ApiError(404, "Entity not found: file", "EntityNotFound")
            published = any(f in v for a in st.articles.values() for v in a.versions)
            if not published:
                mine = any(f in a.files for a in st.articles.values())
                if self.user is None or not mine or not st.private_api_download:
                    raise ApiError(404, "Entity not found: file", "EntityNotFound")
        loc = "%s/files/%d?sig=%s&X-Amz-Expires=10" % (st.storage, fid, st.sign(fid))
        self.send_empty(302, {"Location": loc})
        return 302

    def admin_file(self, query):
        """POST /_fake/file?article=ID&name=N[&supplied_md5=X]: a processed
        file with the body as content, as if uploaded and processed."""
        st = self.st
        self._body_read = True
        data = b"".join(self.body_reader())
        with st.lock:
            a = st.articles.get(int(query.get("article", "0")))
            if a is None:
                return self.error(404, "no such article", "EntityNotFound")
            f = add_processed(st, a, query["name"], data, query.get("supplied_md5", ""))
            return self.send_json(200, {"id": f.id, "name": f.name})

    def admin(self, path, query):
        st = self.st
        name = path[len("/_fake/"):]
        if name == "file":
            return self.admin_file(query)
        if name == "files":
            self.drain()
            with st.lock:
                a = st.articles.get(int(query.get("article", "0")))
                if a is None:
                    return self.error(404, "no such article", "EntityNotFound")
                for i in range(int(query.get("count", "0"))):
                    add_processed(st, a, "bulk-%05d.txt" % i, b"file %d\n" % i)
                return self.send_json(200, {"ok": True, "files": len(a.files)})
        self.drain()
        with st.lock:
            if self.send_log(name):
                return
            if name == "config":
                configure(st, query, {
                    **LISTING_CONFIG,
                    "drop_after": ("drop_after", int),
                    "drop_count": ("drop_count", int),
                    "corrupt_next": ("corrupt_next", int),
                    "private_api_download": ("private_api_download", switch),
                })
                return self.send_json(200, {"ok": True})
            if name == "article":
                aid = int(query.get("id", "0"))
                st.articles.setdefault(aid, Article(aid, query.get("owner", "tester")))
                return self.send_json(200, {"ok": True, "id": aid})
            if name == "publish":
                a = st.articles.get(int(query.get("article", "0")))
                if a is None:
                    return self.error(404, "no such article", "EntityNotFound")
                for f in a.files:
                    f.processed(st)
                a.versions.append([f for f in a.files if f.status == "available"])
                return self.send_json(200, {"ok": True, "version": len(a.versions)})
            if name == "state":
                return self.send_json(200, {
                    str(a.id): {
                        "files": [{"id": f.id, "name": f.name, "size": f.size, "status": f.status}
                                  for f in a.files],
                        "versions": [[f.id for f in v] for v in a.versions],
                    } for a in st.articles.values()
                })
        return self.error(404, "unknown test endpoint", "NotFound")


def add_processed(st, a, name, data, supplied_md5=""):
    """A file of article `a` with `data` as content, as if uploaded and
    processed."""
    f = File(st.new_id(), name, len(data), supplied_md5)
    f.blob = os.path.join(st.dir, "blob-%d" % f.id)
    with open(f.blob, "wb") as out:
        out.write(data)
    f.computed_md5 = hashlib.md5(data).hexdigest()
    f.status = "available"
    a.files.append(f)
    st.files[f.id] = f
    return f


def main():
    p = arguments(__doc__)
    p.add_argument("--storage-port", type=int, default=0)
    p.add_argument("--token", default="fake-figshare-token-0123456789")
    p.add_argument("--article", type=int, action="append", default=[])
    p.add_argument("--part-size", type=int, default=256 * 1024)
    p.add_argument("--processing-delay", type=float, default=0.015)
    p.add_argument("--no-locked-parts", action="store_true")
    p.add_argument("--max-page", type=int, default=1000, help="largest page actually given")
    p.add_argument("--lock-every", type=int, default=4, help="every N-th upload's first part answers 409 once")
    p.add_argument("--data-dir", default=None)
    args = p.parse_args()
    if not args.article:
        args.article = [4242]
    state = State(args)
    storage = FakeServer((args.host, args.storage_port), StorageHandler, state, queue=64)
    api = FakeServer((args.host, args.port), ApiHandler, state, queue=64)
    state.api = "http://%s:%d/v2" % (args.host, api.server_address[1])
    state.web = "http://%s:%d" % (args.host, api.server_address[1])
    state.storage = "http://%s:%d" % (args.host, storage.server_address[1])
    serve(api, [storage], cleanup=lambda: shutil.rmtree(state.dir, ignore_errors=True))


if __name__ == "__main__":
    main()
