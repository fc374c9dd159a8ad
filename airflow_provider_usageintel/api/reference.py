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


def _call(ep: Endpoint) -> str:
    also = "".join(f"<br>also `{ep.method} {path}`" for path in ep.aliases)
    return f"`{ep.method} {ep.path}`{also}"


def _product_id(ep: Endpoint) -> str:
    if ep.falls_back and ep.aliases:
        return "path; the other path when none is known or on 404"
    if ep.product_id_in_body:
        return f"body `{ep.body_product_id}` (integer); path on the other path"
    return "path" if ep.takes_product_id else ""


def _payload(ep: Endpoint) -> str:
    text = f"`{ep.result_key}`" if ep.result_key else "whole body"
    if ep.errors_in_body:
        text += "; errors: HTTP 200 with `status`, `reason`"
    return text


def _retried(ep: Endpoint) -> str:
    if ep.retry_safe:
        return "yes"
    if ep.idempotent_key:
        return f"when every key names `{ep.idempotent_key}`"
    return "**no** (write)"


def _body(ep: Endpoint) -> str:
    if ep.method == "GET":
        return "query " + ", ".join(f"`{name}`" for name in ep.query) if ep.query else ""
    parts = ["any text (`*/*`)" if ep.body_media == "*/*" else "object"]
    if ep.accepts_batch:
        parts.append("array of objects")
    return " or ".join(parts)


def _row(ep: Endpoint) -> str:
    name = f"`{ep.name}`" + (" (report)" if ep.name in REPORT_NAMES else "")
    cells = (
        name,
        _call(ep),
        ep.summary,
        _body(ep),
        _payload(ep),
        _product_id(ep),
        _PAGING_TEXT[ep.paging],
        _retried(ep),
    )
    return "| " + " | ".join(cells) + " |"


def render() -> str:
    lines = [
        "# Usage Intelligence endpoint reference",
        "",
        "<!-- Generated from airflow_provider_usageintel/api/endpoints.py by",
        "     `python -m airflow_provider_usageintel.api.reference docs/endpoints.md`. Do not edit. -->",
        "",
        "Every call the hook makes and the emulator serves, from one table. Names marked *report*",
        "are accepted by `UsageIntelligenceHook.run_report()` and `UsageIntelligenceReportOperator`;",
        "both return the whole JSON answer, whose *payload* key holds the data (see",
        "[Reports](reports.md) for each answer's shape). Paths listed as *also* are other",
        "spellings of the same call: the emulator serves them too, and the connection's extra",
        '`endpoint_paths` (`{"<name>": "<path>"}`) selects one. Calls that are not safe to retry',
        "are never re-sent once they may have reached the server. A `200` answer whose `status`",
        "is not `OK` is an error wherever it comes from.",
        "",
    ]
    for group, endpoints in groupby(ENDPOINTS, key=lambda e: e.group):
        lines += [
            f"## {group}",
            "",
            "| name | call | what it returns | body | payload | product id | paging | retried |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
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
