"""Webhook receiver for the alert tests: each POST body is written to a folder as one .json file, answered 204.

    /usr/bin/python3 webhook_sink.py PORT FOLDER
"""
import http.server
import itertools
import os
import sys
import time

counter = itertools.count(1)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        name = os.path.join(FOLDER, "%d-%05d.json" % (time.time_ns(), next(counter)))
        with open(name + ".tmp", "wb") as out:
            out.write(body)
        os.replace(name + ".tmp", name)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    PORT = int(sys.argv[1])
    FOLDER = sys.argv[2]
    os.makedirs(FOLDER, exist_ok=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
