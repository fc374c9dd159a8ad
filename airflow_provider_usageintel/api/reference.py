"""Render the endpoint reference page from the endpoint table.

``python -m airflow_provider_usageintel.api.reference docs/endpoints.md``
rewrites the page; a test fails when the committed page differs from the
table, so the docs cannot drift from the code.
"""

from __future__ import annotations

import sys
from itertools import groupby

from airflow_provider_usageintel.api.endpoints import ENDPOINTS, REPORT_NAMES, Endpoint, Paging

_PAGING_TEXT = {
    Paging.NONE: "",
    Paging.CLIENT_ID: "`startAtClientId` / `nextClientId`, `reachedEnd`",
    Paging.START_AFTER: "`startAfter` (last value of the previous page)",
    Paging.OFFSET: "`paging.startAt` / `paging.maxResults`",
}


def _row(ep: Endpoint) -> str:
    name = f"`{ep.name}`" + (" (report)" if ep.name in REPORT_NAMES else "")
    result = f"`{ep.result_key}`" if ep.result_key else "whole body"
    retry = "yes" if ep.retry_safe else "**no** (write)"
    return (
        f"| {name} | `{ep.method} {ep.path}` | {ep.summary} | {result} | "
        f"{_PAGING_TEXT[ep.paging]} | {retry} |"
    )


def render() -> str:
    lines = [
        "# Usage Intelligence endpoint reference",
        "",
        "<!-- Generated from airflow_provider_usageintel/api/endpoints.py by",
        "     `python -m airflow_provider_usageintel.api.reference docs/endpoints.md`. Do not edit. -->",
        "",
        "Every call the hook makes and the emulator serves, from one table. Names marked *report*",
        "are accepted by `UsageIntelligenceHook.run_report()` and `UsageIntelligenceReportOperator`.",
        "Calls that are not safe to retry are never re-sent once they may have reached the server.",
        "",
    ]
    for group, endpoints in groupby(ENDPOINTS, key=lambda e: e.group):
        lines += [
            f"## {group}",
            "",
            "| name | call | what it returns | payload | paging | retried |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        lines += [_row(ep) for ep in endpoints]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args:
        with open(args[0], "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
