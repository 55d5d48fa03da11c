"""The engagement guidelines page: the desk's written guidelines and each network's terms.

Everyone who reads cases reads it; admins (cases.change_engagementguidelines) edit it here.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from cases.actions import do_update_guidelines
from cases.forms import GuidelinesForm
from cases.models import EngagementGuidelines
from listening.networks import POLICIES
from socialdesk.access import require_perm


def render_guidelines(body: str) -> SafeString:
    """The guidelines' plain text as HTML: escaped first, then structure from the lines.

    "# " starts a heading (h2), "## " a subheading (h3), "- " or "* " a list item; a blank line
    ends a paragraph or list; other lines join into paragraphs. No raw HTML ever passes.
    """
    html: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            html.append(f"<p>{' '.join(paragraph)}</p>")
            paragraph.clear()
        if items:
            html.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
            items.clear()

    for raw in body.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("## "):
            flush()
            html.append(f"<h3>{escape(line[3:].strip())}</h3>")
        elif line.startswith("# "):
            flush()
            html.append(f"<h2>{escape(line[2:].strip())}</h2>")
        elif line.startswith(("- ", "* ")):
            if paragraph:
                flush()
            items.append(escape(line[2:].strip()))
        elif items and raw.startswith(("  ", "\t")):
            items[-1] += " " + escape(line)  # an indented line continues the list item
        else:
            if items:
                flush()
            paragraph.append(escape(line))
    flush()
    return mark_safe("\n".join(html))  # every piece of text in it was escaped above


def current_guidelines() -> EngagementGuidelines | None:
    return EngagementGuidelines.objects.select_related("updated_by").order_by("pk").first()


@require_http_methods(["GET", "POST"])
def guidelines(request: HttpRequest) -> HttpResponse:
    """The engagement guidelines and each network's terms; admins edit them here."""
    require_perm(request, "cases.view_engagementguidelines")
    can_edit = request.user.has_perm("cases.change_engagementguidelines")
    if request.method == "POST" and not can_edit:
        raise PermissionDenied
    current = current_guidelines()
    if request.method == "POST":
        form = GuidelinesForm(request.POST)
        if form.is_valid():
            do_update_guidelines(form.cleaned_data["body"], editor=request.user)
            messages.success(request, gettext("Guidelines saved."))
            return HttpResponseRedirect(reverse("cases:guidelines"))
    else:
        form = GuidelinesForm(initial={"body": current.body if current else ""})
    context = {
        "guidelines": current,
        "guidelines_html": render_guidelines(current.body) if current else "",
        "policies": list(POLICIES.values()),
        "form": form if can_edit else None,
        "editing": request.method == "POST" or request.GET.get("edit") == "1",
    }
    return render(request, "cases/guidelines.html", context)


urlpatterns = [
    path("guidelines/", guidelines, name="guidelines"),
]
