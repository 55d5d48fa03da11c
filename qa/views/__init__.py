"""Views of the QA app, one module per screen family."""
