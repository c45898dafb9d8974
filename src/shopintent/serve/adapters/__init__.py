"""Adapters from the service to the model packages (text, behaviour, recommend, intervene).

Each adapter imports its package lazily and loads the default model once. While
a package or its trained model is not there, the adapter raises
:class:`ModelUnavailable` with the reason, and the endpoint answers 503 with
it — the service never makes numbers up. A failed load is retried after a
while, so a model trained while the service runs is picked up.
"""

from shopintent.serve.adapters.base import ModelSlot, ModelUnavailable

__all__ = ["ModelSlot", "ModelUnavailable"]
