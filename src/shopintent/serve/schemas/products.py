"""Bodies of ``POST /v1/products`` and ``GET /v1/search``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ProductIn(BaseModel):
    """A catalogue product: id, title and its photo as base64 (JPEG, PNG, WebP …)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, pattern=r"^[\w.\-]+$", description="product id")
    title: str = Field(min_length=1, max_length=500, description="product title (PII scrubbed before storing)")
    image_base64: str = Field(min_length=1, description="the photo's bytes, base64-encoded")


class Attribute(BaseModel):
    """One attribute predicted from the photo alone."""

    value: str
    confidence: float = Field(description="the image head's probability of this value")


class ProductOut(BaseModel):
    """What was stored and what the photo says about the product."""

    id: str
    title: str
    embedding_dim: int
    attributes: dict[str, Attribute]
    products: int = Field(description="products now in the index")


class SearchHit(BaseModel):
    """One product found for a query."""

    id: str
    title: str
    score: float = Field(description="cosine similarity of query and photo in the shared space")


class SearchOut(BaseModel):
    """Products best matching a text query, best first."""

    query: str
    results: list[SearchHit]
