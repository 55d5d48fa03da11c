"""Fetching the images attached to customers' posts into the desk's own storage.

The networks' CDN links expire, and a page that loaded them would tell the CDN who reads the
desk, so every image is fetched once and the pages show only the stored copy (cases:media).
The protocol, every transition conditional on the state it starts from:

1. ingest stores each image as a MentionMedia row, "pending" (cases.intake), and enqueues
   `fetch_media` for the page's rows once its transaction commits.
2. Claim: one UPDATE moves a due "pending" row (or a "fetching" one whose worker died: claimed
   longer ago than the task time limit) to "fetching", counting the attempt. No row: someone
   else has it, or it is done; nothing is fetched twice at once.
3. Download, refusing what the desk must never fetch: anything but HTTPS, a host off
   MEDIA_FETCH_HOSTS, an address that is private, loopback or otherwise not public (checked
   after DNS resolution and again on the connected socket, so a name that re-resolves cannot
   slip through), a redirect that breaks any of these, more than MEDIA_FETCH_MAX_BYTES
   (streamed: the download stops there), a body that is not a JPEG, PNG, GIF or WebP image
   by its first bytes (whatever the Content-Type says), and slow answers (MEDIA_FETCH_TIMEOUT
   per read, twice that in all). The simulator's origin (SIMULATOR_URL, tests and demo only)
   is the one exception, allowed over plain HTTP on its own address.
4. Store the bytes (and a thumbnail when Pillow is installed) through the default storage,
   then "fetching" → "fetched".
5. A refusal is final: "refused" with the reason the timeline shows. A failure that may pass
   (timeout, 5xx, 429, unreachable) puts the row back to "pending" with a later
   next_attempt_at, until MEDIA_FETCH_ATTEMPTS attempts, then "refused" with the last reason.
6. Beat's `fetch_waiting_media` enqueues the rows due again (retries, lost messages, dead
   workers): the database, not the broker, holds the work.
"""

import ipaddress
import logging
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatch
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from cases.models import MentionMedia

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
CHUNK = 64 * 1024
SWEEP_BATCH = 200
SWEEP_GRACE = timedelta(seconds=60)
RETRY_BACKOFF = (60, 300, 1800, 7200)  # seconds before attempts 2, 3, 4, 5...
THUMBNAIL_SIZE = (480, 480)
# The image types the desk stores, by their first bytes (RIFF....WEBP is checked apart).
MAGIC = {
    b"\xff\xd8\xff": ("image/jpeg", "jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", "png"),
    b"GIF87a": ("image/gif", "gif"),
    b"GIF89a": ("image/gif", "gif"),
}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
getaddrinfo = socket.getaddrinfo  # the DNS edge (tests answer for hosts they cannot resolve)


class Refused(Exception):
    """The image will not be fetched, ever: the message says why (shown to agents)."""


class PrivateAddress(Refused):
    """The address the image's host resolves or connects to is not a public one."""


class Unavailable(Exception):
    """The fetch failed in a way that may pass: try again later."""


@dataclass(frozen=True, slots=True)
class Download:
    content: bytes
    content_type: str
    extension: str


# ---- the task's work --------------------------------------------------------------------


def fetch_media(media_ids: list[int]) -> dict[str, int]:
    """Fetch each of `media_ids` that can be claimed; returns counts by outcome."""
    outcomes: dict[str, int] = {}
    for media_id in media_ids:
        outcome = fetch_one(media_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def fetch_one(media_id: int) -> str:
    """Claim one image, fetch and store it; "fetched", "refused", "retry" or "skipped"."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimed = MentionMedia.objects.filter(
        Q(state=MentionMedia.State.PENDING, next_attempt_at__lte=now)
        | Q(state=MentionMedia.State.FETCHING, claimed_at__lt=stale),
        pk=media_id,
    ).update(state=MentionMedia.State.FETCHING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return "skipped"
    media = MentionMedia.objects.get(pk=media_id)
    mine = MentionMedia.objects.filter(
        pk=media_id, state=MentionMedia.State.FETCHING, claimed_at=now
    )
    try:
        download = download_image(media.source_url)
    except Refused as exc:
        mine.update(state=MentionMedia.State.REFUSED, reason=_reason(exc), claimed_at=None)
        log.info("post image refused", extra={"media_id": media_id, "reason": str(exc)})
        return "refused"
    except Unavailable as exc:
        if media.attempts >= settings.MEDIA_FETCH_ATTEMPTS:
            reason = f"gave up after {media.attempts} attempts: {exc}"
            mine.update(state=MentionMedia.State.REFUSED, reason=_reason(reason), claimed_at=None)
            return "refused"
        wait = RETRY_BACKOFF[min(media.attempts, len(RETRY_BACKOFF)) - 1]
        mine.update(
            state=MentionMedia.State.PENDING,
            reason=_reason(exc),
            next_attempt_at=timezone.now() + timedelta(seconds=wait),
            claimed_at=None,
        )
        return "retry"
    return "fetched" if _store(media, download, mine) else "skipped"


def _store(media: MentionMedia, download: Download, mine) -> bool:
    """Save the file (and a thumbnail), then mark the row fetched if the claim is still ours."""
    folder = f"post-images/{media.created_at:%Y/%m}"
    name = default_storage.save(
        f"{folder}/{media.pk}.{download.extension}", ContentFile(download.content)
    )
    thumbnail = make_thumbnail(download.content)
    thumb_name = (
        default_storage.save(f"{folder}/{media.pk}-thumb.{thumbnail[1]}", ContentFile(thumbnail[0]))
        if thumbnail
        else ""
    )
    with transaction.atomic():
        done = mine.update(
            state=MentionMedia.State.FETCHED,
            file=name,
            thumbnail=thumb_name,
            content_type=download.content_type,
            size=len(download.content),
            reason="",
            fetched_at=timezone.now(),
            claimed_at=None,
        )
    if not done:  # taken over meanwhile (this worker was presumed dead): keep no orphan
        for stored in filter(None, (name, thumb_name)):
            default_storage.delete(stored)
    return bool(done)


def waiting_media(limit: int = SWEEP_BATCH) -> list[int]:
    """Rows due a fetch: pending and due, or left "fetching" by a worker that died."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    return list(
        MentionMedia.objects.filter(
            # A minute late: a new row's own message is on its way, not lost.
            Q(state=MentionMedia.State.PENDING, next_attempt_at__lte=now - SWEEP_GRACE)
            | Q(state=MentionMedia.State.FETCHING, claimed_at__lt=stale)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def do_refetch_media(media_ids: list[int]) -> int:
    """Give refused images another try (after a CDN outage, or a new MEDIA_FETCH_HOSTS): back
    to "pending" with their attempts reset, fetched once the caller's transaction commits.
    Images fetched or being fetched are left alone. Returns how many were reset."""
    from cases.tasks import fetch_media as fetch_task

    with transaction.atomic():
        ids = list(
            MentionMedia.objects.select_for_update()
            .filter(pk__in=media_ids, state=MentionMedia.State.REFUSED)
            .values_list("pk", flat=True)
        )
        MentionMedia.objects.filter(pk__in=ids).update(
            state=MentionMedia.State.PENDING, attempts=0, reason="", next_attempt_at=timezone.now()
        )
        for start in range(0, len(ids), 10):
            fetch_task.delay_on_commit(ids[start : start + 10])
    return len(ids)


def erase_media(mention_ids: list[int]) -> int:
    """Delete the stored images of these mentions, files and rows (a post deleted at the
    source takes its images with it). Returns how many images were erased."""
    rows = list(
        MentionMedia.objects.filter(mention_id__in=mention_ids).values_list(
            "pk", "file", "thumbnail"
        )
    )
    for _, *names in rows:
        for name in filter(None, names):
            default_storage.delete(name)
    MentionMedia.objects.filter(pk__in=[pk for pk, *_ in rows]).delete()
    return len(rows)


# ---- the download -----------------------------------------------------------------------


def download_image(url: str) -> Download:
    """The image at `url`, checked as the module docstring says; Refused or Unavailable."""
    deadline = time.monotonic() + 2 * settings.MEDIA_FETCH_TIMEOUT
    with _session() as session:
        for _ in range(MAX_REDIRECTS + 1):
            check_source_url(url)
            try:
                response = session.get(
                    url,
                    stream=True,
                    allow_redirects=False,
                    timeout=settings.MEDIA_FETCH_TIMEOUT,
                    headers={"Accept": "image/*", "User-Agent": "SocialDesk"},
                )
            except PrivateAddress as exc:
                raise Refused(str(exc)) from None
            except requests.RequestException as exc:
                raise Unavailable(f"the CDN could not be reached ({type(exc).__name__})") from None
            with response:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("Location", "")
                    if not location:
                        raise Refused("the CDN redirected nowhere")
                    url = urljoin(url, location)
                    continue
                return _read(response, deadline)
    raise Refused(f"more than {MAX_REDIRECTS} redirects")


def check_source_url(url: str) -> bool:
    """Refused unless `url` may be fetched; True when it is the simulator's (trusted) origin.

    HTTPS on the default port, a host on MEDIA_FETCH_HOSTS, no credentials in the URL, and a
    host whose every address is public.
    """
    parts = urlsplit(url)
    simulator = urlsplit(settings.SIMULATOR_URL) if settings.SIMULATOR_URL else None
    if simulator and (parts.scheme, parts.netloc) == (simulator.scheme, simulator.netloc):
        return True
    if parts.scheme != "https":
        raise Refused("only HTTPS addresses are fetched")
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.username or parts.password or parts.port not in (None, 443):
        raise Refused(f"the address of the image on {host or 'no host'} is not a plain CDN link")
    if not host or not any(_host_matches(host, allowed) for allowed in settings.MEDIA_FETCH_HOSTS):
        raise Refused(f"{host or 'no host'} is not a CDN the desk fetches from")
    for address in _resolve(host):
        _check_address(address)
    return False


def sniff(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) of an image by its first bytes, or None."""
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def make_thumbnail(content: bytes) -> tuple[bytes, str] | None:
    """A small copy for the timeline, or None without Pillow (the page scales the image)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    import io

    try:
        with Image.open(io.BytesIO(content)) as image:
            image.thumbnail(THUMBNAIL_SIZE)
            out = io.BytesIO()
            if image.mode not in ("RGB", "L"):
                image = image.convert("RGBA")
                image.save(out, "PNG")
                return out.getvalue(), "png"
            image.save(out, "JPEG", quality=85)
            return out.getvalue(), "jpg"
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _read(response: requests.Response, deadline: float) -> Download:
    if response.status_code == 429 or response.status_code >= 500:
        raise Unavailable(f"the CDN answered {response.status_code}")
    if response.status_code != 200:
        raise Refused(f"the CDN answered {response.status_code}")
    limit = settings.MEDIA_FETCH_MAX_BYTES
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(f"the image is larger than {_megabytes(limit)}")
    body = bytearray()
    try:
        for chunk in response.iter_content(CHUNK):
            body += chunk
            if len(body) > limit:
                raise Refused(f"the image is larger than {_megabytes(limit)}")
            if time.monotonic() > deadline:
                raise Unavailable("the CDN was too slow")
    except requests.RequestException as exc:
        raise Unavailable(f"the download broke off ({type(exc).__name__})") from None
    kind = sniff(bytes(body[:16]))
    if kind is None:
        raise Refused("not a JPEG, PNG, GIF or WebP image")
    return Download(bytes(body), *kind)


def _host_matches(host: str, allowed: str) -> bool:
    allowed = allowed.lower().strip()
    if allowed.startswith("*."):
        return host.endswith(allowed[1:]) and fnmatch(host, allowed)
    return host == allowed


def _resolve(host: str) -> list[str]:
    try:
        infos = getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    except OSError:
        raise Unavailable(f"{host} could not be resolved") from None
    return sorted({info[4][0] for info in infos})


def _check_address(address: str) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast:
        raise PrivateAddress("the image's host resolves to a private address")


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self):  # type: ignore[no-untyped-def]
        sock = super()._new_conn()
        try:
            _check_address(sock.getpeername()[0])
        except Refused:
            sock.close()
            raise
        return sock


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self):  # type: ignore[no-untyped-def]
        # Plain HTTP goes to the simulator only: the host and port SIMULATOR_URL names (a
        # name the operator chose, such as compose's "simulator", resolved as it is).
        simulator = urlsplit(settings.SIMULATOR_URL) if settings.SIMULATOR_URL else None
        if simulator is None or (self.host, self.port) != (
            simulator.hostname,
            simulator.port or 80,
        ):
            raise PrivateAddress("plain HTTP is fetched from the simulator only")
        return super()._new_conn()


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: the address checked is the one used
    adapter = _GuardedAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _megabytes(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):.3g} MB"
    return f"{limit / 1024:.3g} KB"


def _reason(exc: Exception | str) -> str:
    return str(exc)[: MentionMedia._meta.get_field("reason").max_length]
