"""The tables of scenarios 7–10: end to end, the burst against Slack's posting limit, an enterprise's Azure, steady
state. Row labels are fixed strings, like ``bench.report``'s, so the smoke test can check every row is printed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.burst import CONFIRM_DEADLINE, BurstResult
from bench.e2e import JITBOT, PEER, EndToEnd
from bench.enterprise import EnterpriseResult, Step
from bench.report_rows import Row, Table, ms, ratio, times, verdict
from bench.stats import summarize
from bench.steady import SteadyResult

MB = 1024 * 1024
ARG_PER_HOUR = 15 * 3600 / 5
ARM_READS_PER_HOUR = 12_000

CMD_CONFIRM_P50_SEQ = "command → requester's confirmation, p50, sequential (ms)"
CMD_CONFIRM_P99_SEQ = "command → requester's confirmation, p99, sequential (ms)"
CMD_CONFIRM_P50_CONC = "command → requester's confirmation, p50, 50 concurrent (ms)"
CMD_CONFIRM_P99_CONC = "command → requester's confirmation, p99, 50 concurrent (ms)"
CMD_CARD_P50_SEQ = "command → approval card, p50, sequential (ms)"
CMD_CARD_P99_SEQ = "command → approval card, p99, sequential (ms)"
CMD_CARD_P50_OWN = "command → approval card, p50, sequential, emulator time taken out (ms)"
CMD_CARD_P50_CONC = "command → approval card, p50, 50 concurrent (ms)"
CMD_CARD_P99_CONC = "command → approval card, p99, 50 concurrent (ms)"
CARDS_MISSING = "cards or confirmations that never arrived"
CARD_RATIO_SEQ = "jitbot command → card p50 / peer's, sequential"
CARD_RATIO_OWN = "jitbot command → card p50 / peer's, sequential, emulator time taken out"
CARD_RATIO_CONC = "jitbot command → card p50 / peer's, 50 concurrent"
APPROVE_INITIATE = "approve → initiate received, p50 / p99 (ms)"
APPROVE_CARD_SEQ = "approve → card updated, p50 / p99, one at a time (ms)"
APPROVE_DM_SEQ = "approve → requester's DM, p50 / p99, one at a time (ms)"
APPROVE_INITIATE_CONC = "approve → initiate received, p50 / p99, 50 at once (ms)"
APPROVE_CARD_CONC = "approve → card updated, p50 / p99, 50 at once (ms)"
APPROVE_DM_CONC = "approve → requester's DM, p50 / p99, 50 at once (ms)"
APPROVE_FAILED = "approvals that failed"
BURST_SENT = "commands / seconds to send them"
BURST_SLOW_ACKS = "acks over 3 s"
BURST_NOT_BARE = "answers other than a bare 200"
BURST_CONFIRM = "requester's confirmation, p50 / p99 / max (ms)"
BURST_CONFIRM_LATE = "confirmations later than 3 s or missing"
BURST_CARDS = "cards posted / posted twice"
BURST_429 = "429s from Slack / posts inside a Retry-After"
BURST_DRAIN = "drain time: first command → last card (s)"
BURST_DRAIN_RATIO = "drain time / the limit's minimum"
BURST_RSS = "peak RSS of jitbot serve during the burst (MB)"
BURST_NOTICE = "what approvers saw meanwhile"
ENT_WORLD = "world"
ENT_JIT_COLD = "/jit ssh <vm> 2h, cold bot: ARM reads, wall time"
ENT_JIT_WARM = "/jit ssh <vm> 2h, same VM again: ARM reads, wall time"
ENT_JIT_OTHER = "/jit ssh <vm> 2h, a VM in another subscription: ARM reads, wall time"
ENT_JIT_LISTS = "/jit ssh <vm> 2h, cold, without Resource Graph access: ARM reads, wall time"
ENT_HOME_COLD = "App Home, cold inventory: ARM reads, wall time"
ENT_HOME_WARM = "App Home, warm: ARM reads, wall time"
ENT_LIST_COLD = "/jit list, cold bot: ARM reads, wall time"
ENT_LIST_WARM = "/jit list, warm: ARM reads, wall time"
ENT_RSS = "RSS with the inventory loaded (MB)"
ENT_REFRESH_ARG = "background: Resource Graph queries per hour / the quota"
ENT_REFRESH_ARM = "background: ARM reads per hour per subscription / the read limit"
STEADY_LOAD = "commands / seconds / answers other than a bare 200"
STEADY_RSS = "RSS first / after a quarter / last sample (MB)"
STEADY_GROWTH = "RSS growth over the last three quarters (MB)"
STEADY_CPU = "jitbot CPU per command (ms)"

ROW_LABELS_SCALE = (
    CMD_CONFIRM_P50_SEQ,
    CMD_CONFIRM_P99_SEQ,
    CMD_CONFIRM_P50_CONC,
    CMD_CONFIRM_P99_CONC,
    CMD_CARD_P50_SEQ,
    CMD_CARD_P99_SEQ,
    CMD_CARD_P50_OWN,
    CMD_CARD_P50_CONC,
    CMD_CARD_P99_CONC,
    CARDS_MISSING,
    CARD_RATIO_SEQ,
    CARD_RATIO_OWN,
    CARD_RATIO_CONC,
    APPROVE_INITIATE,
    APPROVE_CARD_SEQ,
    APPROVE_DM_SEQ,
    APPROVE_INITIATE_CONC,
    APPROVE_CARD_CONC,
    APPROVE_DM_CONC,
    APPROVE_FAILED,
    BURST_SENT,
    BURST_SLOW_ACKS,
    BURST_NOT_BARE,
    BURST_CONFIRM,
    BURST_CONFIRM_LATE,
    BURST_CARDS,
    BURST_429,
    BURST_DRAIN,
    BURST_DRAIN_RATIO,
    BURST_RSS,
    BURST_NOTICE,
    ENT_WORLD,
    ENT_JIT_COLD,
    ENT_JIT_WARM,
    ENT_JIT_OTHER,
    ENT_JIT_LISTS,
    ENT_HOME_COLD,
    ENT_HOME_WARM,
    ENT_LIST_COLD,
    ENT_LIST_WARM,
    ENT_RSS,
    ENT_REFRESH_ARG,
    ENT_REFRESH_ARM,
    STEADY_LOAD,
    STEADY_RSS,
    STEADY_GROWTH,
    STEADY_CPU,
)


@dataclass(frozen=True)
class ScaleResults:
    """Scenarios 7–10."""

    e2e: EndToEnd
    burst: BurstResult
    enterprise: EnterpriseResult
    steady: SteadyResult


def _pair(values: Sequence[float]) -> str:
    summary = summarize(values)
    return f"{ms(summary.p50)} / {ms(summary.p99)} (n={summary.n})"


def _e2e_table(e2e: EndToEnd) -> Table:
    jit, peer = e2e.apps[JITBOT], e2e.apps[PEER]

    def both(label: str, attribute: str, q: str, target: str = "", check: bool | None = None) -> Row:
        values = tuple(
            ms(getattr(summarize(getattr(app, attribute)), q)) if getattr(app, attribute) else "—"
            for app in (jit, peer)
        )
        return Row(label, values, target, "" if check is None else verdict(check))

    card_conc_p99 = summarize(jit.card_conc).p99
    rows = (
        both(CMD_CONFIRM_P50_SEQ, "confirm_seq", "p50"),
        both(CMD_CONFIRM_P99_SEQ, "confirm_seq", "p99"),
        both(CMD_CONFIRM_P50_CONC, "confirm_conc", "p50"),
        both(CMD_CONFIRM_P99_CONC, "confirm_conc", "p99"),
        both(CMD_CARD_P50_SEQ, "card_seq", "p50"),
        both(CMD_CARD_P99_SEQ, "card_seq", "p99"),
        both(CMD_CARD_P50_OWN, "card_seq_own", "p50"),
        both(CMD_CARD_P50_CONC, "card_conc", "p50"),
        both(CMD_CARD_P99_CONC, "card_conc", "p99", "jitbot < 1000", card_conc_p99 < 1.0),
        Row(CARDS_MISSING, (str(jit.missing), str(peer.missing)), "0", verdict(jit.missing == 0)),
    )
    return Table(
        "End to end: a command, as the requester and the approvers see it (client at normal priority)",
        ("jitbot", "minimal card bot (peer)", "target", "result"),
        rows,
    )


def _e2e_ratio_table(e2e: EndToEnd) -> Table:
    jit, peer = e2e.apps[JITBOT], e2e.apps[PEER]
    seq = ratio(summarize(jit.card_seq).p50, summarize(peer.card_seq).p50)
    conc = ratio(summarize(jit.card_conc).p50, summarize(peer.card_conc).p50)
    own = ratio(summarize(jit.card_seq_own).p50, summarize(peer.card_seq_own).p50)
    approve_card = max(summarize(e2e.approve_seq.card).p99, summarize(e2e.approve_conc.card).p99)
    rows = (
        Row(CARD_RATIO_SEQ, (times(seq),), "≤ 2×", verdict(seq <= 2.0)),
        Row(CARD_RATIO_OWN, (times(own),)),
        Row(CARD_RATIO_CONC, (times(conc),), "≤ 2×", verdict(conc <= 2.0)),
        Row(APPROVE_INITIATE, (_pair(e2e.approve_seq.initiate),)),
        Row(APPROVE_CARD_SEQ, (_pair(e2e.approve_seq.card),), "p99 < 1000", verdict(approve_card < 1.0)),
        Row(APPROVE_DM_SEQ, (_pair(e2e.approve_seq.dm),)),
        Row(APPROVE_INITIATE_CONC, (_pair(e2e.approve_conc.initiate),)),
        Row(APPROVE_CARD_CONC, (_pair(e2e.approve_conc.card),), "p99 < 1000", verdict(approve_card < 1.0)),
        Row(APPROVE_DM_CONC, (_pair(e2e.approve_conc.dm),)),
        Row(APPROVE_FAILED, (str(e2e.failed_approvals),), "0", verdict(e2e.failed_approvals == 0)),
    )
    return Table(
        "End to end: jitbot against the card bot, and approvals (emulator time taken out)",
        ("value", "target", "result"),
        rows,
    )


def _burst_table(burst: BurstResult) -> Table:
    late = sum(1 for c in burst.confirmations if c > CONFIRM_DEADLINE) + burst.commands - len(burst.confirmations)
    confirm = summarize(burst.confirmations)
    drain_ratio = ratio(burst.drain_seconds, burst.limit_minimum)
    seen = burst.notice_last or "no backlog notice (the backlog stayed under 10 cards)"
    rows = (
        Row(BURST_SENT, (f"{burst.commands} / {burst.seconds_sent:.1f}",)),
        Row(BURST_SLOW_ACKS, (str(burst.slow_acks),), "0", verdict(burst.slow_acks == 0)),
        Row(BURST_NOT_BARE, (str(burst.not_bare),), "0", verdict(burst.not_bare == 0)),
        Row(BURST_CONFIRM, (f"{ms(confirm.p50)} / {ms(confirm.p99)} / {ms(confirm.max)}",)),
        Row(BURST_CONFIRM_LATE, (str(late),), "0", verdict(late == 0)),
        Row(
            BURST_CARDS,
            (f"{burst.cards_posted} of {burst.commands} / {burst.cards_twice}",),
            "all, once",
            verdict(burst.cards_posted == burst.commands and burst.cards_twice == 0),
        ),
        Row(
            BURST_429,
            (f"{burst.throttled} / {burst.retry_after_broken}",),
            "… / 0",
            verdict(burst.retry_after_broken == 0),
        ),
        Row(BURST_DRAIN, (f"{burst.drain_seconds:.1f} (limit's minimum {burst.limit_minimum:.1f})",)),
        Row(BURST_DRAIN_RATIO, (times(drain_ratio),)),
        Row(BURST_RSS, (f"{burst.peak_rss / MB:.1f}",)),
        Row(BURST_NOTICE, (f"one notice, updated {burst.notice_updates}×; at the end: “{seen}”",)),
    )
    return Table(
        "Burst: commands from as many people at once, against Slack's posting limit",
        ("value", "target", "result"),
        rows,
    )


def _step(step: Step) -> str:
    reads = ", ".join(f"{name} {count}" for name, count in sorted(step.reads.items())) or "none"
    done = "" if step.done else " (did not finish)"
    emulator = f" ({step.emulator * 1000:.0f} ms of it in the emulator)" if step.emulator >= 0.0005 else ""
    return f"{step.total} ({reads}; +{step.tokens} token), {step.seconds * 1000:.0f} ms{emulator}{done}"


def _enterprise_table(ent: EnterpriseResult) -> Table:
    steps = ent.steps
    cold = steps["jit_cold"]
    inventory_graph = ent.inventory_reads.get("resourcegraph.resources", 0)
    loads_per_hour = 60 / ent.inventory_ttl_minutes
    arg_per_hour = inventory_graph * loads_per_hour
    per_sub_reads = (ent.sync_reads / max(1, ent.subscriptions)) * 60 / ent.default_sync_minutes
    inventory_rest = sum(n for op, n in ent.inventory_reads.items() if op != "resourcegraph.resources")
    per_sub_reads += inventory_rest / max(1, ent.subscriptions) * loads_per_hour
    rows = (
        Row(ENT_WORLD, (f"{ent.subscriptions} subscriptions, {ent.vms:,} VMs, one management group",)),
        Row(
            ENT_JIT_COLD,
            (_step(cold),),
            "≤ 5 reads, < 3000 ms",
            verdict(cold.done and cold.total <= 5 and cold.seconds < 3),
        ),
        Row(ENT_JIT_WARM, (_step(steps["jit_warm"]),)),
        Row(ENT_JIT_OTHER, (_step(steps["jit_other"]),)),
        Row(ENT_JIT_LISTS, (_step(steps["jit_cold_lists"]),)),
        Row(ENT_HOME_COLD, (_step(steps["home_cold"]),)),
        Row(ENT_HOME_WARM, (_step(steps["home_warm"]),)),
        Row(ENT_LIST_COLD, (_step(steps["list_cold"]),)),
        Row(ENT_LIST_WARM, (_step(steps["list_warm"]),)),
        Row(ENT_RSS, (f"{ent.rss_inventory / MB:.1f}",), "< 250", verdict(ent.rss_inventory < 250 * MB)),
        Row(
            ENT_REFRESH_ARG,
            (f"{arg_per_hour:.0f} / {ARG_PER_HOUR:.0f} ({arg_per_hour / ARG_PER_HOUR * 100:.1f} %)",),
            "≤ 10 %",
            verdict(arg_per_hour <= 0.1 * ARG_PER_HOUR),
        ),
        Row(
            ENT_REFRESH_ARM,
            (f"{per_sub_reads:.0f} / {ARM_READS_PER_HOUR:,} ({per_sub_reads / ARM_READS_PER_HOUR * 100:.2f} %)",),
            "≤ 10 %",
            verdict(per_sub_reads <= 0.1 * ARM_READS_PER_HOUR),
        ),
    )
    return Table("Enterprise Azure: Resource Graph over a management group", ("value", "target", "result"), rows)


def _steady_table(steady: SteadyResult) -> Table:
    rss = steady.rss
    quarter = rss[max(0, len(rss) // 4)] if rss else 0
    rows = (
        Row(STEADY_LOAD, (f"{steady.commands} / {steady.seconds:.0f} / {steady.not_bare}",)),
        Row(
            STEADY_RSS,
            (f"{(rss[0] if rss else 0) / MB:.1f} / {quarter / MB:.1f} / {(rss[-1] if rss else 0) / MB:.1f}",),
        ),
        Row(STEADY_GROWTH, (f"{steady.growth / MB:+.1f}",), "flat (< 5)", verdict(steady.growth < 5 * MB)),
        Row(STEADY_CPU, (f"{steady.cpu_per_request * 1000:.2f}",)),
    )
    return Table("Steady state: ten commands a second", ("value", "target", "result"), rows)


def build_scale_tables(results: ScaleResults) -> list[Table]:
    """Tables of scenarios 7–10."""
    return [
        _e2e_table(results.e2e),
        _e2e_ratio_table(results.e2e),
        _burst_table(results.burst),
        _enterprise_table(results.enterprise),
        _steady_table(results.steady),
    ]
