"""Structured log lines: `level logger message key=value ...`.

Pass context with `extra={"channel_id": ..., "case_id": ...}`; every extra key is printed.
"""

import logging

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
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
        return line
