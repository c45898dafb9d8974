"""Open Bandit Dataset (ZOZOTOWN, men campaign): logged recommendations with propensities.

Two real logging policies, ``random`` (uniform over the 34 items) and ``bts``
(Bernoulli Thompson Sampling), each recommending fashion items in three slots
(``position`` 1, 2, 3 as in the file) of the ZOZOTOWN app, 10,000 impressions
per policy from the week of 2019-11-24, with the probability each policy gave
the shown item (``propensity_score``) and whether it was clicked. It is the
only public log with true propensities, so shopintent evaluates its
intervention policies off-policy (IPS, DR) on it; the ``random`` log is the
unbiased one (every propensity is exactly 1/34).

Representation (documented choices):

- :attr:`ObdPolicyLog.feedback` keeps every column as published, typed:
  ``timestamp`` UTC, ``item_id`` and ``position`` integers, ``click`` 0/1,
  ``propensity_score``, the four hashed ``user_feature_*`` as text and the 34
  ``user-item_affinity_*`` numbers.
- :func:`records` yields :class:`BanditFeedback` with ``action`` = item id as
  text, ``reward`` = click, and a numeric ``context``: every affinity under
  its column name, plus each hashed user feature one-hot encoded as
  ``"user_feature_<k>=<hash>": 1.0`` (the hashes are category labels, not
  numbers; OBP's own pre-processing one-hot encodes them too).

Caveats: the ``all`` campaign and the women campaign are not in this copy.
The two policies' ``item_context.csv`` agree on ``item_feature_0`` but hash
the categorical item features differently, so those hashes must not be
compared across policies. Clicks are rare (46 random, 69 bts).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.schema.records import BanditFeedback
from shopintent.settings import Settings

_REPO, _COMMIT = "st-tech/zr-obp", "8cbd5fa4558b7ad2ba4781546d6604e4cc3e07c4"

#: The logging policies of this copy, and the campaign.
POLICIES: tuple[str, ...] = ("random", "bts")
CAMPAIGN = "men"
N_ITEMS = 34
USER_FEATURES: tuple[str, ...] = tuple(f"user_feature_{k}" for k in range(4))
AFFINITIES: tuple[str, ...] = tuple(f"user-item_affinity_{k}" for k in range(N_ITEMS))

_PUBLISHED = {
    "random/men/men.csv": (
        "ede6d08c6877f99cd3770f7d09e26c738e6aa6de4445ccccfb1356ba5d06b1eb", 3_336_811),
    "random/men/item_context.csv": (
        "6d855c2b7e917d0448d71bbe62c023147495882c0fdc8c41e86fef86abf9fe09", 4_287),
    "bts/men/men.csv": (
        "db6d1f7ed2d591ba521533e45286d4c1fba7fe57a8ad2e80342210335f43c527", 3_240_432),
    "bts/men/item_context.csv": (
        "3b411ed6b0471316321a6b93f4f756bb25888eac6218cd71d0b603d41d85732d", 4_287),
}

SPEC = DatasetSpec(
    name="obd_sample",
    task="off-policy evaluation of recommendations: logged clicks with propensities",
    language="-",
    licence="CC BY 4.0 (dataset, ZOZO Research); zr-obp code Apache-2.0",
    citation="Saito, Aihara, Matsutani & Narita, Open Bandit Dataset and Pipeline: Towards "
    "Realistic and Reproducible Off-Policy Evaluation, NeurIPS Datasets and Benchmarks 2021",
    source=f"https://github.com/{_REPO} @ {_COMMIT} (obd/{{bts,random}}/men/men.csv, "
    "obd/{bts,random}/men/item_context.csv)",
    files=tuple(
        DataFile(path=path, sha256=sha, size=size, url=github_raw(_REPO, _COMMIT, f"obd/{path}"))
        for path, (sha, size) in _PUBLISHED.items()
    ),
    expected_counts={
        **{f"{policy}.rows": 10_000 for policy in POLICIES},
        **{f"{policy}.items": N_ITEMS for policy in POLICIES},
        **{f"{policy}.min_position": 1 for policy in POLICIES},
        **{f"{policy}.max_position": 3 for policy in POLICIES},
    },
    description="<policy>/men/men.csv: unnamed index, timestamp, item_id, position, click, "
    "propensity_score, user_feature_0..3 (hashed), user-item_affinity_0..33; "
    "<policy>/men/item_context.csv: unnamed index, item_id, item_feature_0..3.",
    total_rows=20_000,
)


@dataclass
class ObdPolicyLog:
    """One policy's log: the impressions (``feedback``) and the items (``item_context``)."""

    policy: str
    feedback: pd.DataFrame
    item_context: pd.DataFrame


@dataclass
class ObdSample:
    """Both policies' logs, by policy name (``"random"``, ``"bts"``)."""

    policies: dict[str, ObdPolicyLog]

    def __getitem__(self, policy: str) -> ObdPolicyLog:
        return self.policies[policy]


def read_feedback(policy: str, settings: Settings | None = None) -> pd.DataFrame:
    """One policy's impressions as published, typed, without the unnamed index column."""
    path = data_path(SPEC, f"{_check_policy(policy)}/{CAMPAIGN}/{CAMPAIGN}.csv", settings)
    dtypes = {
        "timestamp": "string", "item_id": "int64", "position": "int64", "click": "int64",
        "propensity_score": "float64",
        **{column: "string" for column in USER_FEATURES},
        **{column: "float64" for column in AFFINITIES},
    }
    frame = pd.read_csv(path, index_col=0, dtype=dtypes)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    return frame.reset_index(drop=True)


def read_item_context(policy: str, settings: Settings | None = None) -> pd.DataFrame:
    """One policy's item features (``item_feature_0`` numeric, 1..3 hashed text)."""
    path = data_path(SPEC, f"{_check_policy(policy)}/{CAMPAIGN}/item_context.csv", settings)
    dtypes = {
        "item_id": "int64", "item_feature_0": "float64",
        **{f"item_feature_{k}": "string" for k in (1, 2, 3)},
    }
    return pd.read_csv(path, index_col=0, dtype=dtypes).reset_index(drop=True)


def load(settings: Settings | None = None) -> ObdSample:
    """Load both policies' impressions and item features."""
    return ObdSample(
        policies={
            policy: ObdPolicyLog(
                policy=policy,
                feedback=read_feedback(policy, settings),
                item_context=read_item_context(policy, settings),
            )
            for policy in POLICIES
        }
    )


def records(log: ObdPolicyLog) -> Iterator[BanditFeedback]:
    """Yield one policy's impressions as :class:`BanditFeedback`, in log order.

    The context holds the affinities and the one-hot hashed user features (see
    the module docstring). ``BanditFeedback`` raises on a propensity outside
    (0, 1]; :func:`counts` reports such rows as ``<policy>.invalid_propensity``.
    """
    frame = log.feedback
    affinities = frame[list(AFFINITIES)].to_numpy(dtype=float)
    features = frame[list(USER_FEATURES)].to_numpy(dtype=object)
    for row, (timestamp, item_id, position, click, propensity) in enumerate(
        zip(
            frame["timestamp"], frame["item_id"], frame["position"], frame["click"],
            frame["propensity_score"], strict=True,
        )
    ):
        context = dict(zip(AFFINITIES, affinities[row].tolist(), strict=True))
        context.update(
            {f"{name}={value}": 1.0 for name, value in zip(USER_FEATURES, features[row],
                                                            strict=True)}
        )
        yield BanditFeedback(
            timestamp=timestamp.to_pydatetime(),
            context=context,
            action=str(item_id),
            position=int(position),
            reward=float(click),
            propensity=float(propensity),
            policy=log.policy,
        )


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the files (keys ``<policy>.<count>``)."""
    loaded = load(settings)
    found: dict[str, int] = {}
    for policy, log in loaded.policies.items():
        feedback = log.feedback
        propensity = feedback["propensity_score"]
        found.update(
            {
                f"{policy}.rows": len(feedback),
                f"{policy}.items": log.item_context["item_id"].nunique(),
                f"{policy}.logged_items": feedback["item_id"].nunique(),
                f"{policy}.min_position": int(feedback["position"].min()),
                f"{policy}.max_position": int(feedback["position"].max()),
                f"{policy}.clicks": int(feedback["click"].sum()),
                f"{policy}.invalid_propensity": int(
                    (~((propensity > 0) & (propensity <= 1))).sum()
                ),
                f"{policy}.unknown_items": int(
                    (~feedback["item_id"].isin(log.item_context["item_id"])).sum()
                ),
            }
        )
    return found


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found


def _check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise KeyError(f"obd_sample has no policy {policy!r}; this copy holds {POLICIES}")
    return policy
