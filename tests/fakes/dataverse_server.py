#!/usr/bin/env python3
"""A fake Dataverse installation for annexa's tests and demo (stdlib only).

Two HTTP servers on loopback:
- the API port speaks the parts of the native API and the data access API
  that annexa uses, with Dataverse's JSON envelopes
  ({"status":"OK","data":...} / {"status":"ERROR","message":...});
- the storage port plays the signed-URL object store that downloads are
  redirected to (303). It records every request's headers, and refuses and
  records any request that carries the API token, so tests can prove the
  token never left the API host.

Usage:
    dataverse_server.py --port 0 [--storage-port 0] [--token TOKEN]
        [--dataset doi:10.5072/FK2/TEST ...] [--rate-limit N/s]
        [--checksum MD5|SHA-1|SHA-256|SHA-512] [--max-page N]
        [--force-ingest] [--direct-download] [--version 6.1]
Prints "READY <api_port> <storage_port>" once both servers listen.

Test-only endpoints live under /_fake/ on the API port (no token needed):
    GET  /_fake/storage-log        requests the storage host received
    GET  /_fake/api-log            API requests (method, path, status)
    POST /_fake/reset-log
    POST /_fake/publish?persistentId=PID[&type=major|minor]
    POST /_fake/lock?persistentId=PID&type=Ingest[&seconds=S]
    POST /_fake/unlock?persistentId=PID
    POST /_fake/restrict?id=FILEID[&value=false]
    POST /_fake/guestbook?id=FILEID[&value=false]
    POST /_fake/config?rate_limit=N&drop_after=BYTES&drop_count=K&force_ingest=0|1&cut_delete=N
         &lock_after_upload=SECONDS (each add locks the dataset, EditInProgress)
         &bad_token_status=401|400 &readonly=0|1 (the token's user may not write)
         &list_fault=repeat|ignore_offset|stall|huge (tests/fakes/listing_faults.py:
         the version and file listings misbehave; empty: none) &max_page=N
    POST /_fake/dataset?persistentId=PID   creates an empty dataset
    POST /_fake/populate?persistentId=PID&count=N[&folders=F]  N small files,
         the same names in F folders
    POST /_fake/ingest?persistentId=PID&name=N[&directoryLabel=D]  body = CSV/TSV,
         added with tabular ingest even if the client would not ask for it
    GET  /_fake/state              datasets, versions and files as JSON

It answers as real installations do where that differs from the guides'
examples, each behaviour citing the IQSS/dataverse source or guide section
it follows: metadata updates answer text/plain, ZIP uploads are unpacked
into their members, changes to a locked dataset get 400/500, permission
failures are 401, the versions list has no totalCount.
--version X.Y emulates that Dataverse release where releases differ
(default: the newest, 6.11): before 6.2 a missing file is a 400 and the
file listing has no totalCount (and no orderCriteria); before 6.8 an empty
directoryLabel in a metadata update is ignored.

Large files are streamed to and from disk in chunks; nothing holds a whole
file in memory.
"""

import csv
import hashlib
import hmac
import io
import json
import mmap
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import zipfile

import listing_faults  # next to this script
from _fake_http import (CHUNK, LISTING_CONFIG, ApiError, FakeHandler, FakeServer, arguments, configure,
                        dispatching, serve)

FORBIDDEN_FILE_CHARS = set('/:*?"<>|;#')
FOLDER_RE = re.compile(r"^[A-Za-z0-9_\-. /\\]*$")
LOCK_MESSAGE = "Dataset cannot be edited due to dataset lock."
# What a change to a locked dataset is answered with (issue 13, item 3;
# Datasets.java addFileToDataset / AddReplaceFileHelper, Files.java
# deleteFileInDataset and updateFileMetadata): never 403.
ADD_LOCKED = (400, "Failed to add file to dataset.")
DELETE_LOCKED = (400, LOCK_MESSAGE)
METADATA_LOCKED = (500, "Internal server error: " + LOCK_MESSAGE)


# ---------------------------------------------------------------- the model


class DataFile:
    """The stored object; shared by every version that lists it."""

    def __init__(self, fid, path, size, checksum_type, checksum, content_type):
        self.id = fid
        self.path = path
        self.size = size
        self.checksum_type = checksum_type
        self.checksum = checksum
        self.content_type = content_type
        self.tabular = False
        self.orig_path = None
        self.orig_size = None
        self.orig_format = None
        self.orig_name = None
        self.restricted = False
        self.guestbook = False
        self.pid = None
        self.destroyed = False

    def to_json(self, label):
        d = {
            "id": self.id,
            "persistentId": self.pid or "",
            "filename": label,
            "contentType": self.content_type,
            "filesize": self.size,
            "storageIdentifier": "file://%x" % (self.id * 7919),
            "rootDataFileId": -1,
            "checksum": {"type": self.checksum_type, "value": self.checksum},
            "tabularData": self.tabular,
            "creationDate": "2026-01-01",
        }
        if self.checksum_type == "MD5":
            d["md5"] = self.checksum
        if self.tabular:
            d["originalFileFormat"] = self.orig_format
            d["originalFileSize"] = self.orig_size
            d["originalFileName"] = self.orig_name
            d["originalFormatLabel"] = "Comma Separated Values" if self.orig_format == "text/csv" else "Tab-Separated Values"
        if not d["persistentId"]:
            del d["persistentId"]  # Dataverse omits empty fields
        return d


class FileMeta:
    def __init__(self, datafile, label, directory, description=""):
        self.datafile = datafile
        self.label = label
        self.directory = directory
        self.description = description

    def copy(self):
        return FileMeta(self.datafile, self.label, self.directory, self.description)

    def to_json(self, version_id, version_number):
        d = {
            "label": self.label,
            "restricted": self.datafile.restricted,
            "version": version_number,
            "datasetVersionId": version_id,
            "dataFile": self.datafile.to_json(self.label),
        }
        if self.directory:
            d["directoryLabel"] = self.directory
        if self.description:
            d["description"] = self.description
        return d


class Version:
    def __init__(self, vid, files, major=None, minor=None):
        self.id = vid
        self.files = files
        self.major = major
        self.minor = minor

    @property
    def draft(self):
        return self.major is None

    def name(self):
        return "DRAFT" if self.draft else "%d.%d" % (self.major, self.minor)

    def to_json(self, ds, with_files=True):
        d = {
            "id": self.id,
            "datasetId": ds.id,
            "datasetPersistentId": ds.pid,
            "versionState": "DRAFT" if self.draft else "RELEASED",
            "lastUpdateTime": "2026-01-01T00:00:00Z",
        }
        if not self.draft:
            d["versionNumber"] = self.major
            d["versionMinorNumber"] = self.minor
        if with_files:
            d["files"] = [f.to_json(self.id, 1) for f in sorted_files(self.files)]
        return d


def sorted_files(files):
    return sorted(files, key=lambda f: (f.label.lower(), f.directory or ""))


class Dataset:
    def __init__(self, did, pid):
        self.id = did
        self.pid = pid
        self.published = []  # Version, oldest first
        self.draft = None
        self.locks = []  # (type, expires or None)

    def latest(self, authorized):
        if self.draft is not None and authorized:
            return self.draft
        return self.published[-1] if self.published else None

    def active_locks(self):
        now = time.time()
        self.locks = [(t, e) for (t, e) in self.locks if e is None or e > now]
        return self.locks


class State:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.dir = tempfile.mkdtemp(prefix="fake-dataverse-", dir=args.data_dir)
        self.token = args.token
        self.version = parse_version(args.version)
        self.checksum_type = args.checksum
        self.max_page = args.max_page
        self.force_ingest = args.force_ingest
        self.direct = args.direct_download
        self.url_ttl = args.url_ttl
        self.secret = os.urandom(16)
        self.next_id = 100
        self.datasets = {}
        self.files = {}
        self.storage_log = []
        self.violations = []
        self.api_log = []
        self.rate_limit = parse_rate(args.rate_limit)
        self.recent = []
        self.drop_after = None
        self.drop_count = 0
        self.lock_after_upload = 0.0  # seconds of EditInProgress after each add
        self.bad_token_status = 401
        self.readonly = False
        # The next N DELETEs happen but their answer is cut (headers and
        # half the JSON body, then the connection closes), as after a reset.
        self.cut_delete = 0
        self.list_fault = ""
        self.storage_port = None
        for pid in args.dataset:
            self.create_dataset(pid)

    def new_id(self):
        with self.lock:
            self.next_id += 1
            return self.next_id

    def create_dataset(self, pid):
        with self.lock:
            if pid not in self.datasets:
                self.datasets[pid] = Dataset(self.new_id(), pid)
            return self.datasets[pid]

    def rate_limited(self):
        if not self.rate_limit:
            return False
        with self.lock:
            now = time.time()
            self.recent = [t for t in self.recent if now - t < 1.0]
            if len(self.recent) >= self.rate_limit:
                return True
            self.recent.append(now)
            return False

    def sign(self, fid, variant, expires):
        msg = ("%s/%s/%d" % (fid, variant, expires)).encode()
        return hmac.new(self.secret, msg, hashlib.sha256).hexdigest()


NEWEST = "6.11"


def parse_version(text):
    major, _, minor = str(text).partition(".")
    return (int(major), int(minor or 0))


def parse_rate(text):
    if not text:
        return 0
    return int(str(text).split("/")[0])


# ----------------------------------------------------------- small helpers


def new_hasher(kind):
    return hashlib.new({"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}[kind])


def file_digest(path, kind):
    h = new_hasher(kind)
    with open(path, "rb") as f:
        while True:
            b = f.read(CHUNK)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def valid_file_name(name):
    return bool(name) and name.strip() == name and not any(c in FORBIDDEN_FILE_CHARS or ord(c) < 32 for c in name)


def clean_directory(label):
    """Dataverse's folder rules: allowed characters only, no leading '.',
    '-' or spaces in a segment, no empty segments."""
    if label is None:
        return ""
    label = label.replace("\\", "/")
    if not FOLDER_RE.match(label):
        raise ApiError(400, "Directory Name can only contain letters, digits, underscores (_), dashes (-), periods (.), slashes (/) and spaces.")
    parts = [p.lstrip(".- ").rstrip() for p in label.split("/")]
    return "/".join(p for p in parts if p)


def dedupe_label(label, directory, files, skip=None):
    taken = {f.label for f in files if (f.directory or "") == directory and f is not skip}
    if label not in taken:
        return label
    stem, dot, ext = label.rpartition(".")
    if not dot or not stem:
        stem, ext = label, ""
    n = 1
    while True:
        candidate = "%s-%d%s" % (stem, n, "." + ext if ext else "")
        if candidate not in taken:
            return candidate
        n += 1


def tabular_kind(name):
    low = name.lower()
    if low.endswith(".csv"):
        return "text/csv"
    if low.endswith(".tsv"):
        return "text/tab-separated-values"
    return None


def ingest(src, dest, fmt):
    """Converts CSV/TSV to Dataverse's archival .tab form: tab-separated,
    strings quoted, numbers bare. Streams row by row. Returns False when
    the content does not parse (ingest failure keeps the original)."""
    delimiter = "," if fmt == "text/csv" else "\t"
    try:
        with open(src, "r", encoding="utf-8", newline="") as fin, open(dest, "w", encoding="utf-8", newline="") as fout:
            width = None
            for row in csv.reader(fin, delimiter=delimiter, strict=True):
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    return False
                out = []
                for value in row:
                    if re.fullmatch(r"-?\d+(\.\d+)?", value):
                        out.append(value)
                    else:
                        out.append('"%s"' % value.replace('"', '\\"'))
                fout.write("\t".join(out) + "\n")
            return width is not None
    except (UnicodeDecodeError, csv.Error, ValueError):
        return False


# ------------------------------------------------------------ HTTP plumbing


class Handler(FakeHandler):
    server_version = "FakeDataverse"
    log_env = "FAKE_DATAVERSE_VERBOSE"
    log_prefix = "fake-dataverse"

    def send_json(self, status, obj, headers=None):
        if not getattr(self, "cut_reply", False):
            return super().send_json(status, obj, headers)
        # Headers and half the body, then the connection closes.
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True

    def ok(self, data, status=200, extra=None):
        obj = {"status": "OK", "data": data}
        obj.update(extra or {})
        self.send_json(status, obj)

    def error(self, status, message, headers=None):
        self.send_json(status, {"status": "ERROR", "message": message}, headers)

    def body_to_file(self):
        fd, path = tempfile.mkstemp(dir=self.st.dir, prefix="upload-")
        with os.fdopen(fd, "wb") as f:
            for b in self.body_reader():
                f.write(b)
        return path

    def serve_file(self, path, content_type, filename, extra_headers=None, drop=None):
        """GET/HEAD of a file with single-range support."""
        disposition = {"Content-Disposition": 'attachment; filename="%s"' % filename}
        self.send_file(path, content_type, {**disposition, **(extra_headers or {})}, drop)


# ---------------------------------------------------------------- storage


@dispatching("GET", "HEAD")
class StorageHandler(Handler):
    def dispatch(self):
        path, query = self.parsed()
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = {"method": self.command, "path": path, "headers": headers}
        st = self.st
        token = st.token
        leaked = "x-dataverse-key" in headers or any(
            token and token in v for v in headers.values()
        ) or (token and token in self.path)
        with st.lock:
            st.storage_log.append(entry)
            if leaked:
                st.violations.append(entry)
        if leaked:
            # A real store would answer 400 to an unexpected auth header.
            return self.error(400, "request carried a Dataverse API token to the storage host")
        m = re.fullmatch(r"/s/(\d+)/(stored|original)", path)
        if not m:
            return self.error(404, "no such object")
        fid, variant = int(m.group(1)), m.group(2)
        try:
            expires = int(query.get("expires", "0"))
        except ValueError:
            expires = 0
        if not hmac.compare_digest(query.get("sig", ""), st.sign(fid, variant, expires)):
            return self.error(403, "SignatureDoesNotMatch")
        if expires < time.time():
            return self.error(403, "Request has expired")
        df = st.files.get(fid)
        if df is None or df.destroyed:
            return self.error(404, "NoSuchKey")
        drop = None
        with st.lock:
            if st.drop_after is not None and st.drop_count > 0 and self.command == "GET":
                st.drop_count -= 1
                drop = st.drop_after
        if variant == "original" and df.tabular:
            self.serve_file(df.orig_path, df.orig_format, df.orig_name, drop=drop)
        else:
            self.serve_file(df.path, df.content_type, "file", drop=drop)


# -------------------------------------------------------------------- API


@dispatching("GET", "HEAD", "POST", "PUT", "DELETE")
class ApiHandler(Handler):
    def dispatch(self):
        path, query = self.parsed()
        status_box = {}
        self._logged = False
        self._log_path = path
        try:
            if path.startswith("/_fake/"):
                return self.admin(path, query)
            if self.st.rate_limited():
                self.drain()
                status_box["s"] = 429
                return self.error(429, "Too many requests. Slow down.")
            path = re.sub(r"^/api/v1/", "/api/", path)
            self._log_path = path
            with self.st.lock:
                self.cut_reply = self.command == "DELETE" and self.st.cut_delete > 0
                if self.cut_reply:
                    self.st.cut_delete -= 1
            self.authenticate(query)
            status_box["s"] = self.route(path, query) or 200
        except ApiError as e:
            self.drain()
            status_box["s"] = e.status
            self.error(e.status, e.message, e.headers)
        except BrokenPipeError:
            pass
        finally:
            if not self._logged:
                self.log_request_once(status_box.get("s", 200))

    def log_request_once(self, status):
        """Records this request in the API log, once. Called as the answer
        starts (see send_response), so a client that has the answer can
        count on its request being in the log."""
        self._logged = True
        with self.st.lock:
            self.st.api_log.append(
                {"method": self.command, "path": self._log_path, "status": status,
                 "token": self.user is not None if hasattr(self, "user") else False}
            )

    def send_response(self, code, message=None):
        if getattr(self, "_logged", True) is False:
            self.log_request_once(code)
        super().send_response(code, message)

    def authenticate(self, query):
        key = self.headers.get("X-Dataverse-key") or query.get("key")
        self.user = None
        if key is not None:
            if key != self.st.token:
                if self.st.bad_token_status == 400:
                    # Some releases name the token they did not find
                    # (issue 13, item 7): the client must scrub it.
                    raise ApiError(400, "User with token %s not found." % key)
                # ApiKeyAuthMechanism: "Bad API key".
                raise ApiError(401, "Bad API key")
            self.user = "@tester"

    def need_user(self):
        if self.user is None:
            raise ApiError(401, "User :guest is not permitted to perform requested action. Provide an API token (X-Dataverse-key).")

    def need_writer(self):
        """AbstractApiBean.permissionError: any permission failure is 401,
        with a valid token too."""
        self.need_user()
        if self.st.readonly:
            raise ApiError(401, "User %s is not permitted to perform requested action." % self.user)

    # -- lookups

    def dataset(self, ident, query):
        st = self.st
        if ident == ":persistentId":
            pid = query.get("persistentId", "")
            ds = st.datasets.get(pid)
            if ds is None:
                raise ApiError(404, "Dataset with Persistent ID %s not found." % pid)
        else:
            ds = next((d for d in st.datasets.values() if str(d.id) == ident), None)
            if ds is None:
                raise ApiError(404, "Dataset with ID %s not found." % ident)
        if not ds.published and self.user is None:
            # Unpublished datasets: a permission failure, 401
            # (AbstractApiBean.permissionError).
            raise ApiError(401, "User :guest is not permitted to perform requested action.")
        return ds

    def version(self, ds, name):
        if name == ":draft":
            if self.user is None or ds.draft is None:
                raise ApiError(404, "Dataset version :draft of dataset %d not found" % ds.id)
            return ds.draft
        if name == ":latest":
            v = ds.latest(self.user is not None)
        elif name == ":latest-published":
            v = ds.published[-1] if ds.published else None
        else:
            m = re.fullmatch(r"(\d+)(?:\.(\d+))?", name)
            v = None
            if m:
                major, minor = int(m.group(1)), int(m.group(2) or 0)
                v = next((x for x in ds.published if x.major == major and x.minor == minor), None)
        if v is None:
            raise ApiError(404, "Dataset version %s of dataset %d not found" % (name, ds.id))
        return v

    def missing_file(self, message, access):
        # 5.13-6.1 answer a missing file of the native API with 400 (Files.java
        # getFileData / findDataFileOrDie); 404 from 6.2. The access API: 404.
        if not access and self.st.version < (6, 2):
            return ApiError(400, "Error attempting get the requested data file.")
        return ApiError(404, message)

    def file_and_dataset(self, ident, query, access=False):
        """Finds a datafile by id or file PID, with its dataset and the
        newest file metadata this user may see."""
        st = self.st
        if ident == ":persistentId":
            pid = query.get("persistentId", "")
            df = next((f for f in st.files.values() if f.pid == pid), None)
            if df is None:
                raise self.missing_file("Datafile with Persistent ID %s not found." % pid, access)
        else:
            try:
                df = st.files.get(int(ident))
            except ValueError:
                df = None
            if df is None or df.destroyed:
                raise self.missing_file("File with ID %s not found." % ident, access)
        for ds in st.datasets.values():
            versions = list(reversed(ds.published))
            if ds.draft is not None and self.user is not None:
                versions.insert(0, ds.draft)
            for v in versions:
                for fm in v.files:
                    if fm.datafile is df:
                        return df, ds, v, fm
        raise self.missing_file("File with ID %s not found." % ident, access)

    def check_unlocked(self, ds, answer=ADD_LOCKED):
        if ds.active_locks():
            raise ApiError(*answer)

    def ensure_draft(self, ds):
        if ds.draft is None:
            files = [f.copy() for f in ds.published[-1].files] if ds.published else []
            ds.draft = Version(self.st.new_id(), files)
        return ds.draft

    # -- routes

    def route(self, path, query):
        st = self.st
        m = re.fullmatch(r"/api/info/version", path)
        if m:
            # native-api.rst "Show Dataverse Software Version and Build Number"
            return self.ok({"version": "%d.%d" % st.version, "build": "fake"})
        if path == "/api/users/:me":
            self.need_user()
            return self.ok({"identifier": "@tester", "displayName": "Test User", "superuser": False})
        m = re.fullmatch(r"/api/datasets/([^/]+)/?", path)
        if m and self.command == "GET":
            with st.lock:
                ds = self.dataset(m.group(1), query)
                v = ds.latest(self.user is not None)
                data = {"id": ds.id, "persistentUrl": "https://doi.org/" + ds.pid.split(":", 1)[-1],
                        "protocol": ds.pid.split(":", 1)[0], "identifier": ds.pid}
                if v is not None:
                    data["latestVersion"] = v.to_json(ds)
                return self.ok(data)
        listing = re.fullmatch(r"/api/datasets/[^/]+/versions(?:/[^/]+/files)?", path)
        if listing and self.command == "GET" and st.list_fault in ("stall", "huge"):
            # Outside the lock: the stall must hold up this answer only.
            listing_faults.send_body_fault(self, st.list_fault)
            return
        m = re.fullmatch(r"/api/datasets/([^/]+)/versions", path)
        if m and self.command == "GET":
            with st.lock:
                ds = self.dataset(m.group(1), query)
                versions = list(reversed(ds.published))
                if ds.draft is not None and self.user is not None:
                    versions.insert(0, ds.draft)
                with_files = query.get("excludeFiles", "false") != "true"
                offset, limit = self.paging(query, len(versions))
                data = [v.to_json(ds, with_files) for v in versions[offset:offset + limit]]
                # Datasets.java listVersions: never a totalCount.
                return self.ok(data)
        m = re.fullmatch(r"/api/datasets/([^/]+)/versions/([^/]+)", path)
        if m and self.command == "GET":
            with st.lock:
                ds = self.dataset(m.group(1), query)
                v = self.version(ds, m.group(2))
                return self.ok(v.to_json(ds, query.get("excludeFiles", "false") != "true"))
        m = re.fullmatch(r"/api/datasets/([^/]+)/versions/([^/]+)/files", path)
        if m and self.command == "GET":
            with st.lock:
                ds = self.dataset(m.group(1), query)
                v = self.version(ds, m.group(2))
                offset, limit = self.paging(query, len(files := list(v.files)))
                order = query.get("orderCriteria", "NameAZ")
                if st.version >= (6, 2) and order == "Oldest":
                    # native-api.rst "List Files in a Dataset" (6.2+):
                    # orderCriteria=Oldest, by creation (here: by id).
                    files.sort(key=lambda f: f.datafile.id)
                else:
                    # By label only (DatasetVersionFilesServiceBean, NameAZ):
                    # same-named files in different folders have no fixed
                    # order between requests; emulated by reversing the tie
                    # order on every other page.
                    flip = limit > 0 and (offset // limit) % 2 == 1
                    files.sort(key=lambda f: f.directory or "", reverse=flip)
                    files.sort(key=lambda f: f.label.lower())
                data = [f.to_json(v.id, 1) for f in files[offset:offset + limit]]
                # totalCount only from 6.2 (release notes 6.2, pagination).
                extra = {"totalCount": len(files)} if st.version >= (6, 2) else {}
                return self.ok(data, extra=extra)
        m = re.fullmatch(r"/api/datasets/([^/]+)/locks", path)
        if m and self.command == "GET":
            with st.lock:
                ds = self.dataset(m.group(1), query)
                return self.ok([{"lockType": t, "date": "2026-01-01T00:00:00Z", "user": "dataverseAdmin",
                                 "dataset": ds.pid} for (t, _) in ds.active_locks()])
        m = re.fullmatch(r"/api/datasets/([^/]+)/add", path)
        if m and self.command == "POST":
            self.need_writer()
            with st.lock:
                ds = self.dataset(m.group(1), query)
                self.check_unlocked(ds)
            return self.add_file(ds)
        m = re.fullmatch(r"/api/datasets/([^/]+)/actions/:publish", path)
        if m and self.command == "POST":
            self.need_user()
            with st.lock:
                ds = self.dataset(m.group(1), query)
                self.check_unlocked(ds)
                return self.publish(ds, query.get("type", "major"))
        m = re.fullmatch(r"/api/files/([^/]+)", path)
        if m and self.command == "GET":
            with st.lock:
                df, ds, v, fm = self.file_and_dataset(m.group(1), query)
                return self.ok(fm.to_json(v.id, 1))
        if m and self.command == "DELETE":
            self.need_writer()
            with st.lock:
                return self.delete_file(m.group(1), query)
        m = re.fullmatch(r"/api/files/([^/]+)/replace", path)
        if m and self.command == "POST":
            self.need_writer()
            return self.replace_file(m.group(1), query)
        m = re.fullmatch(r"/api/files/([^/]+)/metadata", path)
        if m and self.command == "POST":
            self.need_writer()
            return self.update_metadata(m.group(1), query)
        m = re.fullmatch(r"/api/access/datafile/([^/]+)", path)
        if m and self.command in ("GET", "HEAD"):
            return self.access(m.group(1), query)
        raise ApiError(404, "API endpoint does not exist on this server. Please check your code for typos, or consult our API guide at http://guides.dataverse.org.")

    def paging(self, query, total):
        try:
            offset = max(0, int(query.get("offset", "0")))
            limit = int(query.get("limit", str(total)))
        except ValueError:
            raise ApiError(400, "limit and offset must be integers")
        limit = max(0, min(limit, self.st.max_page))
        if limit > 0 and self.st.list_fault:
            offset = listing_faults.page_index(self.st.list_fault, offset // limit) * limit
        return offset, limit

    # -- uploads

    def read_multipart(self):
        """Parses a multipart/form-data body spooled to disk. Returns
        ({field: text}, (filename, path) or None)."""
        self._body_read = True
        ctype = self.headers.get("Content-Type", "")
        m = re.search(r'boundary="?([^";]+)"?', ctype)
        if not ctype.startswith("multipart/form-data") or not m:
            # Form-encoded jsonData is accepted for metadata updates.
            if ctype.startswith("application/x-www-form-urlencoded"):
                fields = dict(urllib.parse.parse_qsl(self.read_body().decode()))
                return fields, None
            raise ApiError(400, "Expected a multipart/form-data body")
        boundary = b"--" + m.group(1).encode()
        spool = self.body_to_file()
        fields, upload = {}, None
        try:
            size = os.path.getsize(spool)
            if size == 0:
                raise ApiError(400, "Empty request body")
            with open(spool, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                pos = mm.find(boundary)
                if pos < 0:
                    raise ApiError(400, "Malformed multipart body")
                while True:
                    pos += len(boundary)
                    if mm[pos:pos + 2] == b"--":
                        break
                    head_end = mm.find(b"\r\n\r\n", pos)
                    if head_end < 0:
                        raise ApiError(400, "Malformed multipart body")
                    head = mm[pos:head_end].decode("utf-8", "replace")
                    start = head_end + 4
                    nxt = mm.find(b"\r\n" + boundary, start)
                    if nxt < 0:
                        raise ApiError(400, "Malformed multipart body (no closing boundary)")
                    name = re.search(r'name="([^"]*)"', head)
                    fname = re.search(r'filename="([^"]*)"', head)
                    if fname is not None:
                        fd, part = tempfile.mkstemp(dir=self.st.dir, prefix="part-")
                        with os.fdopen(fd, "wb") as out:
                            p = start
                            while p < nxt:
                                q = min(nxt, p + CHUNK)
                                out.write(mm[p:q])
                                p = q
                        upload = (urllib.parse.unquote(fname.group(1)), part, name.group(1) if name else "file")
                    elif name is not None:
                        fields[name.group(1)] = mm[start:nxt].decode("utf-8", "replace")
                    pos = nxt + 2
        finally:
            os.unlink(spool)
        return fields, upload

    def json_data(self, fields):
        text = fields.get("jsonData")
        if not text:
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            raise ApiError(400, "Error parsing Json: jsonData is not valid JSON")
        if not isinstance(data, dict):
            raise ApiError(400, "Error parsing Json: jsonData must be an object")
        return data

    def store_upload(self, name, part, meta):
        """Turns an uploaded part into a DataFile, ingesting CSV/TSV."""
        st = self.st
        fid = st.new_id()
        final = os.path.join(st.dir, "df-%d" % fid)
        os.replace(part, final)
        size = os.path.getsize(final)
        checksum = file_digest(final, st.checksum_type)
        fmt = tabular_kind(name)
        df = DataFile(fid, final, size, st.checksum_type, checksum, fmt or "application/octet-stream")
        want_ingest = meta.get("tabIngest", True) not in (False, "false")
        if fmt and (want_ingest or st.force_ingest):
            tab = final + ".tab"
            if ingest(final, tab, fmt):
                df.tabular = True
                df.orig_path, df.orig_size, df.orig_format, df.orig_name = final, size, fmt, name
                df.path, df.size = tab, os.path.getsize(tab)
                df.content_type = "text/tab-separated-values"
                name = name.rsplit(".", 1)[0] + ".tab"
            elif os.path.exists(tab):
                os.unlink(tab)
        return df, name

    def unpack_zip(self, part, directory):
        """IngestServiceBean / FileUtil.createDataFiles: a ZIP upload becomes
        its members (one level: a ZIP inside stays a ZIP), each named by its
        entry, its entry folder added to directoryLabel. Returns
        [(name, directory, path)], or None if the upload is not a ZIP."""
        with open(part, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                return None
        try:
            zf = zipfile.ZipFile(part)
        except zipfile.BadZipFile:
            return None
        out = []
        with zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                folder, _, name = info.filename.rpartition("/")
                fd, path = tempfile.mkstemp(dir=self.st.dir, prefix="member-")
                with os.fdopen(fd, "wb") as dst, zf.open(info) as src:
                    shutil.copyfileobj(src, dst, CHUNK)
                out.append((name, clean_directory("/".join(p for p in (directory, folder) if p)), path))
        os.unlink(part)
        return out

    def add_file(self, ds, forced_name=None, forced_ingest=False):
        fields, upload = self.read_multipart()
        if upload is None:
            raise ApiError(400, "A file must be sent in the 'file' field of the multipart body.")
        name, part, _ = upload
        meta = self.json_data(fields)
        if forced_ingest:
            meta["tabIngest"] = True
        name = meta.get("label") or forced_name or name
        if not valid_file_name(name):
            os.unlink(part)
            raise ApiError(400, "Invalid file name %r: names cannot contain / : * ? \" < > | ; # or start or end with whitespace." % name)
        try:
            directory = clean_directory(meta.get("directoryLabel"))
        except ApiError:
            os.unlink(part)
            raise
        members = self.unpack_zip(part, directory)
        if members is None:
            members = [(name, directory, part)]
        stored = [(self.store_upload(n, p, meta), d) for (n, d, p) in members]
        with self.st.lock:
            if ds.active_locks():
                for (df, _), _ in stored:
                    os.unlink(df.path)
                raise ApiError(*ADD_LOCKED)
            if self.st.lock_after_upload:
                # Real installations lock a dataset while they process an
                # upload (EditInProgress): other writes meanwhile are refused.
                ds.locks.append(("EditInProgress", time.time() + self.st.lock_after_upload))
            draft = self.ensure_draft(ds)
            answer = []
            for (df, name), directory in stored:
                label = dedupe_label(name, directory, draft.files)
                df.restricted = bool(meta.get("restrict", False))
                fm = FileMeta(df, label, directory, meta.get("description", ""))
                draft.files.append(fm)
                self.st.files[df.id] = df
                answer.append(fm.to_json(draft.id, 1))
            return self.ok({"files": answer})

    def replace_file(self, ident, query):
        st = self.st
        with st.lock:
            old, ds, v, fm = self.file_and_dataset(ident, query)
            self.check_unlocked(ds)
        fields, upload = self.read_multipart()
        if upload is None:
            raise ApiError(400, "A file must be sent in the 'file' field of the multipart body.")
        name, part, _ = upload
        meta = self.json_data(fields)
        if file_digest(part, old.checksum_type) == old.checksum:
            os.unlink(part)
            raise ApiError(400, "Error! You may not replace a file with a file that has duplicate content.")
        name = meta.get("label") or name
        if not valid_file_name(name):
            os.unlink(part)
            raise ApiError(400, "Invalid file name %r" % name)
        directory = clean_directory(meta.get("directoryLabel"))  # not carried over
        members = self.unpack_zip(part, directory)
        if members is not None:
            # AddReplaceFileHelper: a replacement must be one file.
            if len(members) != 1:
                for (_, _, p) in members:
                    os.unlink(p)
                raise ApiError(400, "A replacement file must be a single file; this ZIP has %d." % len(members))
            name, directory, part = members[0]
        df, name = self.store_upload(name, part, meta)
        with st.lock:
            draft = self.ensure_draft(ds)
            current = next((f for f in draft.files if f.datafile is old), None)
            if current is None:
                raise ApiError(400, "You cannot replace a file that is not in the latest version of the dataset.")
            draft.files.remove(current)
            self.forget_if_unpublished(ds, old)
            label = dedupe_label(name, directory, draft.files)
            new = FileMeta(df, label, directory, meta.get("description", ""))
            draft.files.append(new)
            st.files[df.id] = df
            return self.ok({"files": [new.to_json(draft.id, 1)]})

    def forget_if_unpublished(self, ds, df):
        published = any(fm.datafile is df for v in ds.published for fm in v.files)
        if not published:
            df.destroyed = True
            for p in (df.path, df.orig_path):
                if p and os.path.exists(p):
                    os.unlink(p)

    def delete_file(self, ident, query):
        df, ds, v, fm = self.file_and_dataset(ident, query)
        self.check_unlocked(ds, DELETE_LOCKED)
        draft = self.ensure_draft(ds)
        current = next((f for f in draft.files if f.datafile is df), None)
        if current is None:
            raise ApiError(404, "File %s is not in the draft version; only files of the draft can be deleted." % ident)
        draft.files.remove(current)
        self.forget_if_unpublished(ds, df)
        return self.ok({"message": "File %s deleted" % ident})

    def update_metadata(self, ident, query):
        st = self.st
        with st.lock:
            df, ds, v, fm = self.file_and_dataset(ident, query)
            self.check_unlocked(ds, METADATA_LOCKED)
        fields, upload = self.read_multipart()
        if upload is not None:
            os.unlink(upload[1])
        meta = self.json_data(fields)
        with st.lock:
            draft = self.ensure_draft(ds)
            current = next((f for f in draft.files if f.datafile is df), None)
            if current is None:
                raise ApiError(400, "File %s is not in the latest version of the dataset." % ident)
            label = meta.get("label", current.label)
            directory = current.directory
            # Before 6.8 an empty directoryLabel is ignored: the file stays in
            # its folder (release notes 6.8, "directoryLabel can be removed").
            if "directoryLabel" in meta and (meta["directoryLabel"] or st.version >= (6, 8)):
                directory = clean_directory(meta["directoryLabel"])
            if not valid_file_name(label):
                raise ApiError(400, "Invalid file name %r" % label)
            clash = any(f is not current and f.label == label and (f.directory or "") == (directory or "")
                        for f in draft.files)
            if clash:
                raise ApiError(400, "Filename already exists at %s/%s" % (directory, label))
            current.label, current.directory = label, directory
            if "description" in meta:
                current.description = meta["description"]
            # Files.java updateFileMetadata: 200 text/plain, not an envelope,
            # in every release from 4.13 to 6.11.
            body = ("File Metadata update has been completed: " + json.dumps(
                {"label": current.label, "directoryLabel": current.directory or "", "id": df.id})).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return 200

    def publish(self, ds, kind):
        if ds.draft is None:
            raise ApiError(400, "Cannot publish: this dataset has no draft version.")
        if ds.published:
            last = ds.published[-1]
            major, minor = (last.major + 1, 0) if kind == "major" else (last.major, last.minor + 1)
        else:
            if kind == "minor":
                raise ApiError(403, "Cannot release as minor version. Re-try as major release.")
            major, minor = 1, 0
        v = ds.draft
        v.major, v.minor = major, minor
        ds.published.append(v)
        ds.draft = None
        for fm in v.files:
            if fm.datafile.pid is None:
                fm.datafile.pid = "%s/F%d" % (ds.pid, fm.datafile.id)
        return self.ok({"id": ds.id, "persistentId": ds.pid, "versionNumber": major, "versionMinorNumber": minor})

    # -- downloads

    def access(self, ident, query):
        st = self.st
        with st.lock:
            df, ds, v, fm = self.file_and_dataset(ident, query, access=True)
            if not v.draft and self.user is None and df.restricted:
                raise ApiError(403, "'/api/v1/access/datafile/%s' you are not authorized to access this object via this api endpoint. Please check your code for typos, or consult our API guide at http://guides.dataverse.org." % ident)
            if df.restricted and self.user is None:
                raise ApiError(403, "'/api/v1/access/datafile/%s' you are not authorized to access this object via this api endpoint." % ident)
            if df.guestbook:
                # Dataverse 6.9+ (IQSS/dataverse#12110) answers this way when no
                # guestbook response accompanies the request.
                raise ApiError(400, "Problem trying download with guestbook response on %s : Guestbook Response entry is required but not present (Name,Email)." % ds.pid)
        variant = "original" if query.get("format") == "original" and df.tabular else "stored"
        if st.direct:
            if variant == "original":
                return self.serve_file(df.orig_path, df.orig_format, df.orig_name)
            return self.serve_file(df.path, df.content_type, fm.label)
        expires = int(time.time()) + st.url_ttl
        sig = st.sign(df.id, variant, expires)
        location = "http://127.0.0.1:%d/s/%d/%s?expires=%d&sig=%s" % (st.storage_port, df.id, variant, expires, sig)
        self.send_response(303)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return 303

    # -- test-only endpoints

    def admin(self, path, query):
        st = self.st
        name = path[len("/_fake/"):]
        with st.lock:
            if self.send_log(name):
                return
            if name == "state":
                return self.send_json(200, self.dump_state())
            if name == "dataset":
                ds = st.create_dataset(query["persistentId"])
                return self.send_json(200, {"id": ds.id})
            if name == "populate":
                # count files of content "<i>\n": label f<i//folders>.txt in
                # folder d<i%folders>, so names repeat across folders.
                ds = st.datasets[query["persistentId"]]
                folders = int(query.get("folders", "3"))
                draft = self.ensure_draft(ds)
                for i in range(int(query["count"])):
                    fid = st.new_id()
                    path = os.path.join(st.dir, "df-%d" % fid)
                    with open(path, "wb") as f:
                        f.write(b"%d\n" % i)
                    df = DataFile(fid, path, os.path.getsize(path), st.checksum_type,
                                  file_digest(path, st.checksum_type), "text/plain")
                    draft.files.append(FileMeta(df, "f%04d.txt" % (i // folders), "d%d" % (i % folders)))
                    st.files[fid] = df
                return self.send_json(200, {"ok": True})
            if name == "config":
                if "drop_after" in query:
                    st.drop_count = int(query.get("drop_count", "1"))
                configure(st, query, {
                    **LISTING_CONFIG,
                    "rate_limit": ("rate_limit", parse_rate),
                    "drop_after": ("drop_after", int),
                    "lock_after_upload": ("lock_after_upload", float),
                    "bad_token_status": ("bad_token_status", int),
                    "cut_delete": ("cut_delete", int),
                    "readonly": ("readonly", truthy),
                    "force_ingest": ("force_ingest", truthy),
                })
                return self.send_json(200, {"ok": True})
        if name in ("publish", "lock", "unlock", "ingest"):
            self.user = "@admin"
            ds = st.datasets.get(query.get("persistentId", ""))
            if ds is None:
                return self.error(404, "no such dataset")
            if name == "ingest":
                return self.admin_ingest(ds, query)
            with st.lock:
                if name == "publish":
                    try:
                        return self.publish(ds, query.get("type", "major"))
                    except ApiError as e:
                        return self.error(e.status, e.message)
                if name == "lock":
                    seconds = query.get("seconds")
                    ds.locks.append((query.get("type", "EditInProgress"),
                                     time.time() + float(seconds) if seconds else None))
                else:
                    ds.locks = []
                return self.send_json(200, {"ok": True})
        if name in ("restrict", "guestbook"):
            with st.lock:
                df = st.files.get(int(query.get("id", "0")))
                if df is None:
                    return self.error(404, "no such file")
                value = query.get("value", "true") in ("1", "true", "yes")
                if name == "restrict":
                    df.restricted = value
                else:
                    df.guestbook = value
                return self.send_json(200, {"ok": True})
        return self.error(404, "unknown test endpoint")

    def admin_ingest(self, ds, query):
        part = self.body_to_file()
        self._body_read = True
        name = query.get("name", "table.csv")
        df, label = self.store_upload(name, part, {"tabIngest": True})
        with self.st.lock:
            draft = self.ensure_draft(ds)
            directory = clean_directory(query.get("directoryLabel"))
            label = dedupe_label(label, directory, draft.files)
            fm = FileMeta(df, label, directory)
            draft.files.append(fm)
            self.st.files[df.id] = df
            return self.ok({"files": [fm.to_json(draft.id, 1)]})

    def dump_state(self):
        out = {}
        for ds in self.st.datasets.values():
            versions = list(ds.published) + ([ds.draft] if ds.draft else [])
            out[ds.pid] = {
                "id": ds.id,
                "locks": [t for (t, _) in ds.active_locks()],
                "versions": [
                    {"version": v.name(),
                     "files": [{"id": f.datafile.id, "label": f.label, "directoryLabel": f.directory,
                                "size": f.datafile.size, "tabular": f.datafile.tabular}
                               for f in sorted_files(v.files)]}
                    for v in versions
                ],
            }
        return out


def truthy(value):
    """A switch of this fake's config: 1, true or yes."""
    return value in ("1", "true", "yes")


# ------------------------------------------------------------------- main


def main():
    p = arguments(__doc__)
    p.add_argument("--storage-port", type=int, default=0)
    p.add_argument("--token", default="fake-token-0123456789")
    p.add_argument("--dataset", action="append", default=[])
    p.add_argument("--rate-limit", default=None, help="N/s requests on the API port")
    p.add_argument("--checksum", default="MD5", choices=["MD5", "SHA-1", "SHA-256", "SHA-512"])
    p.add_argument("--max-page", type=int, default=1000, help="largest page a listing returns")
    p.add_argument("--force-ingest", action="store_true", help="ingest CSV/TSV even when tabIngest=false")
    p.add_argument("--direct-download", action="store_true", help="serve files from the API port (no 303)")
    p.add_argument("--url-ttl", type=int, default=3600)
    p.add_argument("--version", default=NEWEST, help="Dataverse release to emulate (6.1 and newer)")
    p.add_argument("--data-dir", default=None, help="where stored files go (a temp dir inside it)")
    args = p.parse_args()
    if not args.dataset:
        args.dataset = ["doi:10.5072/FK2/TESTDS"]
    state = State(args)
    storage = FakeServer((args.host, args.storage_port), StorageHandler, state)
    api = FakeServer((args.host, args.port), ApiHandler, state)
    state.storage_port = storage.server_address[1]
    serve(api, [storage], cleanup=lambda: shutil.rmtree(state.dir, ignore_errors=True))


if __name__ == "__main__":
    main()
