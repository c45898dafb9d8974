"""Where the default text models live in a state folder (without importing them).

Why a module of its own: the service asks every few seconds whether its models are
prepared (``prepare.catalogue``), which only needs these paths; ``text.defaults``, which
trains the models, imports the estimators and scikit-learn. ``text.defaults`` re-exports all
of these.
"""

from __future__ import annotations

from pathlib import Path

from shopintent.settings import Settings

COMPONENTS = ("shop_intent", "sentiment", "ner_zh", "slots_en")
#: Folder (beside the defaults) of the fine-tuned shop-intent model waiting to replace the linear one.
SHOP_INTENT_CANDIDATE = "shop_intent_finetuned"


def models_dir(settings: Settings) -> Path:
    """Where the default text models of a state folder live."""
    return Path(settings.state_dir) / "text" / "models"


def model_path(settings: Settings, component: str) -> Path:
    """The folder of one default model."""
    if component not in COMPONENTS:
        raise ValueError(
            f"unknown text component {component!r}; choose one of {', '.join(COMPONENTS)}"
        )
    return models_dir(settings) / component


def candidate_path(settings: Settings) -> Path:
    """The folder of the fine-tuned shop-intent model (kept there, and copied over the default if better)."""
    return models_dir(settings) / SHOP_INTENT_CANDIDATE
