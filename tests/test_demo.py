"""``make demo`` runs end to end: emulator and moto on loopback, files land in S3 verified."""

from __future__ import annotations

from airflow_provider_usageintel import demo


def test_demo_archives_and_verifies_every_file(capsys, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT", raising=False)
    assert demo.main() == 0
    out = capsys.readouterr().out
    assert "Usage Intelligence emulator: http://127.0.0.1:" in out
    summary = out.strip().splitlines()[-1]
    files = int(summary.split()[0])
    assert files > 40 and f"{files}/{files} verified by SHA-256" in summary
    assert "/monthly/" in out and "/raw_events/daily/" in out
