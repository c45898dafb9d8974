"""The closed sets of values CLI options take, as ``str`` enums.

Typer turns an ``Enum`` annotation into a choice: ``--help`` lists the values,
shell completion offers them and a wrong value exits 2 naming the allowed ones
before the command runs, so no command checks a string by hand.

The values belong to the library (``behaviour.generic.TASK_NAMES``,
``recommend.data.SEQUENCE_FORMATS``, …). Most are spelled out here rather than
imported because importing those modules loads LightGBM, torch or
scikit-learn, and ``shopintent --help`` should not wait for them;
``tests/cli/test_choices.py`` fails when a list here and its library source
drift apart. Registries that are cheap to import (data sets, benchmark areas)
are turned into enums from the registry itself.
"""

from __future__ import annotations

from enum import StrEnum

from shopintent.datasets.registry import DATASET_NAMES
from shopintent.evaluation.bench import AREAS


class BehaviourTask(StrEnum):
    """``behaviour train --task``: which label the model learns (``behaviour.generic.TASK_NAMES``)."""

    PURCHASE = "purchase"
    ABANDON = "abandon"
    NEXT_ACTION = "next-action"


class IntentKind(StrEnum):
    """``intent train --kind``: the kind of text classifier to train."""

    LINEAR = "linear"
    FINETUNE = "finetune"
    ENSEMBLE = "ensemble"


class IntentHead(StrEnum):
    """``intent train --head``: the linear head over the features (``IntentClassifier.head``)."""

    SVM = "svm"
    LOGREG = "logreg"


class Encoder(StrEnum):
    """``intent train --encoder``: frozen sentence encoders (``text.encoders.ENCODERS`` less the serving-only
    variants of ``text.features.SERVING_VARIANTS``), or none."""

    USE = "use"
    E5 = "e5"
    MINILM = "minilm"
    NONE = "none"


class Backbone(StrEnum):
    """``intent train --backbone``: encoders that can be fine-tuned (``text.backbones.BACKBONES``)."""

    USE = "use"
    MINILM = "minilm"


class TextComponent(StrEnum):
    """``intent train-defaults --component``: the default text models (``text.defaults.COMPONENTS``)."""

    SHOP_INTENT = "shop_intent"
    SENTIMENT = "sentiment"
    NER_ZH = "ner_zh"
    SLOTS_EN = "slots_en"


class SequenceFormat(StrEnum):
    """``recommend --format``: how a sequence file is laid out (``recommend.data.SEQUENCE_FORMATS``)."""

    SEQTXT = "seqtxt"
    EVENTS = "events"


class RecommenderName(StrEnum):
    """``recommend --model``: the registered recommenders (``recommend.registry.MODELS``)."""

    POP = "pop"
    SKNN = "sknn"
    SASREC = "sasrec"
    ALS = "als"
    CONTENT = "content"
    HYBRID = "hybrid"


class Protocol(StrEnum):
    """``recommend evaluate --protocol``: the split (``recommend.workflow.PROTOCOLS``)."""

    LEAVE_ONE_OUT = "leave-one-out"


class SequenceBy(StrEnum):
    """``recommend --by``: one sequence per user or per session, for event files."""

    USER = "user"
    SESSION = "session"


class TargetDistribution(StrEnum):
    """``intervene ope --dist``: how the target policy's action distribution is estimated.

    The values of ``intervene.action_dist.METHODS``.
    """

    EMPIRICAL = "empirical"
    TIME_LOCAL = "time_local"
    MEAN_PROPENSITY = "mean_propensity"


class Learner(StrEnum):
    """``intervene learn --learner``: the policy learners (``intervene.learn.LEARNERS``)."""

    REWARD_GREEDY = "reward_greedy"
    IPW = "ipw"


class ReplayScorer(StrEnum):
    """``intervene replay --scorer``: which session scorer feeds the decision engine."""

    HEURISTIC = "heuristic"
    BEHAVIOUR = "behaviour"


class IntentEncoder(StrEnum):
    """``serve --intent-encoder``: how the linear intent model's USE block runs (``serve.config.INTENT_ENCODERS``)."""

    USE_INT8 = "use-int8"
    USE = "use"


class StreamBackend(StrEnum):
    """``serve --stream``: the durable event log, the commit point (``serve.config.STREAM_BACKENDS``)."""

    FILE = "file"
    REDIS = "redis"
    KAFKA = "kafka"
    MEMORY = "memory"


class FsyncPolicy(StrEnum):
    """``serve --fsync``: when the file log syncs to disk (``serve.config.FSYNC_POLICIES``)."""

    ALWAYS = "always"
    EVERYSEC = "everysec"


class StateBackend(StrEnum):
    """``serve --state``: where live session state lives (``serve.config.STATE_BACKENDS``)."""

    MEMORY = "memory"
    REDIS = "redis"


class AutoDecide(StrEnum):
    """``serve --auto-decide``: when the service decides on its own (``serve.config.AUTO_DECIDE``)."""

    OFF = "off"
    CART = "cart"
    EVERY = "every"


class DefaultModelName(StrEnum):
    """``models prepare --only/--skip``: the default models (``prepare.catalogue.names()``)."""

    BEHAVIOUR = "behaviour"
    RECOMMEND = "recommend"
    INTERVENE = "intervene"
    SHOP_INTENT = "shop_intent"
    RISK = "risk"
    SLOTS_EN = "slots_en"
    SENTIMENT = "sentiment"
    NER_ZH = "ner_zh"
    SHOP_INTENT_FINETUNED = "shop_intent_finetuned"


#: ``datasets verify NAME``: every data set of the registry.
DatasetName = StrEnum("DatasetName", [(name.upper(), name) for name in DATASET_NAMES],  # type: ignore[misc]
                      module=__name__)

#: ``bench AREA``: ``all`` or one benchmark area of ``evaluation.bench.AREAS``.
BenchArea = StrEnum("BenchArea", [("ALL", "all"), *((a.upper(), a) for a in AREAS)],  # type: ignore[misc]
                    module=__name__)


def values(choice: type[StrEnum]) -> tuple[str, ...]:
    """The values of an enum, in order (for comparing with the library's tuples)."""
    return tuple(member.value for member in choice)


class RiskModelKind(StrEnum):
    """``risk train|eval --model``: the model family (``risk.fraud.KINDS``)."""

    LIGHTGBM = "lightgbm"
    LOGISTIC = "logistic"


class ForecastFreq(StrEnum):
    """``forecast backtest|fit --freq``: the series period (``forecast.series.FREQUENCIES``)."""

    D = "D"
    W = "W"
    H = "H"


class FairnessPart(StrEnum):
    """``audit fairness --part``: one part of the fairness run (``fairness.run.PARTS``)."""

    CLASSIFIERS = "classifiers"
    RECOMMENDATIONS = "recommendations"
    INCENTIVE = "incentive"
    MITIGATION = "mitigation"
    DP = "dp"


class QAKind(StrEnum):
    """``assist index|eval --kind``: the question→answer scorer (``assist.retrieval.KINDS``)."""

    BM25 = "bm25"
    USE = "use"
    E5 = "e5"
    MINILM = "minilm"
    MINILM_TUNED = "minilm-tuned"
    DUAL = "dual"
    HYBRID = "hybrid"
    FUSION = "fusion"
