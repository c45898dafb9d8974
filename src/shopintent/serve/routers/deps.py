"""How a route reaches the running service."""

from __future__ import annotations

from fastapi import Request

from shopintent.serve.service import Service


def get_service(request: Request) -> Service:
    """The :class:`Service` of the app handling this request."""
    return request.app.state.service
