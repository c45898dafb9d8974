"""Body of ``GET /v1/users/{user_id}/profile``."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ProfileOut(BaseModel):
    """A shopper's profile (docs/fairness.md): live once a profile model is built, else the batch-built one."""

    user_id: str = Field(description="the pseudonymous id the service issued")
    segment: int = Field(description="K-means behaviour segment (recommend.segments)")
    top_categories: list[str]
    price_band: str = Field(description="low / mid / high by mean price; unknown when events carry no price")
    events: int
    sessions: int
    active_days: int
    first_seen: str
    last_seen: str
    recency_days: float = Field(description="days from the shopper's last event to the newest event profiled")
    sessions_per_day: float
    purchase_probability: float = Field(description="P(a purchase within the model's horizon)")
    churn_probability: float = Field(description="P(no event within the model's horizon)")
    last_intents: list[str] = Field(description="newest intent signals first: event type : category")
    n_purchase: int
    n_add_to_cart: int
    n_favourite: int
    source: str = Field("batch", description="live: folded in by the store sink as events are stored; "
                                             "batch: from the last `shopintent profile build`")
