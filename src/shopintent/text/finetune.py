"""FineTunedClassifier: a pretrained encoder and a linear head trained end to end on labelled text.

Why: a frozen encoder with a linear head tops out where the encoder's
general-purpose geometry stops separating a shop's intents (CLINC150: USE
closed-set 0.945); training the encoder's own layers on the task moves
paraphrases of one intent together. Training runs on CPU: ``use`` (zh + en)
trains ~3.5 M parameters and ``minilm`` (en) all 22 M; the epoch kept is the
one with the best validation accuracy, and the same temperature and
validation-chosen rejection threshold as every other text model turn its
logits into calibrated confidences and ``oos``.

>>> clf = FineTunedClassifier(backbone="use").fit(texts, labels, valid_texts, valid_labels)  # doctest: +SKIP
>>> clf.predict(["我要退货", "tell me a joke"])                                             # doctest: +SKIP
['refund', 'oos']
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from shopintent.log import get_logger
from shopintent.persist import begin_save, load_tensors, save_tensors
from shopintent.text.clean import clean_text
from shopintent.text.onnx_runtime import FP32_FILE, INT8_FILE, ExportReport, OnnxNetwork, export_network
from shopintent.text.intent import OOS, NotFittedError, data_checksum, prepare_fit_data
from shopintent.text.rejection import RejectingClassifier
from shopintent.text.tokenizers import BACKBONES, make_tokenizer

if TYPE_CHECKING:  # torch is imported where a network is built or trained, never to answer on ONNX
    import torch

    from shopintent.text.backbones import ClassifierNetwork

log = get_logger(__name__)

FORMAT_VERSION = 1


def _length_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None
) -> list[np.ndarray]:
    """Batches of similar-length rows (little padding); shuffled pools when ``rng`` is given."""
    order = rng.permutation(len(lengths)) if rng is not None else np.arange(len(lengths))
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    if rng is not None:
        rng.shuffle(batches)  # type: ignore[arg-type]
    return batches


@dataclass(frozen=True)
class _TrainingRows:
    """Tokenised training and validation rows, as one fit's epochs read them."""

    train_ids: list[list[int]]
    valid_ids: list[list[int]]
    targets: torch.Tensor
    valid_known: np.ndarray
    valid_targets: np.ndarray
    lengths: np.ndarray


class FineTunedClassifier(RejectingClassifier):
    """Text classifier whose encoder is trained with its head; calibrated, with OOS rejection.

    Parameters
    ----------
    backbone:
        ``use`` (multilingual, zh + en) or ``minilm`` (English).
    epochs:
        Most passes over the training rows; the best epoch on validation is kept.
    batch_size:
        Rows per optimiser step.
    learning_rate:
        Encoder learning rate (``None``: the backbone's default, 3e-4 for ``use``, 1e-4 for ``minilm``).
    head_learning_rate:
        Learning rate of the new linear head.
    weight_decay, warmup_fraction, dropout, label_smoothing:
        AdamW decay, share of steps with linear warm-up (then linear decay), dropout before the head, and
        cross-entropy label smoothing.
    max_length:
        Pieces per text at most (longer texts are cut).
    patience:
        Stop after this many epochs without a better validation accuracy.
    max_train_seconds:
        Stop after the epoch that passes this wall-clock budget (``None``: no budget).
    threads:
        torch CPU threads (``None``: torch's default).
    oos_label, oos_weight, oos_recall_target, validation_fraction, random_state:
        As in :class:`~shopintent.text.intent.IntentClassifier`.

    Examples
    --------
    Fine-tuning takes minutes even on a small set, so the runnable part is the
    estimator contract; ``shopintent intent train --kind finetune`` trains one.

    >>> from sklearn.base import clone
    >>> clf = FineTunedClassifier(backbone="minilm", epochs=3)
    >>> clone(clf).set_params(epochs=1).get_params()["epochs"], clf.epochs
    (1, 3)
    """

    #: The ONNX Runtime session inference runs on after :meth:`export_onnx` or :meth:`load`
    #: (``None``: torch). A class default, so ``__init__`` only stores hyper-parameters.
    runtime_: OnnxNetwork | None = None

    def __init__(
        self,
        backbone: str = "use",
        epochs: int = 8,
        batch_size: int = 32,
        learning_rate: float | None = None,
        head_learning_rate: float = 3e-3,
        weight_decay: float = 0.01,
        warmup_fraction: float = 0.06,
        dropout: float = 0.1,
        label_smoothing: float = 0.0,
        max_length: int = 128,
        patience: int = 2,
        max_train_seconds: float | None = None,
        threads: int | None = None,
        oos_label: str = OOS,
        oos_weight: float = 1.0,
        oos_recall_target: float | None = None,
        validation_fraction: float = 0.1,
        random_state: int = 0,
    ) -> None:
        self.backbone = backbone
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.head_learning_rate = head_learning_rate
        self.weight_decay = weight_decay
        self.warmup_fraction = warmup_fraction
        self.dropout = dropout
        self.label_smoothing = label_smoothing
        self.max_length = max_length
        self.patience = patience
        self.max_train_seconds = max_train_seconds
        self.threads = threads
        self.oos_label = oos_label
        self.oos_weight = oos_weight
        self.oos_recall_target = oos_recall_target
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    # -- training ---------------------------------------------------------------------------
    def _tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        return self.tokenizer_.tokenize([clean_text(t) for t in texts])

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        valid_texts: Sequence[str] | None = None,
        valid_labels: Sequence[str] | None = None,
        on_epoch: Callable[[int, int, dict[str, float]], None] | None = None,
    ) -> FineTunedClassifier:
        """Train encoder and head on train, keep the best epoch on validation, calibrate; return self.

        ``on_epoch(epoch, epochs, record)`` is called after each epoch (a CLI draws its
        progress bar from it; the library imports no progress library).
        """
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone {self.backbone!r} is not one of {', '.join(BACKBONES)}")
        texts, labels, valid_texts, valid_labels, self.validation_source_ = prepare_fit_data(
            texts, labels, valid_texts, valid_labels, self.validation_fraction, self.random_state
        )
        rng = self._start_training(labels)
        rows = self._training_rows(texts, labels, valid_texts, valid_labels)
        started = time.perf_counter()
        best_state = self._train_epochs(rows, rng, started, on_epoch)
        self._keep_best(best_state, rows, valid_texts, valid_labels, started)
        self.n_train_ = len(texts)
        self.data_checksum_ = data_checksum(texts, labels)
        log.info(
            "fine-tuned classifier fitted",
            backbone=self.backbone,
            best_epoch=self.best_epoch_,
            **{k: round(v, 4) for k, v in self.metrics_.items() if isinstance(v, float)},
        )
        return self

    def _start_training(self, labels: list[str]) -> np.random.Generator:
        """Seed torch and NumPy, fix the classes and build a fresh network; return the shuffling generator."""
        import torch

        from shopintent.text.backbones import ClassifierNetwork, make_backbone

        if self.threads:
            torch.set_num_threads(self.threads)
        self.runtime_ = None
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        self.classes_ = np.array(sorted(set(labels)))
        self.network_ = ClassifierNetwork(make_backbone(self.backbone, self.max_length), len(self.classes_),
                                          self.dropout)
        self.tokenizer_ = self.network_.backbone.tokenizer
        return rng

    def _training_rows(
        self, texts: list[str], labels: list[str], valid_texts: list[str], valid_labels: list[str]
    ) -> _TrainingRows:
        """Tokenised train and validation rows with their class indices (unknown validation labels: -1)."""
        import torch

        index = {c: i for i, c in enumerate(self.classes_)}
        train_ids = self._tokenize(texts)
        return _TrainingRows(
            train_ids=train_ids,
            valid_ids=self._tokenize(valid_texts),
            targets=torch.tensor([index[label] for label in labels], dtype=torch.long),
            valid_known=np.array([label in index for label in valid_labels]),
            valid_targets=np.array([index.get(label, -1) for label in valid_labels]),
            lengths=np.array([len(r) for r in train_ids]),
        )

    def _scheduler(self, optimiser: torch.optim.Optimizer, n_rows: int) -> torch.optim.lr_scheduler.LambdaLR:
        """Linear warm-up over ``warmup_fraction`` of all steps, then linear decay to zero."""
        import torch

        steps_per_epoch = math.ceil(n_rows / self.batch_size)
        total = steps_per_epoch * self.epochs
        warmup = max(1, int(total * self.warmup_fraction))
        return torch.optim.lr_scheduler.LambdaLR(
            optimiser,
            lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))),
        )

    def _train_epochs(
        self, rows: _TrainingRows, rng: np.random.Generator, started: float,
        on_epoch: Callable[[int, int, dict[str, float]], None] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Run epochs until ``epochs``, ``patience`` or ``max_train_seconds``; return the best epoch's weights."""
        optimiser = self._optimiser()
        scheduler = self._scheduler(optimiser, len(rows.train_ids))
        best_accuracy, best_state, stale = -1.0, None, 0
        self.best_epoch_ = 0
        self.history_: list[dict[str, float]] = []
        for epoch in range(1, self.epochs + 1):
            losses = self._train_one_epoch(rows, optimiser, scheduler, rng)
            logits = self._logits(rows.valid_ids)
            accuracy = float((logits.argmax(1) == rows.valid_targets)[rows.valid_known].mean())
            elapsed = time.perf_counter() - started
            self.history_.append(
                {"epoch": epoch, "train_loss": float(np.mean(losses)), "valid_accuracy": accuracy, "seconds": elapsed}
            )
            log.info("fine-tune epoch", backbone=self.backbone, **self.history_[-1])
            if on_epoch is not None:
                on_epoch(epoch, self.epochs, self.history_[-1])
            if accuracy > best_accuracy:
                best_accuracy, self.best_epoch_, stale = accuracy, epoch, 0
                best_state = {k: v.detach().clone() for k, v in self.network_.state_dict().items()}
            else:
                stale += 1
            if stale >= self.patience or (
                self.max_train_seconds is not None and elapsed > self.max_train_seconds
            ):
                break
        assert best_state is not None
        return best_state

    def _train_one_epoch(
        self,
        rows: _TrainingRows,
        optimiser: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LambdaLR,
        rng: np.random.Generator,
    ) -> list[float]:
        """One pass over shuffled length-bucketed batches; the loss of each step."""
        import torch
        from torch.nn import functional as F

        self.network_.train()
        losses = []
        for batch in _length_batches(rows.lengths, self.batch_size, rng):
            ids, mask = self.tokenizer_.pad([rows.train_ids[i] for i in batch])
            loss = F.cross_entropy(
                self.network_(ids, mask), rows.targets[batch], label_smoothing=self.label_smoothing
            )
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.network_.parameters(), 1.0)
            optimiser.step()
            scheduler.step()
            losses.append(loss.item())
        return losses

    def _keep_best(
        self,
        best_state: dict[str, torch.Tensor],
        rows: _TrainingRows,
        valid_texts: list[str],
        valid_labels: list[str],
        started: float,
    ) -> None:
        """Restore the best epoch's weights, then fit temperature and threshold on validation."""
        self.network_.load_state_dict(best_state)
        self.network_.eval()
        self.metrics_ = self._calibrate(self._logits(rows.valid_ids), valid_labels, valid_texts)
        self.metrics_["train_seconds"] = time.perf_counter() - started

    def _optimiser(self) -> torch.optim.Optimizer:
        import torch

        lr = self.learning_rate or self.network_.backbone.default_learning_rate
        decay, no_decay = [], []
        for name, param in self.network_.backbone.named_parameters():
            if param.requires_grad:
                (no_decay if param.ndim < 2 else decay).append(param)
        return torch.optim.AdamW(
            [
                {"params": decay, "lr": lr, "weight_decay": self.weight_decay},
                {"params": no_decay, "lr": lr, "weight_decay": 0.0},
                {"params": self.network_.head.parameters(), "lr": self.head_learning_rate, "weight_decay": 0.0},
            ]
        )

    # -- inference --------------------------------------------------------------------------
    def _batched(
        self, rows: list[list[int]], width: int, forward: Callable[[np.ndarray, np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """Run ``forward(ids, mask)`` (int64 arrays) over length-sorted batches of 128; rows back in
        input order. NumPy in and out, so the ONNX Runtime path never imports torch."""
        out = np.zeros((len(rows), width), dtype=np.float32)
        for batch in _length_batches(np.array([len(r) for r in rows]), 128, None):
            out[batch] = forward(*self.tokenizer_.pad_arrays([rows[i] for i in batch]))
        return out

    def _torch_batched(self, rows: list[list[int]], width: int,
                       module: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> np.ndarray:
        """:meth:`_batched` through a torch module, without autograd."""
        import torch

        with torch.inference_mode():
            return self._batched(rows, width, lambda i, m: module(torch.from_numpy(i), torch.from_numpy(m)).numpy())

    def _logits(self, rows: list[list[int]]) -> np.ndarray:
        if self.runtime_ is not None:
            return self._batched(rows, len(self.classes_), self.runtime_)
        network = self._network()
        was_training = network.training
        network.eval()
        try:
            return self._torch_batched(rows, len(self.classes_), network)
        finally:
            network.train(was_training)

    def _network(self) -> ClassifierNetwork:
        """The torch network, built from the saved weights on first need when the model runs on ONNX."""
        if not hasattr(self, "network_"):
            from shopintent.text.backbones import ClassifierNetwork, make_backbone

            network = ClassifierNetwork(make_backbone(self.backbone, self.max_length), len(self.classes_),
                                        self.dropout)
            network.load_state_dict(load_tensors(self.weights_file_))
            self.network_ = network.eval()
        return self.network_

    def decision_function(self, texts: Sequence[str], persist: bool = True) -> np.ndarray:
        """Head logits, one column per class in ``classes_`` (``persist`` is accepted for API parity)."""
        if not hasattr(self, "tokenizer_"):
            raise NotFittedError(
                "FineTunedClassifier is not fitted: call fit(...) or FineTunedClassifier.load(path)"
            )
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        return self._logits(self._tokenize(texts))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The fine-tuned sentence vectors (unit rows), e.g. for nearest-neighbour OOS scores."""
        backbone = self._network().backbone
        return self._torch_batched(self._tokenize(list(texts)), backbone.dim, backbone)

    def export_onnx(
        self,
        directory: Path | str,
        check_texts: Sequence[str],
        check_labels: Sequence[str] | None = None,
        int8: bool = True,
        threads: int = 1,
    ) -> ExportReport:
        """Export the network to ONNX and run on it from now on.

        int8 is kept when, on ``check_texts`` (validation rows, never test),
        its accuracy is within half a point of float32's (with
        ``check_labels``) or its top class agrees with torch on 99.5 % of them.
        """
        if not hasattr(self, "tokenizer_"):
            raise NotFittedError("FineTunedClassifier is not fitted: nothing to export")
        targets = None
        if check_labels is not None:
            index = {c: i for i, c in enumerate(self.classes_)}
            targets = np.array([index.get(str(label), -1) for label in check_labels])
        report = export_network(
            self._network(),
            self.tokenizer_.pad,
            self._tokenize(check_texts),
            Path(directory),
            int8,
            check_targets=targets,
        )
        self.onnx_report_ = report.as_dict()
        self.runtime_ = OnnxNetwork(report.path, threads)
        return report

    def set_threads(self, threads: int) -> None:
        """CPU threads for inference from now on (ONNX Runtime session, or torch)."""
        if self.runtime_ is not None:
            self.runtime_ = OnnxNetwork(self.runtime_.path, threads)
        else:
            import torch

            torch.set_num_threads(threads)

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: Path | str) -> Path:
        """Write the trained weights (safetensors), ``model.json`` and the manifest to ``path``.

        An ONNX export made with :meth:`export_onnx` is copied next to the
        weights (and listed in the manifest); :meth:`load` runs it
        (``runtime="auto"``).
        """
        if not hasattr(self, "tokenizer_"):
            raise NotFittedError("FineTunedClassifier is not fitted: nothing to save")
        state = self._network().state_dict()  # before begin_save, which may remove the weights it reads
        exported = self.runtime_.path.resolve() if self.runtime_ is not None else None
        directory = begin_save(path, keep=[exported] if exported else [])
        save_tensors(directory / "weights.safetensors", state)
        if self.runtime_ is not None and self.runtime_.path.parent.resolve() != directory.resolve():
            copy = directory / self.runtime_.path.name
            shutil.copyfile(self.runtime_.path, copy)
            self.runtime_.path = copy  # the export folder may be temporary; the saved copy stays
        self._finish_save(
            directory,
            "FineTunedClassifier",
            FORMAT_VERSION,
            best_epoch=self.best_epoch_,
            history=self.history_,
            data_checksum=self.data_checksum_,
            onnx=getattr(self, "onnx_report_", None),
        )
        return directory

    @classmethod
    def load(
        cls, path: Path | str, runtime: str = "auto", threads: int = 1
    ) -> FineTunedClassifier:
        """Read a model written by :meth:`save`, its manifest verified first (the pretrained backbone
        comes from its package).

        ``runtime``: ``auto`` runs the folder's ONNX export when there is one
        (int8 first), ``onnx`` requires it, ``torch`` ignores it.
        """
        directory = Path(path)
        meta = cls._read_model_json(directory, "FineTunedClassifier", FORMAT_VERSION)
        model = cls(**meta["parameters"])
        model._restore_record(meta)
        model.weights_file_ = directory / "weights.safetensors"
        model.tokenizer_ = make_tokenizer(model.backbone, model.max_length)
        model.best_epoch_ = meta["best_epoch"]
        model.history_ = meta["history"]
        model.data_checksum_ = meta["data_checksum"]
        model.onnx_report_ = meta.get("onnx")
        exported = [directory / name for name in (INT8_FILE, FP32_FILE) if (directory / name).is_file()]
        if runtime == "onnx" and not exported:
            raise FileNotFoundError(f"{directory} has no ONNX export; call export_onnx(...) before save")
        if runtime in ("auto", "onnx") and exported:
            model.runtime_ = OnnxNetwork(exported[0], threads)  # the torch network is never built
        else:
            model._network()
        return model
