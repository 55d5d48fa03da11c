"""One scrubber for every error text that can reach storage, a page, JSON or a log.

Network libraries put secrets in their error texts: facebook-sdk sends the Page token as
`access_token=` in the query string and a `requests` connection error quotes the whole URL;
urllib3 logs every URL at DEBUG; an OAuth answer or a header dump can carry a bearer token.
`scrub` removes

* the value of every query-string, form or JSON parameter whose name says secret
  (`access_token=`, `client_secret=`, `refresh_token=`, `code=`, `appsecret_proof=`,
  `"refresh_token": "..."`, ...),
* Authorization header values and `Bearer`/`Basic` credentials,
* the password in a URL (`scheme://user:password@host`),
* every credential value this process has decrypted or encrypted (`remember_secrets`, called
  by socialdesk.crypto), verbatim and URL-encoded, so a token echoed anywhere is caught too,
  and the desk's own secrets from settings (SECRET_KEY, CREDENTIALS_KEY, the SMTP password,
  HEALTH_MONITOR_TOKEN, the path of ALERT_WEBHOOK_URL).

It is applied where errors are made (ConnectorError), where they are stored (the fields below
and the writers of Channel.last_error, Reply.error and REPLY_FAILED events) and to every log
record (socialdesk.logging).
"""

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from django.conf import settings
from django.db import models

REDACTED = "[redacted]"

# Parameter names that hold a secret: *token*, *secret*, *password*, *key*, signatures and
# proofs, and OAuth's authorization `code`.
_NAME = r"(?:[\w.-]*(?:token|secret|passw(?:or)?d|passwd|proof|signature|key|verifier)s?|code)"
_VALUE_END = r"""\s'"&,;<>(){}\[\]#"""
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # access_token=VALUE in a URL, a form body or a message.
    (re.compile(rf"(?i)(?<![\w-])({_NAME}=)[^{_VALUE_END}]+"), rf"\1{REDACTED}"),
    # "access_token": "VALUE" and 'client_secret': 'VALUE' in JSON or a Python repr.
    (
        re.compile(rf"""(?i)(["']{_NAME}["']\s*:\s*["']?)[^{_VALUE_END}]+"""),
        rf"\1{REDACTED}",
    ),
    # Authorization: Bearer VALUE / 'Authorization': 'OAuth oauth_token="..."'.
    (
        re.compile(r"""(?i)((?:proxy-)?authorization["']?\s*[:=]\s*["']?)[^"'\r\n]+"""),
        rf"\1{REDACTED}",
    ),
    # "Bearer <token>" anywhere; a token has a digit, which keeps "basic authentication" readable.
    (
        re.compile(r"(?i)\b(bearer|basic)(\s+)(?=[\w.~+/=%-]*\d)[\w.~+/=%-]{8,}"),
        rf"\1\2{REDACTED}",
    ),
    # scheme://user:password@host
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@"), rf"\1{REDACTED}@"),
]

# Credential values seen by this process, newest last; bounded so a long-lived worker that
# reads many channels keeps the recent ones without growing for ever.
_KNOWN_LIMIT = 2048
_MIN_SECRET_LENGTH = 8  # shorter values (ids, flags) would blank out ordinary words
_known: dict[str, None] = {}
_SECRET_KEY = re.compile(r"(?i)token|secret|password|key|signature")


def remember_secrets(credentials: dict[str, Any]) -> None:
    """Remember the secret values of one channel's credentials, so `scrub` removes them."""
    for key, value in (credentials or {}).items():
        if isinstance(value, str) and len(value) >= _MIN_SECRET_LENGTH and _SECRET_KEY.search(key):
            _known.pop(value, None)
            _known[value] = None
    while len(_known) > _KNOWN_LIMIT:
        _known.pop(next(iter(_known)))


def scrub(text: Any, secrets: Iterable[str] = ()) -> str:
    """`text` as a string with every secret it holds replaced by "[redacted]".

    `secrets` adds values to remove besides the patterns and the remembered credentials.
    """
    if text is None:
        return ""
    result = text if isinstance(text, str) else str(text)
    if not result:
        return result
    known = (*secrets, *reversed(_known), *_settings_secrets())
    values = [s for s in known if isinstance(s, str) and len(s) >= _MIN_SECRET_LENGTH]
    for value in values:
        if value[:4] not in result and quote(value[:4], safe="") not in result:
            continue  # cheap pre-check: most texts hold none of the values
        for form in {value, quote(value, safe=""), quote_plus(value)}:
            result = result.replace(form, REDACTED)
    for pattern, replacement in _PATTERNS:
        result = pattern.sub(replacement, result)
    return result


def _settings_secrets() -> list[str]:
    """The desk's own secrets, as settings hold them now (none before settings are loaded)."""
    if not settings.configured:
        return []
    mailer = getattr(settings, "MAILERS", {}).get("default", {}).get("OPTIONS", {})
    webhook = getattr(settings, "ALERT_WEBHOOK_URL", "") or ""
    return [
        getattr(settings, "SECRET_KEY", ""),
        *getattr(settings, "CREDENTIALS_KEYS", []),
        getattr(settings, "HEALTH_MONITOR_TOKEN", "") or "",
        mailer.get("password") or "",
        urlsplit(webhook).path if webhook else "",
    ]


def scrub_data(value: Any) -> Any:
    """`value` (JSON-like) with every string in it scrubbed."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: scrub_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_data(item) for item in value]
    return value


class ScrubbedTextField(models.TextField):
    """A TextField whose value is scrubbed on every write: save(), update() and bulk writes.

    For fields that hold error texts. It deconstructs as a plain TextField: the column is
    the same, so swapping it in needs no migration.
    """

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return scrub(value) if isinstance(value, str) else value

    def deconstruct(self) -> tuple[str, str, list[Any], dict[str, Any]]:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.TextField", args, kwargs


class ScrubbedJSONField(models.JSONField):
    """A JSONField whose error texts ("reason", "error") are scrubbed on every write.

    Only those keys: the rest of an event's data is the desk's own (labels, names, ids).
    """

    ERROR_KEYS = frozenset({"reason", "error"})

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            value = {
                key: scrub_data(item) if key in self.ERROR_KEYS else item
                for key, item in value.items()
            }
        return super().get_prep_value(value)

    def deconstruct(self) -> tuple[str, str, list[Any], dict[str, Any]]:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs
