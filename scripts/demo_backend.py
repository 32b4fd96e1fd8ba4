#!/usr/bin/env python3
"""The demo's backend: answers every request with a short text showing what reached it."""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    """Replies 200 with the method, path, verdict headers and body size it received."""

    def _reply(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        text = (
            f"backend reached: {self.command} {self.path}\n"
            f"moat verdict: {self.headers.get('X-Moat-Action', '-')} "
            f"(score {self.headers.get('X-Moat-Score', '-')})\n"
            f"client location: {self.headers.get('X-Geo-Country', '-')} "
            f"{self.headers.get('X-Geo-City', '-')}\n"
            f"body bytes: {len(body)}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _reply

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    ThreadingHTTPServer((host, port), Echo).serve_forever()
