"""aiosmtpd handler for the alert tests: each message received is written to a folder as one .eml file.

Run with Debian's python:
    PYTHONPATH=<this folder> /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c smtp_sink.FolderSink <folder>
"""
import itertools
import os
import time


class FolderSink:
    def __init__(self, folder):
        self.folder = folder
        self.counter = itertools.count(1)
        os.makedirs(folder, exist_ok=True)

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("FolderSink takes one argument: the folder to write messages to")
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(self.folder, "%d-%05d.eml" % (time.time_ns(), next(self.counter)))
        # Written under a temporary name and renamed, so a reader never sees half a message.
        temporary = name + ".tmp"
        with open(temporary, "wb") as out:
            out.write(("X-Envelope-To: %s\r\n" % ", ".join(envelope.rcpt_tos)).encode("ascii"))
            out.write(envelope.original_content or envelope.content)
        os.replace(temporary, name)
        return "250 Message accepted for delivery"
