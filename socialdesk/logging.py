"""Structured log lines: `level logger message key=value ...`, with every secret scrubbed.

Pass context with `extra={"channel_id": ..., "case_id": ...}`; every extra key is printed.

Every record is scrubbed (socialdesk.scrub) when it is made, before any handler sees it:
urllib3 logs each request URL at DEBUG (facebook-sdk puts the Page token in it), and an
exception's text or traceback can quote one. `install_scrubbing` puts that in place for the
whole process (settings calls it); `ScrubFilter` does the same on the configured handlers, for
records made before it or by a library with its own record factory.
"""

import logging
import traceback
from typing import Any

from socialdesk.scrub import scrub

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Scrub `record` in place: its message, its extras and its exception text."""
    if getattr(record, "_scrubbed", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep what can be shown
        message = f"{record.msg} {record.args}"
    record.msg, record.args = scrub(message), ()
    for key, value in list(record.__dict__.items()):
        if key not in _STANDARD and isinstance(value, str):
            setattr(record, key, scrub(value))
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = scrub(record.exc_text)
        # Formatters would format exc_info again; the scrubbed text is all that is kept.
        record.exc_info = None
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
    record._scrubbed = True
    return record


class ScrubFilter(logging.Filter):
    """Scrubs every record passing the handler it is attached to; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


_installed = False


def install_scrubbing() -> None:
    """Scrub every log record of this process when it is made (idempotent)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def scrubbed_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub_record(make_record(*args, **kwargs))

    logging.setLogRecordFactory(scrubbed_record)
    _installed = True


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        extras = {
            k: v for k, v in record.__dict__.items() if k not in _STANDARD and k != "_scrubbed"
        }
        parts = [
            self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            record.levelname.lower(),
            record.name,
            repr(message) if " " in message else message,
        ]
        parts += [
            f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}"
            for key, value in sorted(extras.items())
        ]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        # Extras that are not strings (dicts, exceptions) are only turned into text here.
        return scrub(line)
