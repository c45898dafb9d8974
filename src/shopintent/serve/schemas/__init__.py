"""Request and response bodies at the HTTP edge, one module per router."""
