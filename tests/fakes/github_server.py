#!/usr/bin/env python3
"""A fake GitHub (Releases API) for annexa's tests and demo (stdlib only).

Three HTTP servers on loopback:
- the API port: repositories, releases and assets as the REST API answers
  them (tag lookup hides drafts, release listing paged with `Link`,
  asset downloads answered with a 302 to signed storage, rate-limit
  headers on every answer), plus release web pages and download links
  (`/OWNER/REPO/releases/download/TAG/NAME`) as github.com serves them;
- the uploads port: `POST /repos/O/R/releases/ID/assets?name=N` as
  uploads.github.com (names rewritten as GitHub does, 422 already_exists,
  422 for an empty body, 422 file_count past the asset cap, names blocked
  by an unfinished upload that no listing shows);
- the storage port: signed, short-lived links (Range → 206). A request
  carrying `Authorization` is refused with 400 and recorded as a violation.

Usage:
    github_server.py --port 0 [--token TOKEN] [--repo OWNER/NAME ...]
        [--release OWNER/NAME:TAG[:draft]] [--data-dir DIR]
        [--max-assets N]   (assets per release; default 1000, GitHub's limit;
                            also FAKE_GITHUB_MAX_ASSETS)
Prints "READY <api_port> <uploads_port> <storage_port>" once all listen.

Test-only endpoints under /_fake/ on the API port (no token needed):
    GET  /_fake/storage-log   {"requests": [...], "violations": [...]}
    GET  /_fake/state         repositories, releases and assets
    GET  /_fake/counts        requests per port and 403s for rate limits
    POST /_fake/config?ratelimit_remaining=N&ratelimit_reset_in=S
                      &per_page_max=N&digest=0|1&drop_after=BYTES&drop_count=K
                      &list_fault=repeat|ignore_offset|stall|huge (release and asset
                      listings misbehave: tests/fakes/listing_faults.py)
                      &link_ttl=S&secondary_limit=K (403 + Retry-After: 1)
                      &secondary_bare=K (403 as GitHub sends it: no Retry-After,
                      requests left; API and uploads ports)
                      &anon_budget=N&anon_reset_in=S (anonymous requests' own
                      hourly budget; browser downloads do not spend it)
                      &max_assets=N
    POST /_fake/block?repo=O/R&tag=T&name=N  the name is taken in that release
                      by an upload GitHub never finished and never lists
    POST /_fake/release?repo=O/R&tag=T[&draft=1]
    POST /_fake/asset?repo=O/R&tag=T&name=N[&digest=0]   body = content (any
                      name; digest=0: GitHub reports no digest for it)
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import threading
import time
import unicodedata
import urllib.parse

import listing_faults  # next to this script
from _fake_http import CHUNK, FakeHandler, FakeServer, configure, dispatching, serve, switch

SECRET = os.urandom(16)


def sanitize(name):
    """What GitHub makes of an asset name."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_ish = "".join(c for c in decomposed if not unicodedata.combining(c))
    out = re.sub(r"\.*[^A-Za-z0-9_.\-]+\.*", ".", ascii_ish)
    out = out.strip(".") if out.strip(".") == "" else out
    if out in ("", "."):
        ext = os.path.splitext(name)[1]
        out = "default" + (ext if re.fullmatch(r"\.[A-Za-z0-9]+", ext or "") else "")
    return out


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.token = args.token
        self.data_dir = args.data_dir
        self.repos = {}  # "o/r" -> list of releases (dicts)
        self.next_id = 1000
        self.storage_log = []
        self.violations = []
        self.counts = {"api": 0, "uploads": 0, "storage": 0, "ratelimited": 0}
        self.limit = 1_000_000_000
        self.remaining = self.limit
        self.reset_at = int(time.time()) + 3600
        self.per_page_max = 100
        self.list_fault = ""
        self.digest = True
        self.drop_after = None
        self.drop_count = 0
        self.link_ttl = 60
        self.secondary = 0
        self.secondary_bare = 0
        # GitHub allows 1,000 assets per release (enforced since 2025-07:
        # github.com/orgs/community/discussions/165616, osandov/drgn#521).
        self.max_assets = args.max_assets or int(os.environ.get("FAKE_GITHUB_MAX_ASSETS") or 1000)
        # Anonymous requests have their own budget per IP, 60 an hour
        # (docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api,
        # "Primary rate limit for unauthenticated users"); unlimited unless set.
        self.anon_limit = 1_000_000_000
        self.anon_remaining = self.anon_limit
        self.anon_reset_at = int(time.time()) + 3600
        for r in args.repo:
            self.repos.setdefault(r, [])
        for spec in args.release:
            parts = spec.split(":")
            self.repos.setdefault(parts[0], [])
            self.add_release(parts[0], parts[1], len(parts) > 2 and parts[2] == "draft")

    def new_id(self):
        self.next_id += 1
        return self.next_id

    def add_release(self, repo, tag, draft):
        rel = {"id": self.new_id(), "tag_name": tag, "draft": draft, "assets": []}
        self.repos.setdefault(repo, []).insert(0, rel)
        return rel

    def find_release(self, repo, rid):
        for rel in self.repos.get(repo, []):
            if rel["id"] == rid:
                return rel
        return None

    def find_asset(self, repo, aid):
        for rel in self.repos.get(repo, []):
            for a in rel["assets"]:
                if a["id"] == aid:
                    return rel, a
        return None, None

    def asset_path(self, aid):
        return os.path.join(self.data_dir, "asset-%d" % aid)

    def sign(self, aid, expires):
        msg = ("%d:%d" % (aid, expires)).encode()
        return hmac.new(SECRET, msg, hashlib.sha256).hexdigest()


class Handler(FakeHandler):
    server_version = "FakeGitHub/1"
    log_env = "FAKE_GITHUB_LOG"
    log_prefix = "fake-github"
    json_type = "application/json; charset=utf-8"

    def error(self, status, message, errors=None, headers=None, doc="https://docs.github.com/rest"):
        obj = {"message": message, "documentation_url": doc}
        if errors:
            obj["errors"] = errors
        self.send_json(status, obj, headers)

    def auth(self):
        """'token', None (anonymous) or 'bad'."""
        value = self.headers.get("Authorization")
        if value is None:
            return None
        if self.st.token and value in ("Bearer " + self.st.token, "token " + self.st.token):
            return "token"
        return "bad"

    def host(self, port):
        return "http://127.0.0.1:%d" % port


@dispatching("GET", "HEAD", "POST", "PATCH", "DELETE")
class ApiHandler(Handler):
    def reply_headers(self):
        st = self.st
        if self.headers.get("Authorization") is None:
            limit, remaining, reset = st.anon_limit, st.anon_remaining, st.anon_reset_at
        else:
            limit, remaining, reset = st.limit, st.remaining, st.reset_at
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(remaining, 0)),
            "x-ratelimit-used": str(max(limit - remaining, 0)),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
        }

    def dispatch(self):
        path, q = self.parsed()
        if path.startswith("/_fake/"):
            return self.admin(path[len("/_fake/"):], q)
        st = self.st
        parts = [p for p in path.strip("/").split("/")]
        if len(parts) >= 5 and parts[0] != "repos" and parts[2] == "releases":
            # github.com's release pages and download links are not REST
            # API requests: no API budget is spent on them.
            with st.lock:
                st.counts["web"] = st.counts.get("web", 0) + 1
            try:
                return self.route(path, q, self.auth())
            except BrokenPipeError:
                return
        anonymous = self.headers.get("Authorization") is None
        with st.lock:
            st.counts["api"] += 1
            now = int(time.time())
            if anonymous:
                if st.anon_remaining <= 0 and now >= st.anon_reset_at:
                    st.anon_remaining = st.anon_limit
                    st.anon_reset_at = now + 3600
                limited = st.anon_remaining <= 0
            else:
                if st.remaining <= 0 and now >= st.reset_at:
                    st.remaining = st.limit
                    st.reset_at = now + 3600
                limited = st.remaining <= 0
            secondary = st.secondary > 0 and not limited
            if secondary:
                st.secondary -= 1
            bare = st.secondary_bare > 0 and not limited and not secondary
            if bare:
                st.secondary_bare -= 1
            if not limited:
                if anonymous:
                    st.anon_remaining -= 1
                else:
                    st.remaining -= 1
            if limited or secondary or bare:
                st.counts["ratelimited"] += 1
        if limited:
            self.drain()
            # GitHub's words for a spent primary budget (403, remaining 0).
            return self.error(403, "API rate limit exceeded for 127.0.0.1. (But here's the good news: "
                              "Authenticated requests get a higher rate limit. Check out the documentation "
                              "for more details.)")
        if secondary:
            self.drain()
            return self.error(403, "You have exceeded a secondary rate limit.", headers={"retry-after": "1"})
        if bare:
            self.drain()
            return secondary_limit(self)
        who = self.auth()
        if who == "bad":
            self.drain()
            return self.error(401, "Bad credentials")
        try:
            self.route(path, q, who)
        except BrokenPipeError:
            pass

    def route(self, path, q, who):
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        m = self.command
        if len(parts) >= 3 and parts[0] == "repos":
            repo = parts[1] + "/" + parts[2]
            rest = parts[3:]
            if repo not in self.st.repos:
                self.drain()
                return self.error(404, "Not Found")
            if rest == [] and m == "GET":
                return self.send_json(200, {"full_name": repo, "private": False})
            if rest == ["releases"] and m == "GET":
                return self.list_releases(repo, q, who)
            if rest == ["releases"] and m == "POST":
                return self.create_release(repo, who)
            if len(rest) == 3 and rest[:2] == ["releases", "tags"] and m == "GET":
                with self.st.lock:
                    rel = next((r for r in self.st.repos[repo]
                                if r["tag_name"] == rest[2] and not r["draft"]), None)
                    body = rel and self.release_json(repo, rel)
                return self.send_json(200, body) if rel else self.error(404, "Not Found")
            if len(rest) == 3 and rest[:2] == ["releases", "assets"]:
                return self.asset(repo, rest[2], who)
            if len(rest) == 3 and rest[0] == "releases" and rest[2] == "assets" and m == "GET":
                return self.list_assets(repo, rest[1], q, who)
            if len(rest) == 2 and rest[0] == "releases" and m == "GET":
                with self.st.lock:
                    rel = self.st.find_release(repo, int(rest[1])) if rest[1].isdigit() else None
                    visible = rel and (not rel["draft"] or who == "token")
                    body = visible and self.release_json(repo, rel)
                return self.send_json(200, body) if visible else self.error(404, "Not Found")
        if len(parts) >= 5 and parts[2] == "releases" and m in ("GET", "HEAD"):
            return self.web(parts)
        self.drain()
        self.error(404, "Not Found")

    def release_json(self, repo, rel):
        api = self.host(self.server.ports["api"])
        up = self.host(self.server.ports["uploads"])
        return {
            "id": rel["id"],
            "tag_name": rel["tag_name"],
            "name": rel["tag_name"],
            "draft": rel["draft"],
            "prerelease": False,
            "url": "%s/repos/%s/releases/%d" % (api, repo, rel["id"]),
            "html_url": "%s/%s/releases/tag/%s" % (api, repo, rel["tag_name"]),
            "upload_url": "%s/repos/%s/releases/%d/assets{?name,label}" % (up, repo, rel["id"]),
            "assets": [self.asset_json(repo, rel, a) for a in rel["assets"]],
        }

    def asset_json(self, repo, rel, a):
        api = self.host(self.server.ports["api"])
        return {
            "id": a["id"],
            "name": a["name"],
            "label": "",
            "size": a["size"],
            "state": a["state"],
            "content_type": "application/octet-stream",
            "url": "%s/repos/%s/releases/assets/%d" % (api, repo, a["id"]),
            "browser_download_url": "%s/%s/releases/download/%s/%s" % (
                api, repo, urllib.parse.quote(rel["tag_name"]), urllib.parse.quote(a["name"])),
            "digest": ("sha256:" + a["sha256"]) if self.st.digest and not a.get("no_digest") else None,
            "created_at": a.get("updated_at"),
            "updated_at": a.get("updated_at"),
        }

    def list_releases(self, repo, q, who):
        per_page = max(1, min(int(q.get("per_page") or 30), self.st.per_page_max))
        page = max(1, int(q.get("page") or 1))
        with self.st.lock:
            rels = [r for r in self.st.repos[repo] if not r["draft"] or who == "token"]
            fault = self.st.list_fault
            served = listing_faults.page_index(fault, page - 1) + 1
            chunk = rels[(served - 1) * per_page: served * per_page]
            body = [self.release_json(repo, r) for r in chunk]
        headers = {}
        if page * per_page < len(rels):
            api = self.host(self.server.ports["api"])
            next_page = page if fault == "repeat" else page + 1
            headers["Link"] = '<%s/repos/%s/releases?per_page=%d&page=%d>; rel="next", <%s/repos/%s/releases?per_page=%d&page=%d>; rel="last"' % (
                api, repo, per_page, next_page, api, repo, per_page, (len(rels) + per_page - 1) // per_page)
        if listing_faults.send_body_fault(self, fault):
            return
        self.send_json(200, body, headers)

    def list_assets(self, repo, rid, q, who):
        """GET /repos/O/R/releases/ID/assets: paged like every listing."""
        per_page = max(1, min(int(q.get("per_page") or 30), self.st.per_page_max))
        page = max(1, int(q.get("page") or 1))
        with self.st.lock:
            rel = self.st.find_release(repo, int(rid)) if rid.isdigit() else None
            if not rel or (rel["draft"] and who != "token"):
                return self.error(404, "Not Found")
            assets = rel["assets"]
            fault = self.st.list_fault
            served = listing_faults.page_index(fault, page - 1) + 1
            body = [self.asset_json(repo, rel, a) for a in assets[(served - 1) * per_page: served * per_page]]
            more = page * per_page < len(assets)
        headers = {}
        if more:
            api = self.host(self.server.ports["api"])
            next_page = page if fault == "repeat" else page + 1
            headers["Link"] = '<%s/repos/%s/releases/%s/assets?per_page=%d&page=%d>; rel="next"' % (
                api, repo, rid, per_page, next_page)
        if listing_faults.send_body_fault(self, fault):
            return
        self.send_json(200, body, headers)

    def create_release(self, repo, who):
        body = json.loads(self.read_body() or b"{}")
        if who != "token":
            return self.error(401, "Requires authentication")
        tag = body.get("tag_name")
        with self.st.lock:
            if any(r["tag_name"] == tag for r in self.st.repos[repo]):
                return self.error(422, "Validation Failed", [{"resource": "Release", "code": "already_exists", "field": "tag_name"}])
            rel = self.st.add_release(repo, tag, bool(body.get("draft")))
            out = self.release_json(repo, rel)
        self.send_json(201, out)

    def asset(self, repo, aid_text, who):
        m = self.command
        aid = int(aid_text) if aid_text.isdigit() else -1
        with self.st.lock:
            rel, a = self.st.find_asset(repo, aid)
            visible = a is not None and (not rel["draft"] or who == "token")
        if not visible:
            self.drain()
            return self.error(404, "Not Found")
        if m in ("PATCH", "DELETE") and who != "token":
            self.drain()
            return self.error(401, "Requires authentication")
        if m == "DELETE":
            with self.st.lock:
                rel["assets"] = [x for x in rel["assets"] if x["id"] != aid]
            try:
                os.unlink(self.st.asset_path(aid))
            except FileNotFoundError:
                pass
            return self.send_json(204, None)
        if m == "PATCH":
            body = json.loads(self.read_body() or b"{}")
            with self.st.lock:
                if "name" in body:
                    new = sanitize(body["name"])
                    if any(x["name"] == new and x["id"] != aid for x in rel["assets"]):
                        return self.error(422, "Validation Failed", [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}])
                    a["name"] = new
                out = self.asset_json(repo, rel, a)
            return self.send_json(200, out)
        if "application/octet-stream" in (self.headers.get("Accept") or ""):
            return self.redirect_to_storage(aid)
        with self.st.lock:
            out = self.asset_json(repo, rel, a)
        self.send_json(200, out)

    def redirect_to_storage(self, aid):
        expires = int(time.time()) + self.st.link_ttl
        sig = self.st.sign(aid, expires)
        loc = "%s/asset/%d?expires=%d&sig=%s" % (self.host(self.server.ports["storage"]), aid, expires, sig)
        self.send_json(302, None, {"Location": loc})

    def web(self, parts):
        """github.com pages: /O/R/releases/download/TAG/NAME and /tag/TAG."""
        repo = parts[0] + "/" + parts[1]
        with self.st.lock:
            rels = self.st.repos.get(repo)
            if rels is None:
                return self.error(404, "Not Found")
            if parts[3] == "download" and len(parts) == 6:
                rel = next((r for r in rels if r["tag_name"] == parts[4] and not r["draft"]), None)
                a = rel and next((x for x in rel["assets"] if x["name"] == parts[5]), None)
                if not a:
                    return self.error(404, "Not Found")
                aid = a["id"]
            elif parts[3] == "tag" and len(parts) == 5:
                rel = next((r for r in rels if r["tag_name"] == parts[4] and not r["draft"]), None)
                if not rel:
                    return self.error(404, "Not Found")
                html = "<html><body>" + "".join(
                    '<a href="/%s/releases/download/%s/%s">%s</a>' % (repo, rel["tag_name"], a["name"], a["name"])
                    for a in rel["assets"]) + "</body></html>"
                body = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                return
            else:
                return self.error(404, "Not Found")
        self.redirect_to_storage(aid)

    def admin(self, what, q):
        st = self.st
        with st.lock:
            if self.send_log(what):
                return
        if what == "counts":
            with st.lock:
                return self.send_json(200, dict(st.counts))
        if what == "state":
            with st.lock:
                return self.send_json(200, {r: [self.release_json(r, x) for x in rels] for r, rels in st.repos.items()})
        if what == "config":
            with st.lock:
                configure(st, q, {
                    "ratelimit_remaining": ("remaining", int),
                    "ratelimit_reset_in": ("reset_at", seconds_from_now),
                    "per_page_max": ("per_page_max", int),
                    "list_fault": ("list_fault", str),
                    "digest": ("digest", switch),
                    "drop_after": ("drop_after", lambda v: int(v) if v else None),
                    "drop_count": ("drop_count", int),
                    "link_ttl": ("link_ttl", int),
                    "secondary_limit": ("secondary", int),
                    "secondary_bare": ("secondary_bare", int),
                    "anon_budget": ("anon_limit", int),
                    "anon_reset_in": ("anon_reset_at", seconds_from_now),
                    "max_assets": ("max_assets", int),
                })
                if "anon_budget" in q:
                    st.anon_remaining = st.anon_limit
            return self.send_json(200, {"ok": True})
        if what == "release":
            with st.lock:
                rel = st.add_release(q["repo"], q["tag"], q.get("draft") == "1")
                return self.send_json(200, {"id": rel["id"]})
        if what == "block":
            with st.lock:
                rel = next(r for r in st.repos[q["repo"]] if r["tag_name"] == q["tag"])
                rel.setdefault("blocked", set()).add(q["name"])
            return self.send_json(200, {"ok": True})
        if what == "asset":
            data = self.read_body()
            with st.lock:
                rel = next(r for r in st.repos[q["repo"]] if r["tag_name"] == q["tag"])
                a = add_asset(st, rel, q["name"], data)
                if q.get("digest") == "0":
                    a["no_digest"] = True
                return self.send_json(200, {"id": a["id"], "name": a["name"]})
        self.error(404, "no such admin endpoint")


def secondary_limit(handler):
    """A secondary rate limit as GitHub answers it: 403 (or 429) with
    requests left and, often, no Retry-After; the message and documentation
    link are the only sign (docs.github.com/en/rest/using-the-rest-api/
    rate-limits-for-the-rest-api, "About secondary rate limits";
    go-github's CheckResponse tells them apart by that link)."""
    return handler.error(
        403,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
        "again. If you reach out to GitHub Support for help, please include the request ID "
        "0000:FAKE:0000.",
        doc="https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api"
            "#about-secondary-rate-limits",
    )


def seconds_from_now(value):
    """The epoch second `value` seconds from now (a rate limit's reset)."""
    return int(time.time()) + int(value)


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def add_asset(st, rel, name, data):
    aid = st.new_id()
    with open(st.asset_path(aid), "wb") as f:
        f.write(data)
    a = {"id": aid, "name": name, "size": len(data), "state": "uploaded",
         "sha256": hashlib.sha256(data).hexdigest(), "updated_at": now_iso()}
    rel["assets"].append(a)
    return a


def release_full(handler, cap):
    """GitHub's answer to an upload past the release's asset cap, as its
    users report it (osandov/drgn#521, gardenlinux/gardenlinux#4523):
    422 with errors[0] = {resource: ReleaseAsset, code: custom,
    field: file_count, message: "file_count limited to 1000 assets per release"}."""
    return handler.error(422, "Validation Failed", [{
        "resource": "ReleaseAsset", "code": "custom", "field": "file_count",
        "message": "file_count limited to %d assets per release" % cap}])


class UploadsHandler(Handler):
    def do_POST(self):
        path, q = self.parsed()
        st = self.st
        with st.lock:
            st.counts["uploads"] += 1
            bare = st.secondary_bare > 0
            if bare:
                st.secondary_bare -= 1
                st.counts["ratelimited"] += 1
        if bare:
            # Uploads are content-creating requests, the first to meet
            # secondary limits (about 80 a minute, 500 an hour).
            self.drain()
            return secondary_limit(self)
        who = self.auth()
        if who != "token":
            self.drain()
            return self.error(401, "Bad credentials" if who else "Requires authentication")
        parts = path.strip("/").split("/")
        if len(parts) != 6 or parts[0] != "repos" or parts[3] != "releases" or parts[5] != "assets":
            self.drain()
            return self.error(404, "Not Found")
        repo = parts[1] + "/" + parts[2]
        with st.lock:
            rel = st.find_release(repo, int(parts[4])) if parts[4].isdigit() else None
        if rel is None:
            self.drain()
            return self.error(404, "Not Found")
        if not q.get("name"):
            self.drain()
            return self.error(422, "Validation Failed", [{"resource": "ReleaseAsset", "code": "missing_field", "field": "name"}])
        name = sanitize(q["name"])
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0:
            self.drain()
            return self.error(422, "Validation Failed", [{"resource": "ReleaseAsset", "code": "custom", "field": "size", "message": "size must be greater than or equal to 1"}])
        with st.lock:
            taken = any(a["name"] == name for a in rel["assets"]) or name in rel.get("blocked", ())
            full = len(rel["assets"]) >= st.max_assets
        if taken:
            # Also for a name an unfinished upload holds, which no listing
            # shows (GitHub staff in cli/cli#4863).
            self.drain()
            return self.error(422, "Validation Failed", [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}])
        if full:
            self.drain()
            return release_full(self, st.max_assets)
        aid = st.new_id()
        h = hashlib.sha256()
        left = length
        with open(st.asset_path(aid), "wb") as f:
            while left > 0:
                got = self.rfile.read(min(left, CHUNK))
                if not got:
                    break
                f.write(got)
                h.update(got)
                left -= len(got)
        if left > 0:
            os.unlink(st.asset_path(aid))
            self.close_connection = True
            return
        a = {"id": aid, "name": name, "size": length, "state": "uploaded", "sha256": h.hexdigest(),
             "updated_at": now_iso()}
        with st.lock:
            if any(x["name"] == name for x in rel["assets"]):
                os.unlink(st.asset_path(aid))
                return self.error(422, "Validation Failed", [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}])
            if len(rel["assets"]) >= st.max_assets:
                os.unlink(st.asset_path(aid))
                return release_full(self, st.max_assets)
            rel["assets"].append(a)
            out = ApiHandler.asset_json(self, repo, rel, a)
        self.send_json(201, out)


class StorageHandler(Handler):
    def do_GET(self):
        self.serve()

    def do_HEAD(self):
        self.serve()

    def serve(self):
        path, q = self.parsed()
        st = self.st
        record = {"path": path, "headers": {k: v for k, v in self.headers.items()}}
        with st.lock:
            st.counts["storage"] += 1
            st.storage_log.append(record)
            if self.headers.get("Authorization") is not None:
                st.violations.append(record)
                bad = True
            else:
                bad = False
        if bad:
            return self.error(400, "Multiple auth mechanisms are not allowed")
        parts = path.strip("/").split("/")
        try:
            aid, expires = int(parts[1]), int(q.get("expires", "0"))
        except (IndexError, ValueError):
            return self.error(404, "Not Found")
        if not hmac.compare_digest(q.get("sig", ""), st.sign(aid, expires)) or expires < time.time():
            return self.error(403, "Request has expired")
        try:
            f = open(st.asset_path(aid), "rb")
        except FileNotFoundError:
            return self.error(404, "Not Found")
        with f:
            size = os.fstat(f.fileno()).st_size
            start, end, status = self.byte_range(size, suffixes=False)
            if status == 416:
                return
            length = end - start + 1
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            self.end_headers()
            if self.command == "HEAD":
                return
            with st.lock:
                drop = st.drop_after if st.drop_count > 0 else None
                if drop is not None:
                    st.drop_count -= 1
            self.send_file_body(f, start, length, drop)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--uploads-port", type=int, default=0)
    p.add_argument("--storage-port", type=int, default=0)
    p.add_argument("--token", default="")
    p.add_argument("--repo", action="append", default=[])
    p.add_argument("--release", action="append", default=[])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--max-assets", type=int, default=0)
    args = p.parse_args()
    if args.data_dir is None:
        import tempfile
        args.data_dir = tempfile.mkdtemp(prefix="fake-github-")
    os.makedirs(args.data_dir, exist_ok=True)
    state = State(args)
    servers = {
        "api": FakeServer(("127.0.0.1", args.port), ApiHandler, state, queue=128),
        "uploads": FakeServer(("127.0.0.1", args.uploads_port), UploadsHandler, state, queue=128),
        "storage": FakeServer(("127.0.0.1", args.storage_port), StorageHandler, state, queue=128),
    }
    ports = {k: s.server_address[1] for k, s in servers.items()}
    for s in servers.values():
        s.ports = ports
    serve(servers["api"], [servers["uploads"], servers["storage"]])


if __name__ == "__main__":
    main()
