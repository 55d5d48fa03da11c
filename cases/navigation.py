"""Links between the inbox and the case page: back to the inbox with the filters the agent
came from, and the previous and next case in that inbox's order."""

from urllib.parse import urlencode

from django.http import QueryDict
from django.urls import reverse


def inbox_url(raw_from: str) -> str:
    """Back to the inbox with the filters it was opened from (re-encoded, never pasted raw)."""
    query = QueryDict(raw_from[:2000])
    encoded = urlencode([(k, v) for k, values in query.lists() for v in values])
    return reverse("cases:list") + (f"?{encoded}" if encoded else "")


def case_link(case_id: int | None, raw_from: str) -> str:
    """The case page, remembering the inbox filters it was reached from ("" for no case)."""
    if case_id is None:
        return ""
    url = reverse("cases:detail", args=[case_id])
    return f"{url}?{urlencode({'from': raw_from})}" if raw_from else url
