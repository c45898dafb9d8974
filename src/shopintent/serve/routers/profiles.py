"""``GET /v1/users/{user_id}/profile`` (a shopper's profile, by the issued pseudonymous id: live,
kept current by the store sink, once a profile model is built; else the batch-built file) and
``GET /v1/fairness/live`` (intervention rates per shopper segment, for the dashboard's fairness panel)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, status

from shopintent.profile.build import ProfileCache, ProfileNotFound, ProfilesMissing, profile_record
from shopintent.serve.routers.deps import get_service
from shopintent.serve.schemas.profiles import ProfileOut
from shopintent.serve.service import Service

router = APIRouter(prefix="/v1", tags=["profiles"])
_CACHE = ProfileCache()


@router.get("/users/{user_id}/profile", response_model=ProfileOut, responses={404: {}, 503: {}})
def get_profile(user_id: str, service: Service = Depends(get_service)) -> ProfileOut:
    """The profile of a shopper addressed by the issued pseudonymous id (a client's own id is not looked up)."""
    live = service.profiles
    if live.enabled and live.current:
        try:
            return _out(live.record(user_id), "live")
        except ProfileNotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc.args[0])) from exc
    try:
        profiles = _CACHE.get(service.settings)
    except ProfilesMissing as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "no shopper profiles have been built: run `shopintent profile build`",
                            headers={"Retry-After": "60"}) from exc
    try:
        record = profile_record(profiles, user_id)
    except ProfileNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc.args[0])) from exc
    return _out(record, "batch")


def _out(record: dict[str, Any], source: str) -> ProfileOut:
    return ProfileOut(**{k: v for k, v in record.items() if k in ProfileOut.model_fields}, source=source)


@router.get("/fairness/live", tags=["fairness"])
def fairness_live(service: Service = Depends(get_service)) -> dict[str, Any]:
    """Intervention rate per shopper segment since start, the largest gap, and whether it passed the bound."""
    return service.fairness.snapshot()
