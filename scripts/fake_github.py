"""A tiny stand-in for GitHub's issues API, for scripts (the Rust tests have their own)."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ISSUES = [
    {
        "id": 1000 + n,
        "number": n,
        "title": f"Issue {n}",
        "body": f"Body of issue {n}",
        "state": "open" if n % 2 else "closed",
        "state_reason": None if n % 2 else "completed",
        "labels": [{"name": "Bug"}],
        "html_url": f"https://github.com/octo/repo/issues/{n}",
        "updated_at": f"2026-01-0{n}T00:00:00Z",
        "closed_at": None if n % 2 else f"2026-01-0{n}T00:00:00Z",
    }
    for n in range(1, 6)
]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if not self.path.startswith("/repos/octo/repo/issues"):
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps(ISSUES).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
