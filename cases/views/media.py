"""The images attached to customers' posts, as the desk stored them (cases.media).

Served only through this view, to users who may read cases: never from a public /media/ URL,
never hot-linked from the network's CDN. The bytes are the network's, so the answer is
locked down: the type the fetch sniffed, no sniffing by the browser, and a sandbox policy.
"""

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.urls import path
from django.views.decorators.http import require_GET

from cases.access import access_media


@require_GET
def media_file(request: HttpRequest, media_id: int, size: str = "full") -> FileResponse:
    """The stored image (`size` "full") or its thumbnail ("thumb": the image itself when no
    thumbnail was made)."""
    media = access_media(request, media_id)
    name = media.shown_file if size == "thumb" else media.file.name
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("The stored image is missing.") from None
    content_type = media.content_type if name == media.file.name else _type_of(name)
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=86400"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _type_of(name: str) -> str:
    return "image/png" if name.endswith(".png") else "image/jpeg"


urlpatterns = [
    path("media/<int:media_id>/", media_file, name="media"),
    path("media/<int:media_id>/thumb/", media_file, {"size": "thumb"}, name="media-thumb"),
]
