"""A small real training round trip (index of real photos, saved and loaded) and the HTTP API with a real upload."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from shopintent.multimodal.cache import cached_embeddings, cached_trunk
from shopintent.multimodal.fashion import FashionData, folder_sha256
from shopintent.multimodal.index import ProductIndex
from shopintent.multimodal.live import index_dir
from shopintent.serve import ServeConfig, create_app
from shopintent.settings import Settings
from tests.multimodal.conftest import ROUND_TRIP_STEPS

API_KEY = "test-api-key-not-secret"
AUTH = {"X-API-Key": API_KEY}
KINDS = ("Tshirts", "Casual Shoes", "Watches")


@pytest.fixture(scope="module")
def real_index(fashion: FashionData, mm_state: Path) -> tuple[ProductIndex, FashionData]:
    """An index of 45 real products (15 T-shirts, 15 casual shoes, 15 watches), saved where the service looks."""
    picked = fashion.products[fashion.products["articleType"].isin(KINDS)].groupby("articleType").head(15)
    paths = [Path(p) for p in picked["path"]]
    sha = folder_sha256(paths)
    trunk, ok, _ = cached_trunk(paths, sha, mm_state)
    image = cached_embeddings(trunk, sha, mm_state)
    assert ok.all()
    index = ProductIndex.build(picked["id"].tolist(), picked["productDisplayName"].tolist(), image,
                               {"articleType": picked["articleType"].tolist()}, seed=0, state_dir=mm_state,
                               min_steps=ROUND_TRIP_STEPS)
    index.save(index_dir(mm_state))
    return index, fashion


def test_index_round_trip_keeps_search_and_attributes(real_index, mm_state: Path) -> None:  # type: ignore[no-untyped-def]
    index, fashion = real_index
    loaded = ProductIndex.load(index_dir(mm_state), state_dir=mm_state)
    assert loaded.ids == index.ids and loaded.titles == index.titles
    np.testing.assert_allclose(loaded.shared, index.shared, atol=1e-6)
    assert loaded.search("Men Watch", 5) == index.search("Men Watch", 5)
    row = index.titles.index(next(t for t in index.titles if "Watch" in t))
    assert index.ids[row] in [h["id"] for h in loaded.search(index.titles[row], 5)]  # a title finds its photo
    assert sum("Watch" in h["title"] for h in loaded.search("Men Watch", 5)) >= 3  # 15 of 45 by chance: 1.7
    # a photo the index never saw: a casual shoe outside the 45
    unseen = fashion.products[(fashion.products["articleType"] == "Casual Shoes")].iloc[40]
    embedding = loaded.embed_image_bytes(Path(unseen["path"]).read_bytes(), unseen["id"])
    assert loaded.attributes(embedding)["articleType"]["value"] == "Casual Shoes"
    similar = loaded.similar(index.ids[0], 5)
    assert index.ids[0] not in [h["id"] for h in similar]


def test_api_stores_a_real_uploaded_photo_and_finds_it_by_text(real_index, mm_state: Path,  # type: ignore[no-untyped-def]
                                                               session_settings: Settings) -> None:
    _, fashion = real_index
    settings = Settings(data_dir=session_settings.data_dir, state_dir=mm_state, allow_download=False,
                        pseudonym_key="test-key-not-secret-32-bytes-long!!")
    config = ServeConfig(store_path=":memory:", api_keys=(API_KEY,), train_missing=False)
    watch = fashion.products[fashion.products["articleType"] == "Watches"].iloc[30]
    photo = base64.b64encode(Path(watch["path"]).read_bytes()).decode()
    with TestClient(create_app(settings, config, load_models=False)) as client:
        response = client.post("/v1/products", headers=AUTH,
                               json={"id": "new-watch-1", "title": watch["productDisplayName"], "image_base64": photo})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["embedding_dim"] == 1280 and body["products"] == 46
        assert body["attributes"]["articleType"]["value"] == "Watches"
        assert 0.5 < body["attributes"]["articleType"]["confidence"] <= 1.0
        found = client.get("/v1/search", params={"q": "手表", "k": 10}, headers=AUTH)
        assert found.status_code == 200
        hits = found.json()["results"]
        # 16 of the 46 products are watches; the projection saw 45 English titles only, no Chinese
        assert len(hits) == 10 and "Watch" in hits[0]["title"] and sum("Watch" in h["title"] for h in hits[:3]) >= 2
        stored = client.get("/v1/products/new-watch-1/image", headers=AUTH)
        assert stored.status_code == 200 and stored.content == Path(watch["path"]).read_bytes()
        assert client.get("/v1/products/nope/image", headers=AUTH).status_code == 404
        page = client.get("/", headers=AUTH)
        assert 'id="product-search-form"' in page.text and "multimodal.js" in page.text
        bad = client.post("/v1/products", headers=AUTH, json={
            "id": "bad-1", "title": "x", "image_base64": base64.b64encode(b"not a photo").decode()})
        assert bad.status_code == 422 and "product 'bad-1' image: not an image file" in bad.text
        assert client.post("/v1/products", json={"id": "a", "title": "b", "image_base64": photo}).status_code == 401
