#!/usr/bin/env python3
"""A fault-injecting HTTP reverse proxy for trailproof's tests (Python stdlib only).

Listens on 127.0.0.1, forwards every request (method, path, query, headers, body) to
--upstream (the moto server) and injects a fault on a fraction of them:

  http500   HTTP 500 with an S3 error body (<Code>InternalError</Code>)
  http503   HTTP 503 with an S3 error body (<Code>SlowDown</Code>)
  reset     the connection is reset (RST) without any response; nothing is forwarded
  stall     --stall-seconds of silence, then the normal answer
  truncate  the upstream's status and headers with the full Content-Length, half of the
            body, then the connection is closed (a response without a body, e.g. to HEAD,
            is reset instead and counted as `reset`)

Which request gets which fault is decided by a hash of (--seed, method, path and query, how
many times that same request was seen before), never by thread timing: the same run of
requests gets the same faults, and a retry of a faulted request is a fresh draw.

  fault_proxy.py --upstream http://127.0.0.1:5000 [--rate 0.05] [--seed 1]
                 [--stall-seconds 2] [--only-get] [--max-seconds 600] [--port 0] [--verbose]

--only-get injects faults only into GET object requests (a key in the path, no list
query); without it any request may be faulted. The first line on stdout is `PORT=<n>`.
GET /__faults answers (never forwarded, never faulted) with JSON: the counts by kind, the
number of requests forwarded, and the faults injected (kind, method, target, attempt).
The proxy stops by itself after --max-seconds and on SIGTERM/SIGINT, and prints the counts
to stderr when it stops.
"""

import argparse
import hashlib
import http.client
import http.server
import json
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

KINDS = ("http500", "http503", "reset", "stall", "truncate")

# Not forwarded in either direction (RFC 9110 §7.6.1), plus the framing we redo ourselves.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}

# S3 list queries: a GET with one of these is a listing, not an object read.
LIST_PARAMS = {"list-type", "prefix", "delimiter", "continuation-token", "marker", "uploads", "versions"}

S3_ERRORS = {
    "http500": (500, "Internal Server Error", "InternalError",
                "We encountered an internal error. Please try again."),
    "http503": (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
}


class Faults:
    """The deterministic fault plan and the record of what was injected."""

    def __init__(self, rate, seed, only_get):
        self.rate = rate
        self.seed = seed
        self.only_get = only_get
        self.lock = threading.Lock()
        self.seen = {}
        self.counts = {k: 0 for k in KINDS}
        self.injected = []
        self.requests = 0

    def draw(self, method, target):
        """The fault for this request, or None."""
        with self.lock:
            self.requests += 1
            n = self.seen.get((method, target), 0)
            self.seen[(method, target)] = n + 1
        if self.only_get and not is_object_get(method, target):
            return None, n
        h = hashlib.sha256(f"{self.seed}|{method}|{target}|{n}".encode()).digest()
        u = int.from_bytes(h[:8], "big") / 2.0**64
        if u >= self.rate:
            return None, n
        return KINDS[int.from_bytes(h[8:12], "big") % len(KINDS)], n

    def record(self, kind, method, target, attempt):
        with self.lock:
            self.counts[kind] += 1
            if len(self.injected) < 100_000:
                self.injected.append(
                    {"kind": kind, "method": method, "target": target, "attempt": attempt}
                )

    def report(self):
        with self.lock:
            return {
                "counts": dict(self.counts),
                "total": sum(self.counts.values()),
                "requests": self.requests,
                "faults": list(self.injected),
            }


def is_object_get(method, target):
    """GET of an object: a key after the bucket in the (path-style) path, no list query."""
    if method != "GET":
        return False
    parts = urllib.parse.urlsplit(target)
    bucket, _, key = parts.path.lstrip("/").partition("/")
    if not bucket or not key:
        return False
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    return not (LIST_PARAMS & set(query))


def make_handler(upstream, faults, stall_seconds, verbose):
    up = urllib.parse.urlsplit(upstream)
    if up.scheme != "http" or not up.hostname:
        sys.exit(f"--upstream must be http://HOST[:PORT], not {upstream!r}")
    up_host, up_port = up.hostname, up.port or 80

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fault-proxy"
        sys_version = ""

        def log_message(self, fmt, *args):
            if verbose:
                sys.stderr.write("fault-proxy: " + (fmt % args) + "\n")

        def read_request_body(self):
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                body = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return bytes(body)
                    body += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def forward(self, body):
            """The upstream's (status, reason, headers, body) for this request."""
            conn = http.client.HTTPConnection(up_host, up_port, timeout=120)
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() in HOP_BY_HOP or name.lower() == "content-length":
                        continue
                    conn.putheader(name, value)
                if body or self.command in ("POST", "PUT", "PATCH"):
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body or None)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, resp.reason, resp.getheaders(), data
            finally:
                conn.close()

        def send_upstream(self, status, reason, headers, data, truncate=False):
            self.send_response_only(status, reason)
            head = self.command == "HEAD"
            for name, value in headers:
                lname = name.lower()
                if lname in HOP_BY_HOP:
                    continue
                if lname == "content-length" and not head:
                    continue
                self.send_header(name, value)
            if not head:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if head or not data:
                return
            if truncate:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                # FIN after half the body: the client sees the body end early.
                try:
                    self.connection.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            else:
                self.wfile.write(data)

        def reset(self):
            self.close_connection = True
            try:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
            except OSError:
                pass

        def send_s3_error(self, kind):
            status, reason, code, message = S3_ERRORS[kind]
            request_id = hashlib.sha256(f"{self.path}{time.time()}".encode()).hexdigest()[:16]
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{code}</Code><Message>{message}</Message>"
                f"<RequestId>{request_id}</RequestId></Error>"
            ).encode()
            self.send_response_only(status, reason)
            self.send_header("Content-Type", "application/xml")
            self.send_header("x-amz-request-id", request_id)
            if self.command == "HEAD":
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def serve_faults(self):
            body = json.dumps(faults.report()).encode()
            self.send_response_only(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def handle_any(self):
            body = self.read_request_body()
            if self.command == "GET" and self.path == "/__faults":
                self.serve_faults()
                return
            kind, attempt = faults.draw(self.command, self.path)
            if kind in ("http500", "http503"):
                faults.record(kind, self.command, self.path, attempt)
                self.send_s3_error(kind)
                return
            if kind == "reset":
                faults.record(kind, self.command, self.path, attempt)
                self.reset()
                return
            if kind == "stall":
                faults.record(kind, self.command, self.path, attempt)
                time.sleep(stall_seconds)
            try:
                status, reason, headers, data = self.forward(body)
            except (OSError, http.client.HTTPException) as e:
                self.send_error(502, f"upstream: {e}")
                return
            if kind == "truncate":
                if self.command == "HEAD" or len(data) < 2:
                    faults.record("reset", self.command, self.path, attempt)
                    self.reset()
                    return
                faults.record(kind, self.command, self.path, attempt)
                self.send_upstream(status, reason, headers, data, truncate=True)
                return
            self.send_upstream(status, reason, headers, data)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = handle_any

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--upstream", required=True, help="http://HOST:PORT to forward to")
    p.add_argument("--rate", type=float, default=0.05, help="fraction of requests faulted")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stall-seconds", type=float, default=2.0)
    p.add_argument("--only-get", action="store_true", help="fault only GET object requests")
    p.add_argument("--max-seconds", type=float, default=600.0, help="stop after this long")
    p.add_argument("--port", type=int, default=0, help="0: a free port")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = p.parse_args()
    if not 0.0 <= args.rate <= 1.0:
        p.error("--rate must be within [0, 1]")

    faults = Faults(args.rate, args.seed, args.only_get)
    handler = make_handler(args.upstream, faults, args.stall_seconds, args.verbose)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    why = ["stopped"]

    def stop(reason):
        why[0] = reason
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, lambda *_: stop("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: stop("SIGINT"))
    timer = threading.Timer(args.max_seconds, stop, args=("max-seconds reached",))
    timer.daemon = True
    timer.start()

    print(f"PORT={server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        timer.cancel()
        server.server_close()
        r = faults.report()
        counts = " ".join(f"{k}={v}" for k, v in r["counts"].items())
        sys.stderr.write(
            f"fault-proxy: {why[0]}; {r['requests']} requests, {r['total']} faults: {counts}\n"
        )
        sys.stderr.flush()


if __name__ == "__main__":
    main()
