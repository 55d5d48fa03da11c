"""coaching views."""

urlpatterns: list = []
