"""Ports as people write them: ``ssh``, ``rdp``, ``winrm``, numbers, and comma lists of those."""

from __future__ import annotations

import difflib
import re

from bot.grammar.errors import EXAMPLE_PORTS, ExampleFn, GrammarError
from bot.grammar.text import fold, shown
from jit.model import WELL_KNOWN_PORTS

MAX_PORTS = 20
_PORT_NUMBER = re.compile(r"[0-9]{1,5}", re.ASCII)


def join_spaced_port_list(words: list[str]) -> list[str]:
    """`ssh, rdp web-01 2h` → `ssh,rdp web-01 2h`: people put spaces after commas."""
    if not words:
        return words
    head = words[0]
    index = 1
    while index < len(words) and (head.endswith(",") or words[index].startswith(",")):
        head += words[index]
        index += 1
    return [head, *words[index:]]


def looks_like_ports(token: str) -> bool:
    """True when ``token`` is shaped like ports (names or numbers), even out of range: it was meant as ports."""
    parts = token.split(",")
    return all(p in WELL_KNOWN_PORTS or _PORT_NUMBER.fullmatch(p) for p in parts) and bool(parts)


def parse_ports_token(token: str, example: ExampleFn) -> tuple[int, ...]:
    """The ports in ``token``, in order and without repeats; GrammarError with ``example(corrected ports)``."""
    folded = fold(token).lower()
    ports: list[int] = []
    for part in folded.split(","):
        if not part:
            raise GrammarError(
                f"{shown(token)} has an empty item; separate ports with single commas.",
                example("ssh,8080"),
            )
        if part in WELL_KNOWN_PORTS:
            ports.extend(WELL_KNOWN_PORTS[part])
            continue
        if _PORT_NUMBER.fullmatch(part) and 1 <= int(part) <= 65535:
            ports.append(int(part))
            continue
        if re.fullmatch(r"[0-9]+", part, re.ASCII):
            problem = f"Port {shown(part, 12)} is out of range: ports are 1 to 65535."
        elif re.fullmatch(r"[0-9]+-[0-9]+", part, re.ASCII):
            problem = f"{shown(part)} is a range; list the ports you need, separated by commas."
        else:
            guess = difflib.get_close_matches(part, list(WELL_KNOWN_PORTS), n=1, cutoff=0.6)
            hint = f" Did you mean `{guess[0]}`?" if guess else ""
            problem = (
                f"{shown(part)} is not a port. Use ssh (22), rdp (3389), winrm (5985, 5986), "
                f"a number from 1 to 65535, or a comma list like `ssh,8080`.{hint}"
            )
        good = [p for p in folded.split(",") if p in WELL_KNOWN_PORTS or _valid_port_number(p)]
        raise GrammarError(problem, example(",".join(good) or EXAMPLE_PORTS))
    unique = tuple(dict.fromkeys(ports))
    if len(unique) > MAX_PORTS:
        raise GrammarError(
            f"That is {len(unique)} ports; ask for at most {MAX_PORTS} at a time.",
            example(",".join(str(p) for p in unique[:3])),
        )
    return unique


def valid_ports_token(token: str) -> bool:
    """True when ``token`` is a ports list a command accepts."""
    parts = token.split(",")
    return all(p in WELL_KNOWN_PORTS or _valid_port_number(p) for p in parts) and len(parts) <= MAX_PORTS


def _valid_port_number(part: str) -> bool:
    return bool(_PORT_NUMBER.fullmatch(part)) and 1 <= int(part) <= 65535


def ports_text(ports: tuple[int, ...]) -> str:
    """The ports as a command writes them (``ssh,8080``; ``winrm`` for 5985 and 5986 together)."""
    names = {v: k for k, v in WELL_KNOWN_PORTS.items() if len(v) == 1}
    out: list[str] = []
    remaining = list(ports)
    if 5985 in remaining and 5986 in remaining:
        remaining = [p for p in remaining if p != 5986]
    for port in remaining:
        out.append("winrm" if port == 5985 and 5986 in ports else names.get((port,), str(port)))
    return ",".join(out)
