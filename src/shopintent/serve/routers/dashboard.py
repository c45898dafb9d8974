"""The dashboard page at ``/`` and the JSON it polls (``/v1/dashboard``).

The page and its static files are the package's own (no shop data), so they are
served without a key: a browser cannot attach a header to a page load, and a key
in a query string would end up in access logs and browser history. Every number
the page shows comes from ``/v1/dashboard``, which needs a read key — the page
sends the one it was given in its URL fragment (``/#key=…``, never sent to the
server) or typed into its key box, kept in the tab's ``sessionStorage`` — unless
the service runs with ``public_dashboard``.

What the page shows must be true to what is counted: score reasons come in
words with their value and direction (:mod:`shopintent.behaviour.reasons`),
the budget tile is the loaded decision engine's own daily cap beside what it
has reserved on the stream's current day (the day its cap is checked against),
and the event-type chart counts sessions with at least one event of each type.
Each model card shows the benchmark rows of the model the service has loaded,
picked by its model id (:mod:`shopintent.evaluation.results`), or says there
is no benchmark row for it — never the first (baseline) rows of a results file.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from shopintent import __version__
from shopintent.evaluation.results import benchmark_card
from shopintent.serve.auth import require_scope
from shopintent.serve.routers.deps import get_service
from shopintent.serve.service import Service

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
FAVICON = Path(__file__).resolve().parents[1] / "static" / "favicon.svg"
router = APIRouter(tags=["dashboard"])


def _budget(service: Service) -> dict[str, Any]:
    """The engine's daily budget and what it has reserved on the stream's current (UTC) day.

    ``None`` values while the engine is not loaded: there is no budget to show then.
    """
    slot = service.models["intervene"]
    if not slot.ready:
        return {"daily": None, "day": None, "spent": None}
    engine = slot.get()
    spent: dict[date, float] = dict(engine.ledger.spent)  # one copy: decisions keep adding days
    clock = service.state.clock()
    day = (datetime.fromtimestamp(clock, UTC).date() if clock
           else max(spent) if spent else None)
    return {"daily": float(slot.card["daily_budget"]), "day": day.isoformat() if day else None,
            "spent": round(spent.get(day, 0.0), 2) if day else 0.0}


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """The dashboard's icon, for clients that ask for it at the conventional path."""
    return FileResponse(FAVICON, media_type="image/svg+xml")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard(request: Request) -> HTMLResponse:
    """The live dashboard (data comes from ``/v1/dashboard`` every second)."""
    public = bool(request.app.state.access.public_dashboard)
    return TEMPLATES.TemplateResponse(request, "dashboard.html",
                                      {"version": __version__, "public_dashboard": public})


@router.get("/v1/dashboard", dependencies=[Depends(require_scope("read", public_dashboard=True))],
            responses={401: {}, 403: {}, 429: {}})
def dashboard_data(service: Service = Depends(get_service)) -> dict[str, Any]:
    """Everything the dashboard draws, in one snapshot."""
    sessions, missing = service.live_sessions(15)
    models = []
    for name, slot in service.models.items():
        card = slot.status()
        # the served model's own rows, picked by its id; none while it is not loaded
        results = service.config.resolved_results_dir(service.settings)
        card["benchmark"] = benchmark_card(results, card.get("model_id")) if slot.ready else None
        models.append(card)
    return {
        **service.stats.snapshot(),
        "live_sessions": service.state.count_live(),
        "clock": service.state.clock(),
        "sessions": sessions,
        "scores_unavailable": missing,
        "models": models,
        "budget": _budget(service),
        "risk": service.risk.summary_snapshot(),
        "stream": {"backend": service.source.backend, "pending": service.source.pending()},
    }
