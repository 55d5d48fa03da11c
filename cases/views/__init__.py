"""Views of the cases app, one module per screen: the inbox list, the case page, the composer."""
