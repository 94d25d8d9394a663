"""The results as tables with a PASS/MISS verdict per target, printed as text and written as Markdown.

Row labels are fixed strings (counts go in the values), so the smoke test can check that every row is there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.acks import FLOOR, JITBOT, PEER, AckResult, AckScenario
from bench.approvals import ApprovalResult, ArmCount
from bench.reminders import SchedulerResult
from bench.report_rows import Row, Table, ms, ratio, times, verdict
from bench.report_scale import ROW_LABELS_SCALE, ScaleResults, build_scale_tables
from bench.stats import summarize

MB = 1024 * 1024

ACK_P50_SEQ = "ack p50, sequential (ms)"
ACK_P99_SEQ = "ack p99, sequential (ms)"
ACK_P50_SEQ_SHARED = "ack p50, sequential, client at real-time priority (ms)"
ACK_P50_CONC = "ack p50, 50 concurrent (ms)"
ACK_P99_CONC = "ack p99, 50 concurrent (ms)"
THROUGHPUT = "throughput, 50 concurrent (requests/s)"
CPU_PER_REQUEST = "server CPU per request (ms)"
NOT_BARE_ACKS = "answers other than a bare 200"
RATIO_FLOOR_SEQ = "jitbot p50 / floor p50, sequential"
RATIO_PEER_SEQ = "default Bolt p50 / jitbot p50, sequential"
RATIO_FLOOR_CONC = "jitbot p50 / floor p50, 50 concurrent"
RATIO_PEER_CONC = "default Bolt p50 / jitbot p50, 50 concurrent"
RATIO_FLOOR_SEQ_SHARED = "jitbot p50 / floor p50, sequential, client at real-time priority"
APPROVAL_P50 = "approve click → initiate received, p50 (ms)"
APPROVAL_P99 = "approve click → initiate received, p99 (ms)"
APPROVAL_EMULATOR = "emulator time taken out, mean per approval (ms)"
APPROVAL_COLD = "approve click → initiate, fresh process (ms)"
ARM_REQUEST_COLD = "ARM calls per /jit, cold cache"
ARM_REQUEST_WARM = "ARM calls per /jit, warm cache"
ARM_APPROVAL_WARM = "ARM calls per approval, warm cache"
ARM_APPROVAL_COLD = "ARM calls per approval, cold cache"
REMINDERS_FIRED = "reminders fired / due"
LATENESS_P50 = "reminder lateness p50 (ms)"
LATENESS_P99 = "reminder lateness p99 (ms)"
IDLE_COMMANDS = "Redis commands per idle tick"
IDLE_TICKS = "idle ticks per second"
IDLE_CPU = "CPU when idle (% of one core)"
RSS_START = "RSS of jitbot serve at start (MB)"
RSS_AFTER = "RSS of jitbot serve after the load (MB)"
RSS_PEAK = "peak RSS of jitbot serve (MB)"
SLACK_CONNECTIONS = "connections opened to Slack per /jit"

ROW_LABELS = (
    ACK_P50_SEQ,
    ACK_P99_SEQ,
    ACK_P50_SEQ_SHARED,
    ACK_P50_CONC,
    ACK_P99_CONC,
    THROUGHPUT,
    CPU_PER_REQUEST,
    NOT_BARE_ACKS,
    RATIO_FLOOR_SEQ,
    RATIO_PEER_SEQ,
    RATIO_FLOOR_CONC,
    RATIO_PEER_CONC,
    RATIO_FLOOR_SEQ_SHARED,
    APPROVAL_P50,
    APPROVAL_P99,
    APPROVAL_EMULATOR,
    APPROVAL_COLD,
    ARM_REQUEST_COLD,
    ARM_REQUEST_WARM,
    ARM_APPROVAL_WARM,
    ARM_APPROVAL_COLD,
    REMINDERS_FIRED,
    LATENESS_P50,
    LATENESS_P99,
    IDLE_COMMANDS,
    IDLE_TICKS,
    IDLE_CPU,
    RSS_START,
    RSS_AFTER,
    RSS_PEAK,
    SLACK_CONNECTIONS,
    *ROW_LABELS_SCALE,
)


@dataclass(frozen=True)
class Results:
    """Everything the run measured."""

    acks: AckScenario
    approvals: ApprovalResult
    scheduler: SchedulerResult
    scale: ScaleResults


def _arm(count: ArmCount) -> str:
    return f"{count.reads} reads, {count.writes} writes (+{count.tokens} token)"


def _ack_table(apps: dict[str, AckResult]) -> Table:
    order = (JITBOT, PEER, FLOOR)
    seq = {name: summarize(apps[name].sequential) for name in order}
    shared = {name: summarize(apps[name].realtime_sequential) for name in order}
    conc = {name: summarize(apps[name].concurrent) for name in order}
    jit_p99 = conc[JITBOT].p99

    def per_app(values: dict[str, float]) -> tuple[str, ...]:
        return tuple(ms(values[name]) for name in order)

    def refused(result: AckResult) -> int:
        return result.errors + result.with_body + sum(n for status, n in result.statuses.items() if status != 200)

    rows = (
        Row(ACK_P50_SEQ, per_app({n: s.p50 for n, s in seq.items()})),
        Row(ACK_P99_SEQ, per_app({n: s.p99 for n, s in seq.items()})),
        Row(ACK_P50_SEQ_SHARED, per_app({n: s.p50 for n, s in shared.items()})),
        Row(ACK_P50_CONC, per_app({n: s.p50 for n, s in conc.items()})),
        Row(ACK_P99_CONC, per_app({n: s.p99 for n, s in conc.items()}), "jitbot < 50", verdict(jit_p99 < 0.050)),
        Row(THROUGHPUT, tuple(f"{apps[name].throughput:.0f}" for name in order)),
        Row(CPU_PER_REQUEST, tuple(f"{apps[name].cpu_per_request * 1000:.2f}" for name in order)),
        Row(
            NOT_BARE_ACKS,
            tuple(f"{refused(apps[name])} of {apps[name].sent}" for name in order),
            "jitbot 0",
            verdict(refused(apps[JITBOT]) == 0),
        ),
    )
    return Table(
        "Ack of a signed `/jit ssh web-01 2h` over HTTP",
        ("jitbot", "default Bolt (peer)", "ack-only Bolt (floor)", "target", "result"),
        rows,
    )


def _ratio_table(apps: dict[str, AckResult]) -> Table:
    seq = {name: summarize(apps[name].sequential).p50 for name in apps}
    conc = {name: summarize(apps[name].concurrent).p50 for name in apps}
    shared = {name: summarize(apps[name].realtime_sequential).p50 for name in apps}
    to_floor = ratio(seq[JITBOT], seq[FLOOR])
    from_peer = ratio(seq[PEER], seq[JITBOT])
    rows = (
        Row(RATIO_FLOOR_SEQ, (times(to_floor),), "≤ 2×", verdict(to_floor <= 2.0)),
        Row(RATIO_PEER_SEQ, (times(from_peer),), "≥ 5×", verdict(from_peer >= 5.0)),
        Row(RATIO_FLOOR_CONC, (times(ratio(conc[JITBOT], conc[FLOOR])),)),
        Row(RATIO_PEER_CONC, (times(ratio(conc[PEER], conc[JITBOT])),)),
        Row(RATIO_FLOOR_SEQ_SHARED, (times(ratio(shared[JITBOT], shared[FLOOR])),)),
    )
    return Table("jitbot against the floor and the peer", ("value", "target", "result"), rows)


def _jitbot_table(results: Results) -> Table:
    approvals = results.approvals
    latency = summarize([a.latency for a in approvals.warm])
    excluded = summarize([a.emulator_time for a in approvals.warm])
    warm_writes = {a.calls.writes for a in approvals.warm}
    warm_reads = max((a.calls.reads for a in approvals.warm), default=0)
    warm_tokens = max((a.calls.tokens for a in approvals.warm), default=0)
    warm_summary = (
        f"{warm_reads} read, {'/'.join(str(w) for w in sorted(warm_writes))} write (+{warm_tokens} token), "
        f"each of {len(approvals.warm)}"
    )
    scheduler = results.scheduler
    lateness = summarize(scheduler.lateness)
    fired_all = len(scheduler.lateness) == scheduler.expected
    memory = results.acks.memory
    commands = ", ".join(
        f"{name} {count / max(1, scheduler.idle_ticks):.1f}" for name, count in sorted(scheduler.idle_commands.items())
    )
    rows = (
        Row(APPROVAL_P50, (f"{ms(latency.p50)} (n={latency.n})",)),
        Row(APPROVAL_P99, (ms(latency.p99),)),
        Row(APPROVAL_EMULATOR, (ms(excluded.mean),)),
        Row(APPROVAL_COLD, (ms(approvals.cold.latency),)),
        Row(ARM_REQUEST_COLD, (_arm(approvals.request_cold),)),
        Row(ARM_REQUEST_WARM, (_arm(approvals.request_warm),), "≤ 1 read", verdict(approvals.request_warm.reads <= 1)),
        Row(ARM_APPROVAL_WARM, (warm_summary,), "exactly 1 write", verdict(warm_writes == {1})),
        Row(
            ARM_APPROVAL_COLD,
            (_arm(approvals.cold.calls),),
            "exactly 1 write",
            verdict(approvals.cold.calls.writes == 1),
        ),
        Row(
            REMINDERS_FIRED,
            (f"{len(scheduler.lateness)} / {scheduler.expected} ({scheduler.scheduled:,} scheduled)",),
            "all",
            verdict(fired_all),
        ),
        Row(LATENESS_P50, (ms(lateness.p50),)),
        Row(LATENESS_P99, (ms(lateness.p99),), "≤ 1000", verdict(fired_all and lateness.p99 <= 1.0)),
        Row(IDLE_COMMANDS, (f"{scheduler.commands_per_tick:.1f} ({commands})",)),
        Row(IDLE_TICKS, (f"{scheduler.idle_ticks / scheduler.idle_window:.2f}",)),
        Row(IDLE_CPU, (f"{scheduler.idle_cpu_share * 100:.2f}",)),
        Row(RSS_START, (f"{memory.rss_start / MB:.1f}",)),
        Row(
            RSS_AFTER,
            (f"{memory.rss_after / MB:.1f} after {memory.requests:,} requests",),
            "≤ 120",
            verdict(memory.rss_after <= 120 * MB),
        ),
        Row(RSS_PEAK, (f"{memory.peak_after / MB:.1f}",)),
        Row(
            SLACK_CONNECTIONS,
            (f"{results.acks.slack_connections / max(1, memory.requests):.2f} (Web API and response URLs)",),
        ),
    )
    return Table("jitbot", ("value", "target", "result"), rows)


def build_tables(results: Results) -> list[Table]:
    """Every table of the report."""
    apps = results.acks.apps
    return [_ack_table(apps), _ratio_table(apps), _jitbot_table(results), *build_scale_tables(results.scale)]


def verdicts(tables: Sequence[Table]) -> list[tuple[str, str]]:
    """``(label, PASS|MISS)`` for every row that has a target."""
    return [(row.label, row.verdict) for table in tables for row in table.rows if row.verdict]


def _cells(table: Table) -> list[list[str]]:
    width = len(table.columns)
    return [[row.label, *row.values, row.target, row.verdict][: width + 1] for row in table.rows]


def render_text(tables: Sequence[Table]) -> str:
    """Fixed-width tables for the terminal."""
    out: list[str] = []
    for table in tables:
        header = ["", *table.columns]
        cells = _cells(table)
        widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
        out.append(table.title)
        out.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
        out.append("  ".join("-" * w for w in widths))
        out.extend("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells)
        out.append("")
    return "\n".join(out)


def render_markdown(tables: Sequence[Table]) -> str:
    """The same tables in GitHub Markdown."""
    out: list[str] = []
    for table in tables:
        out.append(f"### {table.title}")
        out.append("")
        out.append("| " + " | ".join(["measurement", *table.columns]) + " |")
        out.append("|" + "---|" * (len(table.columns) + 1))
        out.extend("| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in _cells(table))
        out.append("")
    return "\n".join(out)
