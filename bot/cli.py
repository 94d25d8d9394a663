"""``jitbot`` command line: serve, doctor, sandbox, audit export."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from jit.settings import SettingsError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jitbot", description="Just-in-time Azure VM access from Slack.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP)")
    serve.add_argument("--host", default=None, help="listen address (env HOST, default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=None, help="listen port (env PORT, default 3000)")
    commands.add_parser("doctor", help="check configuration and dependencies; exit non-zero on any failure")
    sandbox = commands.add_parser("sandbox", help="the whole system on this machine, no Slack or Azure account")
    sandbox.add_argument("--port", type=int, default=3000, help="port of the sandbox web page (default 3000)")
    sandbox.add_argument("--host", default="127.0.0.1", help="address of the sandbox web page")
    audit = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    export = audit_commands.add_parser("export", help="write the audit trail as JSON lines to stdout")
    export.add_argument("--since", default=None, help="only records at or after this ISO 8601 time")
    export.add_argument("--until", default=None, help="only records before this ISO 8601 time")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jitbot`` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            from bot.process import serve

            return asyncio.run(serve(host=args.host, port=args.port))
        if args.command == "doctor":
            from bot.doctor import run_doctor

            return asyncio.run(run_doctor())
        if args.command == "sandbox":
            from sandbox.run import run_sandbox

            return asyncio.run(run_sandbox(host=args.host, port=args.port))
        if args.command == "audit":
            from bot.audit_export import export_audit

            return asyncio.run(export_audit(since=args.since, until=args.until, out=sys.stdout))
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
