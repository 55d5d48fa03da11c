from django.urls import path

from listening import views

app_name = "listening"
urlpatterns = [
    path("", views.health, name="health"),
    path("ping", views.ping, name="ping"),
    path("monitor", views.monitor, name="monitor"),
]
