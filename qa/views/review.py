"""review views."""

urlpatterns: list = []
