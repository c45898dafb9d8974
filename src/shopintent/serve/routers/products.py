"""``POST /v1/products`` (write): add a product photo + title; ``GET /v1/search`` (read): zh/en text -> products."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from shopintent.multimodal.images import ImageError
from shopintent.multimodal.live import NoProductIndex, ProductCatalogue
from shopintent.serve.schemas.products import ProductIn, ProductOut, SearchOut

router = APIRouter(prefix="/v1", tags=["products"])
#: Text search, registered with the read scope.
search_router = APIRouter(prefix="/v1", tags=["products"])


def _catalogue(request: Request) -> ProductCatalogue:
    """The app's catalogue, made on first use from the service's state folder."""
    state = request.app.state
    catalogue = getattr(state, "products", None)
    if catalogue is None:
        catalogue = ProductCatalogue(state.service.settings.state_dir)
        state.products = catalogue
    return catalogue


@router.post("/products", response_model=ProductOut, responses={422: {}, 503: {}})
async def post_product(body: ProductIn, request: Request) -> ProductOut:
    """Embed the photo, store the product in the search index and return the attributes
    (article type, colour, gender, usage …) predicted from the photo with their confidences."""
    try:
        image = base64.b64decode(body.image_base64, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, "image_base64: not valid base64") from None
    try:
        return ProductOut(**await run_in_threadpool(_catalogue(request).add, body.id, body.title, image))
    except ImageError as exc:
        raise HTTPException(422, f"image_base64: {exc}") from None
    except NoProductIndex as exc:
        raise HTTPException(503, str(exc)) from None


@search_router.get("/search", response_model=SearchOut, responses={422: {}, 503: {}})
async def get_search(request: Request, q: str = Query(..., min_length=1, max_length=300,
                                                      description="what the shopper wants, zh or en"),
                     k: int = Query(10, ge=1, le=100, description="how many products")) -> SearchOut:
    """Products whose photo best matches the text, best first, with scores."""
    try:
        hits = await run_in_threadpool(_catalogue(request).search, q, k)
    except NoProductIndex as exc:
        raise HTTPException(503, str(exc)) from None
    return SearchOut(query=q, results=hits)


@search_router.get("/products/{product_id}/image", response_class=FileResponse, responses={404: {}, 503: {}})
async def get_product_image(product_id: str, request: Request) -> FileResponse:
    """The product's photo as stored (the dashboard's search results show it)."""
    try:
        path = await run_in_threadpool(_catalogue(request).image, product_id)
    except NoProductIndex as exc:
        raise HTTPException(503, str(exc)) from None
    if path is None:
        raise HTTPException(404, f"product {product_id!r}: no photo stored")
    return FileResponse(path)
