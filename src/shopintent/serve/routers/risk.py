"""``POST /v1/risk/transactions``: risk verdicts for payment-like records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from starlette.concurrency import run_in_threadpool

from shopintent.serve.routers.deps import get_service
from shopintent.serve.schemas.risk import TransactionBatch, TransactionVerdict, TransactionVerdicts
from shopintent.serve.service import Service

router = APIRouter(prefix="/v1/risk", tags=["risk"])


@router.post("/transactions", response_model=TransactionVerdicts, responses={401: {}, 403: {}, 422: {}, 503: {}})
async def post_transactions(payload: TransactionBatch | dict[str, Any] = Body(...),
                            service: Service = Depends(get_service)) -> TransactionVerdicts:
    """Score one record (a bare object) or many (``{"transactions": [...]}``) with the fraud model
    and the shop's rules: score, reasons, action per record. A malformed record is rejected with a
    reason naming the field and the rest are scored; verdicts go to the append-only verdict log and a
    ``hold`` to the webhook (docs/risk.md, Live)."""
    records = payload.transactions if isinstance(payload, TransactionBatch) else [payload]
    results = await run_in_threadpool(service.risk.score_transactions, service.models["risk"], records)
    out = [TransactionVerdict(**{k: v for k, v in r.items() if k in TransactionVerdict.model_fields})
           for r in results]
    return TransactionVerdicts(scored=sum(r.status == "scored" for r in out),
                               rejected=sum(r.status == "rejected" for r in out),
                               held=sum(r.action == "hold" for r in out), results=out)
