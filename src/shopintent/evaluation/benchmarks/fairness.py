"""Fairness benchmark: shopper profiles, per-group audits, who gets the incentive, mitigation, DP release.

Protocol (every quality number on held-out rows; seed 0; 200 bootstrap resamples for rates and gaps,
1,000 for every ROC-AUC, within each class):

* **Profiles (Taobao head, 84,439 in-window events, 815 shoppers).** Ingested
  through the one path into an in-memory store; profiles built in batch
  (portable SQL on DuckDB) and incrementally (4 uneven appends); equal (the
  benchmark fails otherwise). The purchase / churn model's AUC out of time: a
  twin fitted one day earlier, scored on every shopper against the last day's
  labels (so the same rows whatever the pseudonym key), with its interval. Build times measured on a shared,
  busy machine (load average recorded). Live profiles' start-up on the same
  store, in CPU time: the old first round (whole store folded in the sink's
  round) beside the background catch-up in chunks, a snapshot's save, and
  restarts from a 90 % and a whole-store snapshot, each asserted equal to batch.
* **Audits** (:func:`shopintent.fairness.run.run_fairness`): purchase intent
  (UCI, LightGBM, 70/30 stratified) by VisitorType, Region, Browser,
  OperatingSystems; fraud verdicts (DMC 2019, logistic, 70/30) by trustLevel;
  click review flags (TalkingData, train earlier days, test the last) by device
  and os; negative-review detection (one TF-IDF model, zh + en test splits) by
  language; text intents (the default `intent train` kind on the eight intents
  CLINC150 en and SMP2019 zh share; trained on English rows only, and on English
  plus the training half of the Chinese rows; accuracy per row with intervals,
  macro-F1 per language) by language; session-kNN recommendations (Amazon Beauty and Taobao, leave-one-out)
  by user activity and target popularity band; the decision engine replayed over
  the held-out Taobao day by shopper activity. Gaps: fairlearn's
  demographic-parity and equalised-odds differences (between groups); intervals
  from 200 resamples within groups, of the signed difference of the two groups
  furthest apart.
* **Constraint** (bounded offer-rate ratio between the less and the more active
  half of shoppers): IPS/SNIPS purchase rate and expected spend of the
  constrained policy on the same replay log, beside the logged policy.
* **Mitigation**: fairlearn ThresholdOptimizer on the purchase-intent model for
  the column with the largest demographic-parity gap whose interval excludes 0.
* **DP**: OpenDP's Laplace mechanism on integer shopper counts (discrete Laplace
  noise, scale certified by OpenDP's privacy map); mean absolute and relative
  error over 200 releases at ε ∈ {0.1, 1, 10}. OpenDP draws noise from the OS's
  secure random source and cannot be seeded, so these move slightly between runs.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pandas as pd

from shopintent.evaluation.bench import BenchResult, Measurement
from shopintent.fairness.bootstrap import N_BOOT, N_BOOT_AUC, auc_interval
from shopintent.fairness.run import FairnessRun, run_fairness
from shopintent.log import get_logger
from shopintent.settings import Settings

log = get_logger(__name__)
SEED = 0

#: Short names of the audited models in measurement names (stable for docs tables).
SHORT: dict[str, str] = {
    "purchase intent (UCI, lightgbm)": "purchase intent UCI",
    "fraud verdict (DMC 2019, logistic)": "fraud DMC",
    "click review flag (TalkingData, LightGBM)": "clicks TalkingData",
    "recommendations (Amazon Beauty, session kNN k=100)": "recs Amazon Beauty",
    "recommendations (Taobao head, session kNN k=100)": "recs Taobao",
    "decision engine offers (Taobao held-out day)": "offers Taobao",
    "negative-review detection (zh + en, TF-IDF logistic)": "sentiment zh+en",
    "text intents (8 shared intents, en-only training)": "intents zh/en en-trained",
    "text intents (8 shared intents, en + zh training)": "intents zh/en bilingual",
}


def _short(model: str) -> str:
    return SHORT.get(model, "offers Taobao constrained" if model.startswith("decision engine offers with") else model)


def _ci(low: float, high: float) -> str:
    return f"95 % CI [{low:.4f}, {high:.4f}]"


def _profiles(settings: Settings) -> list[Measurement]:
    from shopintent.datasets import taobao_userbehavior_head as taobao
    from shopintent.privacy import Pseudonymizer
    from shopintent.profile import IncrementalProfiles, ProfileModel, batch_profile_features
    from shopintent.store import EventStore
    from shopintent.store.ingest import ingest_events

    pseudonymizer = Pseudonymizer.from_settings(settings)
    events = taobao.load(settings).events
    with EventStore(key_id=pseudonymizer.key_id) as store:
        ingest_events(store, events, pseudonymizer)
        stored = store.events()
        t0 = time.perf_counter()
        batch = batch_profile_features(store.engine())
        batch_s = time.perf_counter() - t0
        incremental = IncrementalProfiles()
        t0 = time.perf_counter()
        for lo, hi in ((0, 1), (1, 7_000), (7_000, 40_000), (40_000, len(stored))):
            incremental.update(stored.iloc[lo:hi])
        features = incremental.features()
        incremental_s = time.perf_counter() - t0
        pd.testing.assert_frame_equal(batch, features)  # the benchmark refuses to report unequal paths
        model = ProfileModel(seed=SEED).fit(stored, batch)
        fold_us, answer_ms = _live_costs(settings, stored, model)
        startup = _startup_costs(settings, store, model, batch)
    load = os.getloadavg()[0]
    metrics = model.metrics_
    split = (f"Taobao head, {len(stored):,} in-window events, {len(batch):,} shoppers; out of time: fitted on the "
             f"profile as of {metrics['heldout_fit_as_of']} labelled by the day after, scored on the profile as of "
             f"{metrics['cutoff']} against the last day (no fit saw it), {metrics['users']:,} shoppers; the same "
             "rows whatever the pseudonym key")
    auc = {t: auc_interval(y, score, seed=SEED) for t, (y, score) in model.heldout_.items()}
    boot = f"{N_BOOT_AUC:,} resamples of the scored shoppers within each class, seed {SEED}"
    busy = f"measured on a shared, busy machine (1-minute load average {load:.2f})"
    return [
        Measurement("profile: incremental equals batch (shoppers compared)", float(len(batch)), "shoppers",
                    "every column of every shopper equal (pandas assert_frame_equal), 4 uneven appends"),
        Measurement("profile purchase AUC (held-out day)", metrics["purchase_auc_heldout"], "ROC-AUC",
                    f"{_ci(auc['purchase'].low, auc['purchase'].high)} ({boot}); {split}; "
                    f"{metrics['purchase_positives']} buyers, base rate {metrics['purchase_rate']:.4f}"),
        Measurement("profile churn AUC (held-out day)", metrics["churn_auc_heldout"], "ROC-AUC",
                    f"{_ci(auc['churn'].low, auc['churn'].high)} ({boot}); {split}; churn = no event on the last "
                    f"day; {metrics['churn_positives']} churners, base rate {metrics['churn_rate']:.4f}"),
        Measurement("profile batch build (SQL on DuckDB)", batch_s, "seconds", f"{len(stored):,} events; {busy}"),
        Measurement("profile incremental update, all events", incremental_s, "seconds",
                    f"{len(stored):,} events in 4 appends; {busy}"),
        Measurement("profile live fold: CPU per event", fold_us, "microseconds",
                    f"LiveProfiles.fold (what the service's store sink calls) over {len(stored):,} stored events "
                    f"in rounds of {LIVE_ROUND} (CPU time of this process, so less sensitive to the busy machine)"),
        Measurement("profile live answer: CPU per shopper", answer_ms, "milliseconds",
                    f"LiveProfiles.record (what GET /v1/users/{{id}}/profile calls) for {LIVE_ANSWERS} shoppers, "
                    "annotated by the saved model (CPU time, model already loaded)"),
        *startup,
    ]


#: Events per store-sink round in the live-profile measurement (the bench serve rate: about 250 events/s).
LIVE_ROUND = 250
#: Shoppers whose live profile is read in the answer measurement.
LIVE_ANSWERS = 200


def _live_costs(settings: Settings, stored: pd.DataFrame, model: Any) -> tuple[float, float]:
    """CPU µs per event folded into live profiles, and CPU ms per shopper answered (model saved to a temp folder)."""
    import tempfile
    from pathlib import Path

    from shopintent.profile.build import profile_dir
    from shopintent.profile.live import LiveProfiles

    with tempfile.TemporaryDirectory(prefix="shopintent-bench-profile-") as folder:
        scratch = settings.model_copy(update={"state_dir": Path(folder)})
        model.save(profile_dir(scratch) / "model")
        live = LiveProfiles(scratch)
        t0 = time.process_time()
        for lo in range(0, len(stored), LIVE_ROUND):
            live.fold(stored.iloc[lo:lo + LIVE_ROUND])
        fold_us = (time.process_time() - t0) / len(stored) * 1e6
        users = sorted(live.profiles.shoppers)[:LIVE_ANSWERS]
        live.record(users[0])  # loads the model once, as the service's first answer does
        t0 = time.process_time()
        for user in users:
            live.record(user)
        answer_ms = (time.process_time() - t0) / len(users) * 1e3
    return fold_us, answer_ms


#: Share of the store a snapshot covers in the restart measurement (the rest is stored while "down").
RESTART_SNAPSHOT_SHARE = 0.9


def _startup_costs(settings: Settings, store: Any, model: Any, batch: pd.DataFrame) -> list[Measurement]:
    """The live profiles' first round after a start, before (the sink folded the whole store in its round)
    and after (background catch-up in chunks; restart from a snapshot), in CPU time; equal to batch."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from shopintent.profile.build import profile_dir
    from shopintent.profile.live import LiveProfiles

    n = store.count()
    last = store.last_seq()
    with tempfile.TemporaryDirectory(prefix="shopintent-bench-startup-") as folder, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-store") as pool:
        scratch = settings.model_copy(update={"state_dir": Path(folder)})
        model.save(profile_dir(scratch) / "model")

        def call(fn: Any) -> Any:
            return pool.submit(fn, store)

        def started(live: LiveProfiles, last_seq: int) -> tuple[float, float]:
            """(CPU s of the sink's call, CPU s of the whole process until caught up and saved)."""
            process, sink = time.process_time(), time.thread_time()
            live.catch_up(call, last_seq)
            sink_s = time.thread_time() - sink
            if not live.wait_current(3_600):
                raise RuntimeError("live profiles did not catch up within an hour")
            if live.background is not None:
                live.background.join()
            return sink_s, time.process_time() - process

        before = LiveProfiles(scratch)  # what the sink's first round did before: the whole store, in the round
        t0 = time.process_time()
        before.fold(call(lambda s: s.events_after(0)).result())
        before_s = time.process_time() - t0

        cold = LiveProfiles(scratch)  # no snapshot yet: the whole store, in chunks, in the background
        cold_sink_s, cold_s = started(cold, last)
        pd.testing.assert_frame_equal(cold.profiles.features(), batch)
        snapshot_bytes = cold.snapshot_path.stat().st_size
        cold.snapshot_path.unlink()

        cut = int(store.engine().sql(
            f"SELECT quantile_disc(seq, {RESTART_SNAPSHOT_SHARE}) AS q FROM events")["q"].iloc[0])
        partial = LiveProfiles(scratch)  # the service ran until 90 % of the store was in, then stopped
        started(partial, cut)
        restarted = LiveProfiles(scratch)  # restart: snapshot + the newer 10 %
        restart_sink_s, restart_s = started(restarted, last)
        pd.testing.assert_frame_equal(restarted.profiles.features(), batch)  # refuses to report unequal paths
        whole = LiveProfiles(scratch)  # restart again: the snapshot (saved by the last run) covers the store
        _, whole_s = started(whole, last)
        pd.testing.assert_frame_equal(whole.profiles.features(), batch)
    chunk = settings.profile_live_chunk_events
    what = f"Taobao head store, {n:,} events, {len(batch):,} shoppers; CPU time of this process"
    return [
        Measurement("profile live first round before: whole store folded in the sink round", before_s, "seconds",
                    f"{what}; events_after(0) + LiveProfiles.fold in one sink round, as before this change: the "
                    "sink stores and acknowledges nothing meanwhile and the store thread is held for the read"),
        Measurement("profile live first round after: the sink round's own CPU", cold_sink_s * 1e3, "milliseconds",
                    f"{what}; catch_up on the sink's thread only starts the background catch-up (thread time)"),
        Measurement("profile live catch-up after: background CPU, whole store, no snapshot", cold_s, "seconds",
                    f"{what}; chunks of {chunk:,} seqs on a background thread (store trips + folds + snapshot "
                    "save); the endpoint answers from the batch file meanwhile"),
        Measurement("profile live catch-up after: longest chunk fold CPU", cold.step_cpu_s["longest_chunk"] * 1e3,
                    "milliseconds", f"{what}; the most one background step holds the accumulators "
                    f"({chunk:,} seqs; thread time)"),
        Measurement("profile live snapshot: save CPU", cold.step_cpu_s["snapshot_save"], "seconds",
                    f"{what}; accumulators to Parquet (thread time)"),
        Measurement("profile live snapshot: size", snapshot_bytes / 1e6, "MB", f"{what}; Parquet, no pickle"),
        Measurement(f"profile live restart: snapshot of {RESTART_SNAPSHOT_SHARE:.0%} + the newer events, CPU",
                    restart_s, "seconds",
                    f"{what}; snapshot at seq {cut:,}, {restarted.folded:,} newer events folded in the background "
                    f"(restore {restarted.step_cpu_s['restore']:.2f} s CPU); sink round "
                    f"{restart_sink_s * 1e3:.2f} ms CPU"),
        Measurement("profile live restart: snapshot of the whole store, CPU", whole_s, "seconds",
                    f"{what}; restore only ({whole.folded:,} events folded)"),
        Measurement("profile live restart equals batch (shoppers compared)", float(len(batch)), "shoppers",
                    "every column of every shopper equal (pandas assert_frame_equal) after a cold catch-up, a restart "
                    "from a 90 % snapshot and a restart from a whole-store snapshot"),
    ]


def _audits(run: FairnessRun) -> list[Measurement]:
    out = []
    for audit in run.audits:
        name = _short(audit.model)
        for column in audit.columns:
            small = column.groups.get("too_small") or {}
            note = f"; groups under {column.groups['min_rows']} rows (left out): {small}" if small else ""
            for gap, interval in column.gaps.items():
                out.append(Measurement(
                    f"gap: {name} / {column.column} / {gap}", interval.value, "difference",
                    f"{_ci(interval.low, interval.high)}; excludes 0: {'yes' if interval.excludes_zero else 'no'}; "
                    f"{len(column.by_group)} groups{note}; {audit.detail}"))
            metric = "selection_rate" if "selection_rate" in column.intervals else next(iter(column.intervals), None)
            if metric is None:
                out.append(Measurement(f"groups: {name} / {column.column}", float(len(column.by_group)), "groups",
                                       str(column.groups.get("note", ""))))
                continue
            for group, interval in column.intervals[metric].items():
                rows = int(column.by_group.loc[group, "rows"])
                out.append(Measurement(f"rate: {name} / {column.column} / {group} / {metric}", interval.value,
                                       "rate", f"{_ci(interval.low, interval.high)}; {rows:,} rows"))
    return out


def _recommendation_bands(run: FairnessRun) -> list[Measurement]:
    out = []
    for model, bands in run.recommendation_bands.items():
        for band, values in bands.items():
            for metric in ("coverage@10", "ARP@10", "short_head_share@10"):
                out.append(Measurement(f"recs band: {_short(model)} / {band} / {metric}", values[metric],
                                       metric, f"{values['examples']:,} held-out users; {run.splits[model]}"))
    return out


def _incentive(run: FairnessRun) -> list[Measurement]:
    out = []
    for cost in run.incentive.get("constraint_opes", []):
        ratio = cost["max_ratio"]
        for policy, metrics in cost["estimates"].items():
            for metric, v in metrics.items():
                ci = f"{_ci(v['low'], v['high'])}; " if "low" in v else ""
                out.append(Measurement(f"constraint ratio ≤ {ratio}: {policy} {metric}", v["value"],
                                       "per decision", f"{ci}off-policy on the held-out-day replay log "
                                       f"({run.incentive['decisions']:,} decisions); rewards = purchases that "
                                       "followed (the historic log had no interventions)"))
            for group, rate in cost["offer_rates"][policy].items():
                out.append(Measurement(f"constraint ratio ≤ {ratio}: {policy} offer rate, {group}", rate, "rate",
                                       "expected interventions per decision under the policy"))
    held = run.incentive.get("constrained_replay")
    if held:
        out.append(Measurement("constraint ratio ≤ 1.1: interventions blocked by the engine",
                               float(held["blocked_by_constraint"]), "count",
                               f"engine replay holding the constraint; actions {held['actions']}"))
    return out


def _mitigation(run: FairnessRun) -> list[Measurement]:
    out = []
    for m in run.mitigation:
        for metric in ("roc_auc", "f1", "balanced_accuracy", "selection_rate"):
            for side, values in (("plain", m.before), ("mitigated", m.after)):
                ci = f"{_ci(values['roc_auc_low'], values['roc_auc_high'])}; " if metric == "roc_auc" else ""
                out.append(Measurement(f"mitigation {m.constraint} by {m.column}: {metric}, {side}",
                                       values[metric], metric, ci + m.detail))
        for gap in ("demographic_parity_difference", "equalized_odds_difference"):
            for side, audit in (("plain", m.audit_before), ("mitigated", m.audit_after)):
                g = audit.gaps[gap]
                out.append(Measurement(f"mitigation {m.constraint} by {m.column}: {gap}, {side}", g.value,
                                       "difference", f"{_ci(g.low, g.high)}; {m.detail}"))
    return out


def _text_intents(run: FairnessRun) -> list[Measurement]:
    """Macro-F1 per language of the text-intent audits (accuracy with intervals comes from :func:`_audits`)."""
    out = []
    for audit in run.audits:
        if not audit.model.startswith("text intents"):
            continue
        for language in ("en", "zh"):
            out.append(Measurement(f"text intents: {_short(audit.model)} / {language} / macro-F1",
                                   audit.overall[f"macro_f1_{language}"], "macro-F1", audit.detail))
    return out


def _dp(run: FairnessRun) -> list[Measurement]:
    out = []
    for error in run.dp.get("errors", []):
        eps = error["epsilon"]
        detail = (f"{error['repeats']} releases of {error['counts']} counts, {error['composition']} composition, "
                  f"OpenDP discrete Laplace, scale {error['scale']:.4g}, unseeded, clamped at 0")
        out.append(Measurement(f"dp {error['table']}: mean absolute error, ε={eps:g}", error["mean_abs_error"],
                               "count", detail))
        out.append(Measurement(f"dp {error['table']}: mean relative error, ε={eps:g}", error["mean_rel_error"],
                               "share", detail))
    return out


def run(settings: Settings) -> BenchResult:
    """The benchmark (see the module docstring)."""
    measurements = _profiles(settings)
    result = run_fairness(settings, n_boot=N_BOOT, seed=SEED)
    measurements += _audits(result) + _recommendation_bands(result) + _incentive(result)
    measurements += _mitigation(result) + _dp(result) + _text_intents(result)
    parameters: dict[str, Any] = {**result.parameters, "timings_s": result.timings_s, "splits": result.splits,
                                  "loadavg": list(os.getloadavg()), "incentive": {
                                      k: v for k, v in result.incentive.items() if k != "constraint_opes"},
                                  "dp_releases": result.dp.get("releases", [])}
    return BenchResult(area="fairness", measurements=measurements, data=result.data, parameters=parameters,
                       notes="Gaps are fairlearn's between-group differences; an interval is of the signed "
                             "difference of the two groups furthest apart (200 resamples within groups). "
                             "Groups under the minimum size are named with their size and left out of gaps. "
                             "Speed numbers measured on a shared, busy machine.")


def _mitigation_only(settings: Settings) -> list[Measurement]:
    return _mitigation(run_fairness(settings, parts=("mitigation",), n_boot=N_BOOT, seed=SEED))


#: Sections that can be re-run alone, and the name prefixes of the rows each one owns.
SECTIONS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "profiles": (_profiles, ("profile",)),
    "mitigation": (_mitigation_only, ("mitigation ",)),
}


def refresh(settings: Settings, results_file: Any, sections: list[str]) -> dict[str, Any]:
    """Re-run some sections and replace their rows in an existing ``fairness.json`` (the rest kept as measured).

    Why: the whole run takes most of an hour on the shared 2-core host, and a
    change to one part (the profile model's held-out protocol, the mitigation's
    AUC intervals) is re-measured alone. The fresh rows take the place of the
    old ones; the record lists every refresh (section, time, command) beside
    the original ``created_at`` so each row's run can be told apart.
    """
    import json
    from dataclasses import asdict
    from datetime import UTC, datetime

    record = json.loads(results_file.read_text())
    for section in sections:
        if section not in SECTIONS:
            raise KeyError(f"unknown section {section!r}; choose from {', '.join(SECTIONS)}")
        runner, prefixes = SECTIONS[section]
        started = time.perf_counter()
        fresh = [asdict(m) for m in runner(settings)]
        rows = record["measurements"]
        at = next((i for i, m in enumerate(rows) if m["name"].startswith(prefixes)), len(rows))
        kept = [m for m in rows if not m["name"].startswith(prefixes)]
        record["measurements"] = kept[:at] + fresh + kept[at:]
        record["parameters"].setdefault("refreshed", []).append({
            "section": section,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "runtime_s": round(time.perf_counter() - started, 1),
            "loadavg": list(os.getloadavg()),
            "command": f"python -m shopintent.evaluation.benchmarks.fairness {section}",
        })
        # written after every section, so a later section that fails cannot lose an earlier one's rows
        results_file.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return record


if __name__ == "__main__":  # pragma: no cover - the refresh entry point for benchmark maintainers
    import sys

    from shopintent.settings import get_settings

    settings = get_settings()
    refresh(settings, settings.results_dir / "fairness.json", sys.argv[1:])
