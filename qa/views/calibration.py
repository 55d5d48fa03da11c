"""calibration views."""

urlpatterns: list = []
