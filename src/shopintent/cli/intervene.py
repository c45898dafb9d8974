"""``shopintent intervene …``: off-policy evaluation, policy learning and replay."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn

from shopintent.cli.choices import Learner, ReplayScorer, TargetDistribution
from shopintent.cli.output import console, description_column, errors, print_json, table
from shopintent.settings import get_settings

app = typer.Typer(help="Interventions: off-policy evaluation, policy learning, engine replay.",
                  no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")


def _spinner(quiet: bool) -> Progress:
    """A spinner with elapsed time on stderr for one long library call (stdout stays JSON-clean)."""
    return Progress(SpinnerColumn(), description_column(), TimeElapsedColumn(), console=errors,
                    transient=True, disable=quiet)


def _load_obd(logs: Path, target_logs: Path | None, policy_names: tuple[str, str] = ("logs", "target")):  # type: ignore[no-untyped-def]
    from shopintent.intervene.obd import ObdEncoder, read_obd_csv

    frames = [read_obd_csv(logs)] + ([read_obd_csv(target_logs)] if target_logs else [])
    encoder = ObdEncoder().fit(frames)
    behaviour = encoder.transform(frames[0], logs.stem if policy_names[0] == "logs" else policy_names[0])
    target = encoder.transform(frames[1], target_logs.stem) if target_logs else None
    return behaviour, target


@app.command()
def ope(
    logs: Path = typer.Option(..., "--logs", help="Behaviour-policy log, OBD format (e.g. random/men/men.csv)."),
    target_logs: Path = typer.Option(..., "--target-logs", help="Target policy's own log, OBD format."),
    dist_method: TargetDistribution = typer.Option(
        TargetDistribution.EMPIRICAL, "--dist",
        help="How the target policy's action distribution is estimated from its log."),
    n_bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap replicates."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Estimate the target policy's value from LOGS with every estimator; compare with its own logs."""
    from shopintent.intervene.obd import file_sha256
    from shopintent.intervene.ope import evaluate_logged_policy

    try:
        behaviour, target = _load_obd(logs, target_logs)
        with _spinner(as_json) as progress:
            progress.add_task("bootstrapping both logs", total=None)
            report = evaluate_logged_policy(behaviour, target, dist_method=dist_method.value,
                                            n_bootstrap=n_bootstrap, random_state=seed)
    except (FileNotFoundError, ValueError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    out = report.as_dict()
    out["data"] = {str(logs): file_sha256(logs), str(target_logs): file_sha256(target_logs)}
    if as_json:
        print_json(out)
        return
    truth = report.target_on_policy
    console.print(f"target on-policy value {truth.value:.5f} [{truth.low:.5f}, {truth.high:.5f}] "
                  f"({target.n_rounds:,} rounds); target distribution: {dist_method}")
    rows = [[r.estimator, f"{r.estimate.value:.5f}", f"[{r.estimate.low:.5f}, {r.estimate.high:.5f}]",
             f"{r.relative_error:.3f}", f"[{r.difference.low:+.5f}, {r.difference.high:+.5f}]",
             "yes" if r.difference.covers(0.0) else "no"] for r in report.results]
    console.print(table("Off-policy estimates of the target policy",
                        ["estimator", "estimate", "95% CI", "rel. error", "diff 95% CI", "covers 0"], rows))


@app.command()
def learn(
    logs: Path = typer.Option(..., "--logs", help="Uniform-random log, OBD format (training + evaluation)."),
    target_logs: Path | None = typer.Option(None, "--target-logs", help="Another logging policy to compare with."),
    learner: Learner = typer.Option(Learner.REWARD_GREEDY, "--learner",
                                    help="Policy learner: reward model argmax or inverse-propensity weighting."),
    train_share: float = typer.Option(0.5, "--train-share", help="Earlier share of rounds used for training."),
    epsilon: float = typer.Option(0.1, "--epsilon", help="Uniform exploration kept by the learned policy."),
    n_bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap replicates."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the learner and the bootstrap intervals."),
    save: Path | None = typer.Option(None, "--save", help="Directory to write model.json into."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Learn a contextual policy on the earlier rounds; value it on the later ones with intervals."""
    from shopintent.intervene.learn import learn_and_evaluate, save_policy
    from shopintent.intervene.obd import file_sha256

    try:
        behaviour, target = _load_obd(logs, target_logs)
        with _spinner(as_json) as progress:
            progress.add_task(f"learning {learner} and bootstrapping its value", total=None)
            policy, report = learn_and_evaluate(behaviour, target, learner=learner.value,
                                                train_share=train_share, epsilon=epsilon,
                                                n_bootstrap=n_bootstrap, random_state=seed)
    except (FileNotFoundError, ValueError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    if save is not None:
        save_policy(policy, report, save, data_checksum=file_sha256(logs))
    out = report.as_dict()
    if as_json:
        print_json(out)
        return
    rows = [[name, f"{v.value:.5f}", f"[{v.low:.5f}, {v.high:.5f}]",
             f"{report.lift_vs_random[name].value:.2f} [{report.lift_vs_random[name].low:.2f}, "
             f"{report.lift_vs_random[name].high:.2f}]",
             (f"{report.lift_vs_target[name].value:.2f} [{report.lift_vs_target[name].low:.2f}, "
              f"{report.lift_vs_target[name].high:.2f}]") if name in report.lift_vs_target else "-"]
            for name, v in report.values.items()]
    console.print(table(f"Learned policy ({learner}) on the later {1 - train_share:.0%} of rounds",
                        ["estimator", "value", "95% CI", "lift vs random", "lift vs target"], rows))
    console.print("A win is claimed only where a lift's interval excludes 1.")


@app.command()
def replay(
    events: Path | None = typer.Option(None, "--events", help="Event file (CSV/Parquet/JSONL, canonical "
                                       "columns); default: the Taobao UserBehavior head."),
    log_path: Path | None = typer.Option(None, "--log", help="Decision log to append to "
                                         "(default: a fresh file under SHOPINTENT_STATE_DIR/intervene/)."),
    daily_budget: float = typer.Option(500.0, "--daily-budget",
                                       help="Incentive budget per day (the engine's cap ledger)."),
    item_price: float = typer.Option(50.0, "--item-price", help="Assumed price per cart item (Taobao has none)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the decision engine's sampling."),
    scorer_name: ReplayScorer = typer.Option(
        ReplayScorer.HEURISTIC, "--scorer",
        help="Session scorer: heuristic (untrained, transparent) or behaviour (the default behaviour "
             "models, trained on the whole Taobao log and cached: replaying Taobao with them is "
             "in-sample; `shopintent bench intervene` compares both on a held-out day)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run the decision engine over a real event log in time order; report decisions, spend, caps."""
    from shopintent.intervene import CapConfig, DecisionEngine
    from shopintent.intervene.replay import replay_events

    settings = get_settings()
    try:
        if events is None:
            from shopintent.datasets import taobao_userbehavior_head

            frame = taobao_userbehavior_head.load(settings).events
        else:
            from shopintent.schema.validation import validate_events
            from shopintent.store.ingest import read_event_file

            frame = validate_events(read_event_file(events)).valid
    except (FileNotFoundError, ValueError) as exc:
        errors.print(str(exc))
        raise typer.Exit(code=2) from exc
    target = log_path or settings.state_dir / "intervene" / "replay-decisions.jsonl"
    if log_path is None and target.exists():
        target.unlink()
    scorer = None
    if scorer_name is ReplayScorer.BEHAVIOUR:
        from shopintent.behaviour import load_default_models
        from shopintent.intervene.behaviour_scoring import BehaviourDecisionScorer

        scorer = BehaviourDecisionScorer(load_default_models(settings))
    engine = DecisionEngine(caps=CapConfig(daily_budget=daily_budget), log_path=target, random_state=seed)
    with Progress(description_column(), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True, console=errors, disable=as_json) as progress:
        task = progress.add_task("replaying events", total=len(frame))
        report = replay_events(frame, engine, scorer=scorer, gap_minutes=settings.session_gap_minutes,
                               item_price=item_price,
                               progress=lambda k: progress.update(task, completed=k))
    engine.close()
    out = report.as_dict()
    out["decision_log"] = str(target)
    if as_json:
        print_json(out)
        return
    _print_replay(report, target)


def _print_replay(report: Any, log_path: Path) -> None:
    """The replay report as tables: what ran, what the engine chose, what the caps blocked, spend."""
    auc = "–" if math.isnan(report.scorer_auc) else f"{report.scorer_auc:.3f}"
    console.print(table("Decision-engine replay", ["measure", "value"], [
        ["events", f"{report.n_events:,}"],
        ["sessions", f"{report.n_sessions:,}"],
        ["decisions", f"{report.n_decisions:,}"],
        ["decisions followed by a purchase", f"{report.decisions_followed_by_purchase:,}"],
        ["scorer ROC-AUC (decision score vs purchase after)", auc],
        *[[f"decision latency {name}", f"{value:.3f} ms"] for name, value in report.latency_ms.items()],
        ["elapsed", f"{report.elapsed_s:.1f} s"],
        ["decision log", str(log_path)],
    ]))
    console.print(table("Actions", ["action", "decisions", "purchase after"],
                        [[a, f"{n:,}", f"{report.purchase_rate_by_action.get(a, 0):.3f}"]
                         for a, n in sorted(report.actions.items())]))
    console.print(table("Caps and eligibility (blocked action offers)", ["reason", "count"],
                        [[r, f"{n:,}"] for r, n in sorted(report.caps_hit.items())]))
    console.print(table("Spent per day", ["day", "spent"],
                        [[day, f"{amount:,.2f}"] for day, amount in sorted(report.spent.items())]))
