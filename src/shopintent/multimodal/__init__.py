"""Multimodal products: what a product photo and its title say, alone and together.

Why its own package and not inside ``recommend``: the image encoder, the
title/image heads, the contrastive text-to-image index and attribute filling
are product *understanding*, used by search (``GET /v1/search``), by catalogue
ingestion (``POST /v1/products``) and by recommendation alike. ``recommend``
only consumes the embeddings as side features for cold-start items
(``recommend/image_side.py``), so the dependency points one way:
recommend -> multimodal, never back.

Modules, one job each:

* :mod:`~shopintent.multimodal.images` — decode and check one image file (not an image, too large).
* :mod:`~shopintent.multimodal.encoder` — EfficientNet-Lite0 image encoder (trunk + head split).
* :mod:`~shopintent.multimodal.fashion` — loader of the real Fashion Product Images set.
* :mod:`~shopintent.multimodal.folder` — any folder of images + CSV of titles, bad files reported.
* :mod:`~shopintent.multimodal.cache` — frozen image embeddings computed once, keyed by data SHA-256.
* :mod:`~shopintent.multimodal.heads` — image-only, title-only, late- and early-fusion classifiers.
* :mod:`~shopintent.multimodal.finetune` — fine-tunes the encoder's last stage on cached features.
* :mod:`~shopintent.multimodal.contrastive` — CLIP-style projection for text -> image search.
* :mod:`~shopintent.multimodal.attributes` — fill missing catalogue fields from the image.
* :mod:`~shopintent.multimodal.evaluate` — the generic ``multimodal eval`` protocol.
"""
