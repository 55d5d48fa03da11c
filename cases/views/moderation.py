"""Moderation from the case page: hide or show a customer's comment, delete one of the brand's
published replies, retry a change that failed (cases/moderation.py does the work).

Each is a POST from a form on the timeline that carries the case version it was rendered from,
applied through the case page's `_act` (row lock, version check), and answered like the other
case actions. The network call itself runs in a Celery task; the page shows the change under
way and refreshes when it is done.
"""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from cases import moderation
from cases.access import access_case
from cases.models import Moderation, Reply
from cases.views.case import _act, _updated
from listening.models import Mention
from socialdesk.params import parse_id

HIDE_PERM = "cases.hide_comment"
DELETE_PERM = "cases.delete_published_reply"
PERM_FOR = {
    Moderation.Action.HIDE: HIDE_PERM,
    Moderation.Action.UNHIDE: HIDE_PERM,
    Moderation.Action.DELETE: DELETE_PERM,
}


@require_POST
def comment_visibility(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST mention (a post of this case) and hidden=1 (hide) or 0 (show again)."""
    case = access_case(request, case_id, HIDE_PERM)
    mention = Mention.objects.filter(case=case, pk=parse_id(request.POST.get("mention"))).first()
    hidden = request.POST.get("hidden")
    if mention is None or hidden not in ("0", "1"):
        return _updated(request, case, error=gettext("Choose the comment to hide or show."))
    return _act(
        request,
        case,
        lambda: moderation.do_request_visibility(
            case, mention, hidden=hidden == "1", actor=request.user
        ),
    )


@require_POST
def delete_reply(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST reply (one of this case's published replies): delete it from the network."""
    case = access_case(request, case_id, DELETE_PERM)
    reply = Reply.objects.filter(case=case, pk=parse_id(request.POST.get("reply"))).first()
    if reply is None:
        return _updated(request, case, error=gettext("Choose the reply to delete."))
    return _act(
        request,
        case,
        lambda: moderation.do_request_reply_deletion(case, reply, actor=request.user),
    )


@require_POST
def retry_moderation(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST moderation (a failed change on this case): ask the network again. Retrying a
    deletion needs the permission to delete, as asking for it did."""
    case = access_case(request, case_id, "cases.change_case")
    row = (
        Moderation.objects.filter(case=case, pk=parse_id(request.POST.get("moderation")))
        .select_related("case__channel")
        .first()
    )
    if row is None:
        return _updated(request, case, error=gettext("Choose the change to retry."))
    if not request.user.has_perm(PERM_FOR[row.action]):
        raise PermissionDenied(gettext("Only someone who may make this change can retry it."))
    return _act(request, case, lambda: moderation.do_retry_moderation(row, actor=request.user))


urlpatterns = [
    path("<int:case_id>/comments/visibility/", comment_visibility, name="comment_visibility"),
    path("<int:case_id>/replies/delete/", delete_reply, name="delete_reply"),
    path("<int:case_id>/moderation/retry/", retry_moderation, name="retry_moderation"),
]
