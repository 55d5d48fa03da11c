"""The cases app's access helpers: fetch the object for this user, or raise (403, then 404).

Every view of cases/views/ calls one of these first (socialdesk/access.py: the user is signed
in by then). Everyone who reads cases (cases.view_case) reads the cases of their teams
(Case.objects.visible_to: 404 for another team's case, as for one that does not exist); the
permission a view names on top (cases.change_case, cases.add_reply...) is what the action needs.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from cases.models import Case, MentionMedia, Reply, SavedView
from cases.visibility import visible_q
from socialdesk.access import require_perm

READ = "cases.view_case"


def access_case(
    request: HttpRequest, case_id: int, perm: str = READ, *, cases: QuerySet[Case] | None = None
) -> Case:
    """The case with what the case page and the composer show about it (channel, customer,
    assignee); 403 without cases.view_case and `perm`, 404 if there is no such case.

    `cases` narrows what is loaded (the presence poll reads two columns).
    """
    require_perm(request, READ, perm)
    if cases is None:
        cases = Case.objects.select_related(
            "channel__team", "team", "customer", "assignee", "triage_decided_by"
        )
    return get_object_or_404(cases.filter(visible_q(request.user)), pk=case_id)


def access_reply(request: HttpRequest, reply_id: int, perm: str) -> Reply:
    """A reply with its case and channel, for a retry or an approval; 403 without `perm`, 404
    for no such reply or one on a case of another team."""
    require_perm(request, READ, perm)
    replies = Reply.objects.select_related("case", "case__channel", "author")
    return get_object_or_404(replies.filter(visible_q(request.user, "case__")), pk=reply_id)


def access_saved_view(request: HttpRequest, view_id: int) -> SavedView:
    """A saved view the user may delete: their own, or a shared one with the delete permission
    (403 otherwise); 404 for no such view."""
    require_perm(request, "cases.view_savedview")
    view = get_object_or_404(SavedView, pk=view_id)
    own = view.owner_id == request.user.pk
    shared = view.owner_id is None and request.user.has_perm("cases.delete_savedview")
    if not (own or shared):
        raise PermissionDenied("Only its owner may delete this view.")
    return view


def access_media(request: HttpRequest, media_id: int) -> MentionMedia:
    """A stored post image, for whoever may read its case (cases.view_case, and the case is
    one of their teams'); 403 without it, 404 if there is no such image or it was not fetched."""
    require_perm(request, READ)
    media = MentionMedia.objects.only(
        "file", "thumbnail", "content_type", "state", "mention_id"
    ).filter(visible_q(request.user, "mention__case__"))
    return get_object_or_404(media, pk=media_id, state=MentionMedia.State.FETCHED)
