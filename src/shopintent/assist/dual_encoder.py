"""A dual encoder fine-tuned on the shop's Q&A pairs with in-batch negatives (USE-multilingual in torch).

Why: frozen encoders were trained for sentence similarity, not for "does this
answer this question"; a question tower and an answer tower, both started
from USE-multilingual (``shopintent.text.use_torch``, zh + en) and trained so
each question scores its own answer above every other answer in the batch,
learn what a good answer looks like for this shop (the USE-QA / ConveRT
recipe).

What is trained: the top of USE — its output projection and three-layer DAN,
copied into two towers (~1.6 M parameters each). The piece embeddings and the
n-gram CNN stay frozen and shared, so their pooled output is computed once per
text and cached on disk (``use-pooled`` rows of the embedding cache): an epoch
over 18k pairs is then a few seconds of CPU, and scoring a new question costs
one USE forward pass.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from shopintent.assist.dense import DenseDocuments, DenseDocumentsState
from shopintent.assist.weights import module_arrays, prefixed_state
from shopintent.log import get_logger
from shopintent.settings import Settings
from shopintent.text.encoders import CachedEncoder, EmbeddingCache, _prepare, cache_path
from shopintent.text.use_torch import CNN_DIM, EMBED_DIM, ORDERS, USEModule, USETokenBatcher

log = get_logger(__name__)

POOLED_DIM = EMBED_DIM + CNN_DIM * len(ORDERS)
_HEAD_LAYERS = ("out_proj", "d0", "p1", "d1", "d2", "p3", "d3")
#: Torch threads while training the towers (restored afterwards).
TRAIN_THREADS = 1


class USEPooled:
    """The frozen lower part of USE: text → length-normalised pooled CNN features + piece count.

    ``encode`` returns ``(n, POOLED_DIM + 1)`` rows (last column: the number of
    pieces), the input :class:`USEHead` needs. Shaped like an encoder so the
    on-disk embedding cache stores it.
    """

    name = "use-pooled-v1"
    dim = POOLED_DIM + 1

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._module: USEModule | None = None
        self._batcher: USETokenBatcher | None = None
        self._lock = threading.Lock()

    def module(self) -> USEModule:
        """The pretrained torch USE (loaded once)."""
        with self._lock:
            if self._module is None:
                self._module = USEModule.pretrained().eval()
                self._batcher = USETokenBatcher()
        return self._module

    def _pooled(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = self.module()
        maskf = mask.to(torch.float32).unsqueeze(-1)
        emb = m.embedding(ids)
        x = m.proj_norm(m.proj(emb))
        parts = [emb] + [b(x[..., i * CNN_DIM : (i + 1) * CNN_DIM], maskf) for i, b in enumerate(m.branches)]
        feats = m.norm(torch.cat(parts, dim=-1)) * maskf
        lengths = maskf.sum(dim=1).clamp(min=1.0)
        return torch.cat([feats.sum(dim=1) / lengths, lengths], dim=-1)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Pooled features of ``texts`` in batches of similar length (not normalised)."""
        self.module()
        assert self._batcher is not None
        prepared = _prepare(texts)
        out = np.zeros((len(prepared), self.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in prepared], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                ids, mask = self._batcher([prepared[i] for i in idx])
                out[idx] = self._pooled(ids, mask).numpy()
        return out


class USEHead(nn.Module):
    """USE's output projection and DAN (a copy of the pretrained layers): pooled features → unit vector."""

    def __init__(self, use: USEModule) -> None:
        super().__init__()
        for name in _HEAD_LAYERS:
            setattr(self, name, copy.deepcopy(getattr(use, name)))
        self.eps = use.eps

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """``pooled``: rows of :class:`USEPooled` (features + piece count)."""
        features, lengths = pooled[:, :-1], pooled[:, -1:]
        mean = self.out_proj(features) * lengths.sqrt()
        y0 = F.relu(self.d0(mean))
        y1 = F.relu(self.p1(mean) + self.d1(y0))
        y2 = F.relu(self.d2(y1))
        z = torch.tanh(self.p3(y1) + self.d3(y2))
        return z / z.norm(dim=-1, keepdim=True).clamp(min=self.eps**0.5)


_POOLED: dict[str, CachedEncoder] = {}
_POOLED_LOCK = threading.Lock()


def pooled_encoder(settings: Settings | None = None) -> CachedEncoder:
    """The process-wide :class:`USEPooled`, cached on disk under the state folder."""
    settings = settings or Settings()
    key = str(settings.state_dir)
    with _POOLED_LOCK:
        if key not in _POOLED:
            base = next((c.encoder for c in _POOLED.values()), None) or USEPooled()
            _POOLED[key] = CachedEncoder(base, EmbeddingCache(cache_path(settings.state_dir)))
        return _POOLED[key]


class DualEncoderScorer(DenseDocumentsState):
    """Question and answer towers from USE, fine-tuned with in-batch negatives (softmax over the batch)."""

    kind = "dual"

    def __init__(self, epochs: int = 3, batch_size: int = 128, lr: float = 1e-4, scale: float = 20.0,
                 seed: int = 0, settings: Settings | None = None) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.scale = scale
        self.seed = seed
        self.settings = settings
        self._pooled = pooled_encoder(settings)
        use = self._pooled.encoder.module()  # type: ignore[attr-defined]
        self.question_tower = USEHead(use).eval()
        self.answer_tower = USEHead(use).eval()
        self.history_: list[float] = []

    def _features(self, texts: Sequence[str]) -> torch.Tensor:
        if len(texts) == 1:
            return torch.from_numpy(self._pooled.encode(list(texts), persist=False))
        return torch.from_numpy(self._pooled.encode(list(texts)))

    def fit(self, questions: Sequence[str], answers: Sequence[str],
            groups: Sequence[str] | None = None, max_steps: int | None = None) -> DualEncoderScorer:
        """Train both towers: each question against its own answer and the batch's other answers."""
        q = self._features(questions)
        a = self._features(answers)
        threads = torch.get_num_threads()
        # the batches are small matrix products: a second intra-op thread mostly spins, and on a
        # shared machine it tripled the CPU time of a training step (1 vs 2 threads, 12 steps)
        torch.set_num_threads(TRAIN_THREADS)
        try:
            return self._train(q, a, max_steps)
        finally:
            torch.set_num_threads(threads)

    def _train(self, q: torch.Tensor, a: torch.Tensor, max_steps: int | None) -> DualEncoderScorer:
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        params = list(self.question_tower.parameters()) + list(self.answer_tower.parameters())
        optimiser = torch.optim.AdamW(params, lr=self.lr, weight_decay=0.01)
        self.question_tower.train()
        self.answer_tower.train()
        steps = 0
        self.history_ = []
        for epoch in range(self.epochs):
            order = torch.randperm(len(q), generator=generator)
            total, batches = 0.0, 0
            for start in range(0, len(order) - 1, self.batch_size):
                idx = order[start : start + self.batch_size]
                if len(idx) < 2:
                    continue
                logits = self.scale * self.question_tower(q[idx]) @ self.answer_tower(a[idx]).T
                target = torch.arange(len(idx))
                loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += float(loss.detach())
                batches += 1
                steps += 1
                if max_steps is not None and steps >= max_steps:
                    break
            self.history_.append(total / max(batches, 1))
            log.info("dual encoder epoch", epoch=epoch + 1, loss=round(self.history_[-1], 4), pairs=len(q))
            if max_steps is not None and steps >= max_steps:
                break
        self.question_tower.eval()
        self.answer_tower.eval()
        return self

    def encode_questions(self, questions: Sequence[str]) -> np.ndarray:
        """Question-tower vectors."""
        with torch.inference_mode():
            return self.question_tower(self._features(questions)).numpy()

    def index(self, answers: Sequence[str]) -> DenseDocuments:
        """Answer-tower vectors of the answers."""
        with torch.inference_mode():
            return DenseDocuments(self.answer_tower(self._features(answers)).numpy())

    def score(self, questions: Sequence[str], documents: DenseDocuments) -> np.ndarray:  # type: ignore[override]
        """Cosine of question and answer vectors."""
        return self.encode_questions(questions) @ documents.vectors.T

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Hyper-parameters, loss per epoch, and both towers' weights."""
        arrays = module_arrays("question.", self.question_tower) | module_arrays("answer.", self.answer_tower)
        parameters = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                      "scale": self.scale, "seed": self.seed, "loss_per_epoch": self.history_}
        return parameters, arrays

    @classmethod
    def from_state(cls, parameters: dict[str, Any], arrays: dict[str, np.ndarray],
                   settings: Settings | None = None) -> DualEncoderScorer:
        """Rebuild the fitted towers."""
        scorer = cls(epochs=int(parameters["epochs"]), batch_size=int(parameters["batch_size"]),
                     lr=float(parameters["lr"]), scale=float(parameters["scale"]),
                     seed=int(parameters["seed"]), settings=settings)
        for prefix, tower in (("question.", scorer.question_tower), ("answer.", scorer.answer_tower)):
            tower.load_state_dict(prefixed_state(prefix, arrays))
        scorer.history_ = list(parameters.get("loss_per_epoch", []))
        return scorer
