"""An HTTP proxy in front of moto_server that answers as other S3 stores do.

moto answers like a plain AWS bucket, and it neither verifies Content-MD5
nor the flexible checksums (x-amz-checksum-*), which AWS does. This proxy
adds what the tests of annexa's S3 provider need (issue 13):

  (always)            verify Content-MD5 and x-amz-checksum-sha256 against
                      the body as AWS does: 400 InvalidDigest for a value
                      that is not a base64 digest, 400 BadDigest for one
                      that differs ("Checking object integrity", S3 guide).
  --corrupt           flip one byte of every PUT body before that check:
                      damage on the way, which the server must refuse.
  --kms               answer PUTs (objects and parts) as a bucket with SSE-KMS
                      default encryption does: an ETag that is not the MD5
                      of the content, and x-amz-server-side-encryption:
                      aws:kms (S3 guide, "Checking object integrity": ETags
                      of SSE-KMS objects are not MD5 digests).
  --etag-not-md5      the same ETag rewrite without saying why (a store whose
                      ETags are not MD5s, or damage: the client cannot tell).
  --no-flexible-checksums
                      refuse any request carrying x-amz-checksum-* or
                      x-amz-sdk-checksum-algorithm with 400 InvalidArgument,
                      as Google Cloud Storage's XML API does.
  --log FILE          one JSON line per request: method, path, query and the
                      checksum headers it carried, and the status answered.

Usage: python s3_store_proxy.py [--port P] --upstream http://127.0.0.1:M [flags]
Prints "READY <port>" once it listens (tests/it/support/fake.rs reads it).
Test-only: bodies are read whole (the tests send a few MiB).
"""

import argparse
import base64
import hashlib
import http.client
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOG_LOCK = threading.Lock()
# ETags we gave out for moto's: completions name parts by the ETags the
# client was given, so they are mapped back before moto sees them.
FAKE_ETAGS = {}
# Headers we relay ourselves (lengths change when bodies are rewritten).
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def error_xml(code, message):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>proxy</RequestId></Error>"
    ).encode()


def checksum_headers(headers):
    return {
        k.lower(): v
        for k, v in headers.items()
        if k.lower() == "content-md5"
        or k.lower().startswith("x-amz-checksum-")
        or k.lower() == "x-amz-sdk-checksum-algorithm"
    }


def verify(headers, body):
    """(code, message) of the error AWS would answer, or None."""
    for name, algorithm in (("content-md5", hashlib.md5), ("x-amz-checksum-sha256", hashlib.sha256)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except ValueError:
            return ("InvalidDigest", f"The {name} you specified was invalid.")
        if len(given) != algorithm().digest_size:
            return ("InvalidDigest", f"The {name} you specified was invalid.")
        if given != algorithm(body).digest():
            return ("BadDigest", f"The {name} you specified did not match what we received.")
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                chunk = self.rfile.read(size + 2)
                if size == 0:
                    return body
                body += chunk[:-2]
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def record(self, status):
        if not ARGS.log:
            return
        url = urllib.parse.urlsplit(self.path)
        line = json.dumps(
            {
                "method": self.command,
                "path": url.path,
                "query": url.query,
                "checksums": checksum_headers(self.headers),
                "status": status,
            }
        )
        with LOG_LOCK, open(ARGS.log, "a") as f:
            f.write(line + "\n")

    def answer(self, status, headers, body):
        self.record(status)
        self.send_response(status)
        length = str(len(body))
        for name, value in headers:
            if name.lower() not in HOP_HEADERS:
                self.send_header(name, value)
            elif name.lower() == "content-length" and self.command == "HEAD":
                length = value  # the object's size, without its bytes
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        body = self.read_body()
        if ARGS.no_flexible_checksums and any(
            k.lower().startswith("x-amz-checksum") or k.lower() == "x-amz-sdk-checksum-algorithm"
            for k in self.headers.keys()
        ):
            return self.answer(
                400,
                [("Content-Type", "application/xml")],
                error_xml("InvalidArgument", "Invalid argument: x-amz-checksum headers are not supported."),
            )
        if self.command == "PUT" and ARGS.corrupt and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        if self.command == "PUT":
            failed = verify({k.lower(): v for k, v in self.headers.items()}, body)
            if failed:
                return self.answer(400, [("Content-Type", "application/xml")], error_xml(*failed))
        if self.command == "POST" and "uploadId=" in self.path:
            for fake, real in list(FAKE_ETAGS.items()):
                body = body.replace(fake.encode(), real.encode())
        upstream = urllib.parse.urlsplit(ARGS.upstream)
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        response = conn.getresponse()
        reply = response.read()
        reply_headers = response.getheaders()
        conn.close()
        is_upload = self.command == "PUT" and "x-amz-copy-source" not in {
            k.lower() for k in self.headers.keys()
        }
        if is_upload and 200 <= response.status < 300 and (ARGS.kms or ARGS.etag_not_md5):
            # 32 hex digits, like an MD5, but not the content's.
            fake = hashlib.md5(b"sse-kms:" + body).hexdigest()
            for k, v in reply_headers:
                if k.lower() == "etag":
                    FAKE_ETAGS[fake] = v.strip('"')
            reply_headers = [(k, v) for k, v in reply_headers if k.lower() != "etag"]
            reply_headers.append(("ETag", f'"{fake}"'))
            if ARGS.kms:
                reply_headers = [
                    (k, v) for k, v in reply_headers if k.lower() != "x-amz-server-side-encryption"
                ]
                reply_headers.append(("x-amz-server-side-encryption", "aws:kms"))
        self.answer(response.status, reply_headers, reply)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--corrupt", action="store_true")
    parser.add_argument("--kms", action="store_true")
    parser.add_argument("--etag-not-md5", action="store_true")
    parser.add_argument("--no-flexible-checksums", action="store_true")
    parser.add_argument("--log")
    ARGS = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    print("READY %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
