"""Sign-in and sign-out, and the home redirect.

Sign-in throttling is django-axes (settings AXES_*, socialdesk/signin.py): its backend refuses
a locked-out account + address before the password is checked, and its middleware answers
with templates/registration/locked_out.html.
"""

from urllib.parse import urlencode

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, resolve_url
from django.utils.decorators import method_decorator


def home(request: HttpRequest) -> HttpResponse:
    """Each role lands where its work is: QA specialists (who score and work no case) on their
    review queue; agents, supervisors (who work the inbox and reach the dashboard from it) and
    admins on the inbox."""
    user = request.user
    if user.has_perm("qa.review_replies") and not user.has_perm("cases.work_inbox"):
        return redirect("qa:queue")
    return redirect("cases:list")


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@method_decorator(login_not_required, name="dispatch")
class LogoutView(auth_views.LogoutView):
    """Sign-out by POST only (Django's default): a link or an image cannot sign anyone out."""


@login_not_required
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's sign-in URL, routed through the desk's sign-in page.

    A signed-in user without admin access gets 403 rather than a sign-in loop.
    """
    if request.user.is_authenticated:
        raise PermissionDenied("Your account has no access to the admin.")
    target = request.GET.get("next") or resolve_url("admin:index")
    return HttpResponseRedirect(f"{resolve_url('login')}?{urlencode({'next': target})}")
