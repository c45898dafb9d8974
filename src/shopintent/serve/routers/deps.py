"""How a route reaches the running service."""

from __future__ import annotations

from fastapi import Request

from shopintent.serve.service import Service


async def get_service(request: Request) -> Service:
    """The :class:`Service` of the app handling this request.

    ``async`` although it never awaits: FastAPI runs a plain ``def`` dependency in
    its thread pool, a thread hop per request for one attribute read."""
    return request.app.state.service
