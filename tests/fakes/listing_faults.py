"""Faults of API listings, shared by the fake services (stdlib only).

A fake sets one with `POST /_fake/config?list_fault=KIND` (empty: none);
every paged listing it serves then misbehaves as a broken server or a proxy
in front of one would:

    repeat         each page is answered with the page before it (page 2
                   brings page 1 again; a `Link` next names the same page)
    ignore_offset  offset/page parameters are ignored: every page is the
                   first
    stall          headers and the start of the body, then nothing for
                   STALL_SECONDS
    huge           a 200 with no length whose body goes on for HUGE_BYTES

The client must end each listing in bounded time and memory with a clear
error (issue 18 item 4, tests/conformance.rs `listing_faults`).
"""

import time

KINDS = ("repeat", "ignore_offset", "stall", "huge")
STALL_SECONDS = 30
HUGE_BYTES = 100 << 20


def page_index(fault, index):
    """The 0-based page to serve when asked for page `index` (0-based)."""
    if fault == "ignore_offset":
        return 0
    if fault == "repeat":
        return max(0, index - 1)
    return index


def send_body_fault(handler, fault):
    """Answers with a stalled or endless body when `fault` says so, and
    returns True; else sends nothing and returns False."""
    if fault not in ("stall", "huge"):
        return False
    handler.close_connection = True
    try:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if fault == "stall":
            handler.send_header("Content-Length", "100000")
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(b'[{"id": 1, "name": "a')
        handler.wfile.flush()
        if fault == "stall":
            time.sleep(STALL_SECONDS)
            return True
        chunk = b" " * (1 << 20)
        for _ in range(HUGE_BYTES // len(chunk)):
            handler.wfile.write(chunk)
        handler.wfile.write(b"]")
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass
    return True
