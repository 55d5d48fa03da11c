"""The demo desk `manage.py load_demo` builds, one module per area."""
