from django.contrib import admin
from django.urls import include, path

from listening import views as listening_views
from socialdesk import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("health/", include("listening.urls")),
    path("webhooks/meta/", listening_views.meta_webhook, name="meta_webhook"),
    path("cases/", include("cases.urls")),
    path("qa/", include("qa.urls")),
    path("notifications/", include("notifications.urls")),
    # Before admin.site.urls: the admin's own sign-in form would bypass the login throttle.
    path("admin/login/", views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
]
