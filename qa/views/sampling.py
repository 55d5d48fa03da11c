"""sampling views."""

urlpatterns: list = []
