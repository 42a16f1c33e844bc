#!/usr/bin/env python3
"""A fake Zenodo (InvenioRDM REST API) for annexa's tests and demo (stdlib only).

Sources for each behaviour (cited again where it is implemented):
- [DOCS] InvenioRDM REST API reference, "Drafts and Records":
  github.com/inveniosoftware/docs-invenio-rdm docs/reference/rest_api_drafts_records.md
  (draft create, draft files init -> content -> commit, publish, new version,
  files-import, record files, `checksum: "md5:<hex>"`, content downloads).
- [RDM-RES] invenio-rdm-records invenio_rdm_records/resources/resources.py
  `RDMRecordResource.read`: a parent (concept) id answers with a redirect
  to the latest version.
- [RDM-CFG] invenio-rdm-records invenio_rdm_records/config.py
  `RDM_RECORDS_MAX_FILES_COUNT = 100`; invenio-records-resources raises
  FilesCountExceededException (400) past it.
- [ZEN-CFG] zenodo-rdm invenio.cfg: `RDM_FILES_DEFAULT_QUOTA_SIZE = 50 * 10**9`
  (per record), `RATELIMIT_GUEST_USER = "8000 per hour;133 per minute"`;
  Flask-Limiter answers 429 with `Retry-After` and sends
  `X-RateLimit-Limit/Remaining/Reset` on every answer.
- [DRAFTS] invenio-drafts-resources `RecordService.new_version`: when the
  parent already has a draft of a next version, that draft is returned;
  else a new draft is made from the latest version, without files.
- [ERR] flask-resources HTTPJSONException: errors are
  `{"status": CODE, "message": TEXT}`; 401 for a bad token, 403 for a
  restricted record or files without permission, 404 for an unpublished
  record read without its draft endpoint.

Usage:
    zenodo_server.py --port 0 [--token TOKEN] [--record ID ...] [--data-dir DIR]
        [--max-files N] [--quota BYTES] [--max-page N]
Prints "READY <port>" once it listens. The API is under /api.

Test-only endpoints under /_fake/ (no token needed):
    POST /_fake/draft?id=ID           an empty unpublished draft owned by the token's user
    POST /_fake/file?record=ID&name=N body = content: a committed file in ID's draft
    POST /_fake/publish?record=ID     publishes ID's draft (as the web UI's Publish)
    POST /_fake/restrict?record=ID    makes the published record's files restricted
    POST /_fake/config?max_files=&quota=&rate_limit=N&list_fault=&max_page=&lying_redirect=0|1
    GET  /api/user/records?q=parent.id:P   the owner's records and drafts of concept P
    GET  /_fake/api-log               method, path, query, status, authorization present
    GET  /_fake/state                 records, drafts, files as JSON
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
from _fake_http import (LISTING_CONFIG, ApiError, FakeHandler, FakeServer, arguments, configure,
                        dispatching, serve, switch)


class FileEntry:
    def __init__(self, key, blob, size, md5, status="completed"):
        self.key = key
        self.blob = blob
        self.size = size
        self.md5 = md5
        self.status = status

    def to_json(self, base, rid, draft):
        where = "draft/files" if draft else "files"
        d = {
            "key": self.key,
            "status": self.status,
            "metadata": None,
            "links": {
                "self": "%s/records/%s/%s/%s" % (base, rid, where, urllib.parse.quote(self.key)),
                "content": "%s/records/%s/%s/%s/content" % (base, rid, where, urllib.parse.quote(self.key)),
            },
        }
        if draft:
            d["links"]["commit"] = d["links"]["self"] + "/commit"
        if self.status == "completed":
            # [DOCS] "checksum": "md5:6ef4...", "size" once committed.
            d["checksum"] = "md5:" + self.md5
            d["size"] = self.size
            d["mimetype"] = "application/octet-stream"
        return d


class Record:
    """One version: a draft until published, then a record."""

    def __init__(self, rid, parent):
        self.id = rid
        self.parent = parent
        self.published = False
        self.files = {}  # key -> FileEntry (insertion ordered)
        self.index = 1
        self.files_restricted = False

    def to_json(self, st, draft):
        base = st.base
        rid = self.id
        return {
            "id": str(rid),
            "recid": str(rid),
            "conceptrecid": str(self.parent.id),
            "doi": "10.5281/zenodo.%d" % rid,
            "conceptdoi": "10.5281/zenodo.%d" % self.parent.id,
            "is_published": self.published,
            "is_draft": draft,
            "parent": {"id": str(self.parent.id)},
            "access": {"record": "public", "files": "restricted" if self.files_restricted else "public"},
            "files": {"enabled": True, "count": len(self.files)},
            "versions": {"index": self.index, "is_latest": self.parent.latest() is self},
            "metadata": {"title": "record %d" % rid},
            "links": {
                "self": "%s/records/%d%s" % (base, rid, "/draft" if draft else ""),
                "files": "%s/records/%d/%s" % (base, rid, "draft/files" if draft else "files"),
                "latest": "%s/records/%d/versions/latest" % (base, rid),
                "versions": "%s/records/%d/versions" % (base, rid),
                "publish": "%s/records/%d/draft/actions/publish" % (base, rid),
            },
        }


class Parent:
    def __init__(self, pid):
        self.id = pid
        self.versions = []  # Records, in order
        self.next_draft = None

    def latest(self):
        published = [r for r in self.versions if r.published]
        return published[-1] if published else None


class State:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.token = args.token
        self.max_files = args.max_files
        self.quota = args.quota
        self.max_page = max(1, args.max_page)
        self.rate_limit = 0  # requests per window; 0: none
        self.window_start = time.time()
        self.window_count = 0
        self.list_fault = ""
        self.lying_redirect = False
        self.records = {}  # id -> Record
        self.parents = {}  # id -> Parent
        self.next_id = 1000
        self.api_log = []
        self.dir = args.data_dir or tempfile.mkdtemp(prefix="fake-zenodo-")
        os.makedirs(self.dir, exist_ok=True)

    def new_id(self):
        self.next_id += 1
        return self.next_id

    def new_draft(self, rid=None, parent=None):
        if parent is None:
            # [DOCS] a new record's parent (concept) id differs from the version's.
            parent = Parent(self.new_id())
            self.parents[parent.id] = parent
        rid = rid if rid is not None else self.new_id()
        r = Record(rid, parent)
        r.index = len(parent.versions) + 1
        parent.versions.append(r)
        self.records[rid] = r
        return r


@dispatching("GET", "HEAD", "POST", "PUT", "DELETE")
class Handler(FakeHandler):
    server_version = "FakeZenodo/1"
    log_env = "FAKE_ZENODO_VERBOSE"
    log_prefix = "fake-zenodo"

    def reply_headers(self):
        st = self.st
        if not st.rate_limit:
            return {}
        # [ZEN-CFG] Flask-Limiter's headers.
        return {
            "X-RateLimit-Limit": str(st.rate_limit),
            "X-RateLimit-Remaining": str(max(0, st.rate_limit - st.window_count)),
            "X-RateLimit-Reset": str(int(st.window_start + 1)),
        }

    def json_body(self):
        try:
            return json.loads(self.read_body() or b"null")
        except ValueError:
            raise ApiError(400, "The request body is not valid JSON.")

    # ------------------------------------------------------------ plumbing

    def authorized(self):
        """None (anonymous) or True (the owner); a wrong token is 401 [ERR]."""
        header = self.headers.get("Authorization")
        if header is None:
            return None
        if header != "Bearer " + self.st.token:
            raise ApiError(401, "The server could not verify that you are authorized to access the URL requested.")
        return True

    def need_owner(self):
        if self.authorized() is None:
            raise ApiError(403, "You don't have the permission to access the requested resource.")

    def dispatch(self):
        self._body_read = False
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        st = self.st
        if path.startswith("/_fake/"):
            try:
                return self.admin(path[len("/_fake/"):], query)
            except BrokenPipeError:
                return
        status = 500
        try:
            with st.lock:
                if st.rate_limit:
                    now = time.time()
                    if now - st.window_start >= 1:
                        st.window_start, st.window_count = now, 0
                    st.window_count += 1
                    if st.window_count > st.rate_limit:
                        # [ZEN-CFG] 429 with Retry-After, body drained.
                        raise ApiError(429, "Too many requests", {"Retry-After": "1"})
            status = self.route(path, query) or 200
        except ApiError as e:
            status = e.status
            self.drain()
            self.send_json(e.status, {"status": e.status, "message": e.message}, e.headers)
        except BrokenPipeError:
            pass
        finally:
            with st.lock:
                st.api_log.append({
                    "method": self.command, "path": path, "query": url.query, "status": status,
                    "authorization": "Authorization" in self.headers,
                })

    def record(self, rid, draft):
        r = self.st.records.get(int(rid))
        if r is None or (not draft and not r.published) or (draft and r.published):
            if not draft and r is None and int(rid) in self.st.parents:
                return None
            # [ERR] an unpublished record is not found by the records endpoint.
            raise ApiError(404, "The persistent identifier does not exist." if draft else "Record not found.")
        return r

    def route(self, path, query):
        st = self.st
        m = re.fullmatch(r"/api/records/(\d+)(/draft)?", path)
        if m and self.command in ("GET", "HEAD"):
            self.drain()
            draft = bool(m.group(2))
            if draft:
                self.need_owner()
            with st.lock:
                rid = int(m.group(1))
                if not draft and rid in st.parents and rid not in st.records:
                    # [RDM-RES] a concept id redirects to the latest version.
                    return self.redirect_latest(st.parents[rid])
                r = self.record(rid, draft)
                return self.send_json(200, r.to_json(st, draft))
        m = re.fullmatch(r"/api/records/(\d+)/versions/latest", path)
        if m and self.command == "GET":
            self.drain()
            with st.lock:
                rid = int(m.group(1))
                parent = st.parents.get(rid) or (st.records[rid].parent if rid in st.records else None)
                if parent is None:
                    raise ApiError(404, "Record not found.")
                return self.redirect_latest(parent)
        m = re.fullmatch(r"/api/records/(\d+)/versions", path)
        if m and self.command == "GET":
            self.drain()
            return self.versions(int(m.group(1)), query)
        if m and self.command == "POST":
            self.drain()
            self.need_owner()
            return self.new_version(int(m.group(1)))
        if path == "/api/user/records" and self.command == "GET":
            # [DRAFTS] search_drafts: the account's records and drafts
            # (a record with a draft shows as the draft); `q` filters by
            # the concept (`parent.id:P`).
            self.drain()
            self.need_owner()
            m = re.fullmatch(r"parent\.id:\"?(\d+)\"?", query.get("q", ""))
            with st.lock:
                hits = [r for r in st.records.values()
                        if m is None or r.parent.id == int(m.group(1))]
                size = int(query.get("size", "10"))
                return self.send_json(200, {
                    "hits": {"hits": [r.to_json(st, not r.published) for r in hits[:size]],
                             "total": len(hits)},
                })
        if path == "/api/records" and self.command == "POST":
            self.json_body()
            self.need_owner()
            with st.lock:
                r = st.new_draft()
                return self.send_json(201, r.to_json(st, True)) or 201
        m = re.fullmatch(r"/api/records/(\d+)/draft/actions/(publish|files-import)", path)
        if m and self.command == "POST":
            self.drain()
            self.need_owner()
            with st.lock:
                r = self.record(m.group(1), True)
                if m.group(2) == "publish":
                    self.publish(r)
                    return self.send_json(202, r.to_json(st, False)) or 202
                # [DOCS] files-import links every file of the previous version.
                previous = [v for v in r.parent.versions if v.published]
                if previous:
                    for k, f in previous[-1].files.items():
                        r.files.setdefault(k, f)
                return self.send_json(201, self.files_json(r, True)) or 201
        m = re.fullmatch(r"/api/records/(\d+)/(draft/)?files", path)
        if m:
            draft = bool(m.group(2))
            if self.command == "GET":
                self.drain()
                return self.list_files(m.group(1), draft)
            if self.command == "POST" and draft:
                return self.init_files(m.group(1))
        m = re.fullmatch(r"/api/records/(\d+)/(draft/)?files/(.+?)(/content|/commit)?", path)
        if m:
            return self.file_op(m.group(1), bool(m.group(2)), m.group(3), m.group(4) or "")
        self.drain()
        raise ApiError(404, "The requested URL was not found on the server.")

    def redirect_latest(self, parent):
        st = self.st
        latest = parent.latest()
        if latest is None:
            raise ApiError(404, "Record not found.")
        host = "http://evil.example" if st.lying_redirect else st.base
        if st.lying_redirect:
            host += "/api"
        return self.send_empty(302, {"Location": "%s/records/%d" % (host, latest.id)}) or 302

    def publish(self, r):
        if not r.files:
            # Zenodo refuses to publish a record without files.
            raise ApiError(400, "Missing uploaded files. To disable files for this record please mark it as metadata-only.")
        if any(f.status != "completed" for f in r.files.values()):
            raise ApiError(400, "File upload is not completed.")
        r.published = True
        if r.parent.next_draft is r:
            r.parent.next_draft = None

    def new_version(self, rid):
        st = self.st
        with st.lock:
            r = st.records.get(rid)
            if r is None or not r.published:
                raise ApiError(404, "Record not found.")
            parent = r.parent
            # [DRAFTS] an existing next draft is returned, else a new one
            # without files.
            if parent.next_draft is None:
                parent.next_draft = st.new_draft(parent=parent)
            return self.send_json(201, parent.next_draft.to_json(st, True)) or 201

    def versions(self, rid, query):
        st = self.st
        with st.lock:
            r = st.records.get(rid)
            parent = st.parents.get(rid) or (r.parent if r else None)
            if parent is None:
                raise ApiError(404, "Record not found.")
            fault = st.list_fault
        # Outside the lock: a stalled answer must not hold up the others.
        if listing_faults.send_body_fault(self, fault):
            return 200
        with st.lock:
            published = [v for v in parent.versions if v.published]
            # [DOCS] search parameters: page (from 1), size (default 10).
            try:
                page = int(query.get("page", "1"))
                size = int(query.get("size", "10"))
            except ValueError:
                raise ApiError(400, "Invalid page or size.")
            if page < 1 or size < 1:
                raise ApiError(400, "Invalid page or size.")
            size = min(size, st.max_page)
            page = listing_faults.page_index(st.list_fault, page - 1)
            hits = published[page * size:(page + 1) * size]
            return self.send_json(200, {
                "hits": {"hits": [v.to_json(st, False) for v in hits], "total": len(published)},
                "sortBy": "version",
            })

    def files_json(self, r, draft):
        return {
            "enabled": True,
            "entries": [f.to_json(self.st.base, r.id, draft) for f in r.files.values()],
            "links": {"self": "%s/records/%d/%sfiles" % (self.st.base, r.id, "draft/" if draft else "")},
        }

    def readable(self, r, draft):
        if draft:
            self.need_owner()
        elif r.files_restricted and self.authorized() is None:
            # [ERR] restricted files: 403 without permission.
            raise ApiError(403, "You don't have the permission to access the requested resource.")

    def list_files(self, rid, draft):
        st = self.st
        with st.lock:
            r = self.record(rid, draft)
            if r is None:
                raise ApiError(404, "Record not found.")
            self.readable(r, draft)
            fault = st.list_fault
            listing = self.files_json(r, draft)
        if listing_faults.send_body_fault(self, fault):
            return 200
        return self.send_json(200, listing)

    def init_files(self, rid):
        st = self.st
        body = self.json_body()
        self.need_owner()
        if not isinstance(body, list) or not all(isinstance(e, dict) and isinstance(e.get("key"), str) and e["key"] for e in body):
            raise ApiError(400, "A validation error occurred.")
        with st.lock:
            r = self.record(rid, True)
            keys = [e["key"] for e in body]
            if any(k in r.files for k in keys):
                raise ApiError(400, "File with key %s already exists." % keys[0])
            if len(r.files) + len(keys) > st.max_files:
                # [RDM-CFG] FilesCountExceededException.
                raise ApiError(400, "Uploading more than %d files is not supported." % st.max_files)
            for k in keys:
                r.files[k] = FileEntry(k, None, 0, "", status="pending")
            return self.send_json(201, {
                "enabled": True,
                "entries": [r.files[k].to_json(st.base, r.id, True) for k in keys],
            }) or 201

    def file_op(self, rid, draft, key, action):
        st = self.st
        if self.command == "PUT" and draft and action == "/content":
            return self.upload(rid, key)
        self.drain()
        with st.lock:
            r = self.record(rid, draft)
            if r is None:
                raise ApiError(404, "Record not found.")
            self.readable(r, draft)
            f = r.files.get(key)
            if f is None:
                raise ApiError(404, "File not found.")
            if self.command == "POST" and draft and action == "/commit":
                if f.blob is None:
                    raise ApiError(400, "File content is missing.")
                f.status = "completed"
                return self.send_json(200, f.to_json(st.base, r.id, True))
            if self.command == "DELETE" and draft and action == "":
                del r.files[key]
                return self.send_empty(204) or 204
            if self.command in ("GET", "HEAD") and action == "":
                return self.send_json(200, f.to_json(st.base, r.id, draft))
            if self.command in ("GET", "HEAD") and action == "/content":
                if f.status != "completed":
                    raise ApiError(404, "File not found.")
                blob, size, md5 = f.blob, f.size, f.md5
        if self.command in ("GET", "HEAD") and action == "/content":
            return self.send_content(blob, size, md5)
        raise ApiError(405, "The method is not allowed for the requested URL.")

    def upload(self, rid, key):
        st = self.st
        try:
            self.need_owner()
            with st.lock:
                r = self.record(rid, True)
                f = r.files.get(key)
                if f is None:
                    raise ApiError(404, "File not found.")
                used = sum(e.size for e in r.files.values() if e is not f and e.blob)
            length = int(self.headers.get("Content-Length") or 0)
            if used + length > st.quota:
                # [ZEN-CFG] 50 GB per record (invenio-files-rest FileSizeError).
                raise ApiError(400, "Bucket quota exceeded.")
        except ApiError:
            raise
        blob = os.path.join(st.dir, "blob-%d-%s" % (r.id, hashlib.md5(key.encode()).hexdigest()))
        h = hashlib.md5()
        size = 0
        self._body_read = True
        with open(blob + ".part", "wb") as out:
            for b in self.body_reader():
                out.write(b)
                h.update(b)
                size += len(b)
        if size != length:
            self.close_connection = True
            raise ApiError(400, "Incomplete upload.")
        os.replace(blob + ".part", blob)
        with st.lock:
            f.blob, f.size, f.md5, f.status = blob, size, h.hexdigest(), "pending"
            return self.send_json(200, f.to_json(st.base, r.id, True))

    def send_content(self, blob, size, md5):
        start, end, status = 0, size - 1, 200
        if size > 0:
            start, end, status = self.byte_range(size, suffixes=False)
            if status == 416:
                return 416
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1 if size else 0))
        # [DOCS] Content-MD5 and an md5: ETag on downloads.
        self.send_header("Content-MD5", md5)
        self.send_header("ETag", '"md5:%s"' % md5)
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        for k, v in self.reply_headers().items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD" or size == 0:
            return status
        with open(blob, "rb") as src:
            self.send_file_body(src, start, end - start + 1)
        return status

    # ------------------------------------------------------------ test-only

    def admin(self, name, query):
        st = self.st
        if name == "file":
            self._body_read = True
            data = b"".join(self.body_reader())
            with st.lock:
                r = st.records.get(int(query.get("record", "0")))
                if r is None or r.published:
                    return self.send_json(404, {"status": 404, "message": "no such draft"})
                blob = os.path.join(st.dir, "seed-%d-%s" % (r.id, hashlib.md5(query["name"].encode()).hexdigest()))
                with open(blob, "wb") as out:
                    out.write(data)
                r.files[query["name"]] = FileEntry(query["name"], blob, len(data), hashlib.md5(data).hexdigest())
                return self.send_json(200, {"ok": True})
        self.drain()
        with st.lock:
            if name == "draft":
                rid = int(query["id"]) if "id" in query else None
                if rid in st.records:
                    return self.send_json(200, {"ok": True, "id": rid})
                r = st.new_draft(rid)
                return self.send_json(200, {"ok": True, "id": r.id, "parent": r.parent.id})
            if name == "publish":
                r = st.records.get(int(query.get("record", "0")))
                if r is None:
                    return self.send_json(404, {"status": 404, "message": "no such record"})
                target = r if not r.published else r.parent.next_draft
                if target is None:
                    return self.send_json(200, {"ok": True, "note": "nothing to publish"})
                try:
                    self.publish(target)
                except ApiError as e:
                    return self.send_json(e.status, {"status": e.status, "message": e.message})
                return self.send_json(200, {"ok": True, "id": target.id, "parent": target.parent.id})
            if name == "restrict":
                r = st.records.get(int(query.get("record", "0")))
                if r is None:
                    return self.send_json(404, {"status": 404, "message": "no such record"})
                r.files_restricted = True
                return self.send_json(200, {"ok": True})
            if name == "config":
                configure(st, query, {
                    **LISTING_CONFIG,
                    "max_files": ("max_files", int),
                    "quota": ("quota", int),
                    "rate_limit": ("rate_limit", lambda v: int(v or 0)),
                    "lying_redirect": ("lying_redirect", switch),
                })
                return self.send_json(200, {"ok": True})
            if self.send_log(name):
                return
            if name == "state":
                return self.send_json(200, {
                    str(r.id): {
                        "parent": r.parent.id,
                        "published": r.published,
                        "index": r.index,
                        "files": [{"key": f.key, "size": f.size, "md5": f.md5, "status": f.status}
                                  for f in r.files.values()],
                    } for r in st.records.values()
                })
        return self.send_json(404, {"status": 404, "message": "unknown test endpoint"})


def main():
    p = arguments(__doc__)
    p.add_argument("--token", default="fake-zenodo-token-0123456789")
    p.add_argument("--record", type=int, action="append", default=[],
                   help="an empty draft with this id (default 4242)")
    p.add_argument("--max-files", type=int, default=100)
    p.add_argument("--quota", type=int, default=50 * 10**9)
    p.add_argument("--max-page", type=int, default=100, help="largest versions page actually given")
    p.add_argument("--data-dir", default=None)
    args = p.parse_args()
    state = State(args)
    for rid in args.record or [4242]:
        state.new_draft(rid)
    api = FakeServer((args.host, args.port), Handler, state, queue=64)
    state.base = "http://%s:%d/api" % (args.host, api.server_address[1])

    def cleanup():
        if not args.data_dir:
            shutil.rmtree(state.dir, ignore_errors=True)

    serve(api, cleanup=cleanup)


if __name__ == "__main__":
    main()
