"""The synthetic client population and the file calendar, without a server."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from airflow_provider_usageintel.api.files import FileKind, Frequency
from airflow_provider_usageintel.emulator.config import EmulatorConfig
from airflow_provider_usageintel.emulator.files import (
    BLOCK_TARGET,
    MIN_BODY_BYTES,
    Dataset,
    FileCatalog,
    FileSpec,
    closed_months,
    columns,
    file_name,
)
from airflow_provider_usageintel.emulator.population import PRODUCT_PROPERTIES

TODAY = dt.date(2024, 3, 15)


def dataset(**overrides) -> Dataset:
    return Dataset(EmulatorConfig(**{"today": TODAY, **overrides}))


def test_population_is_deterministic_per_seed_and_product():
    assert dataset(seed=3).clients("1") == dataset(seed=3).clients("1")
    assert dataset(seed=3).clients("1") != dataset(seed=4).clients("1")
    assert dataset(seed=3).clients("1") != dataset(seed=3).clients("2")
    assert len(dataset(clients_per_product=17).clients("1")) == 17


def test_clients_are_plausible():
    clients = dataset().clients("1")
    assert len({c.client_id for c in clients}) == len(clients)
    for client in clients:
        assert client.date_installed <= client.date_last_seen < TODAY
        assert len(client.client_id) == 16
        int(client.client_id, 16)
        assert client.os_version.startswith(client.os_platform) or client.os_platform in ("Linux", "macOS")
        assert client.os_edition.startswith(client.os_version)
        assert (client.us_state is not None) == (client.country == "US")
        assert not (client.license_blocked and client.license_allowed)
    assert {c.churned for c in clients} == {True, False}


def test_every_listed_property_has_a_value():
    client = dataset().clients("1")[0]
    for spec in PRODUCT_PROPERTIES:
        names = [f"{spec.name}.{part}" for part in spec.parts] if spec.parts else [spec.name]
        for name in names:
            value = client.property_value(name)
            assert value is None or isinstance(value, str | int | bool | dt.date), name
    assert client.property_value("geography.country") == client.country
    with pytest.raises(KeyError, match="unknown client property"):
        client.property_value("shoeSize")


def test_activity_follows_the_lifetime():
    for client in dataset().clients("1"):
        assert not client.is_active(client.date_installed - dt.timedelta(days=1))
        assert client.is_active(client.date_installed)
        assert client.is_active(client.date_last_seen)
        if client.churned:
            assert not client.is_active(client.date_last_seen + dt.timedelta(days=1))


@pytest.mark.parametrize(
    ("start", "today", "expected"),
    [
        (
            dt.date(2024, 1, 15),
            dt.date(2024, 3, 15),
            [("2024-01-15", "2024-01-31"), ("2024-02-01", "2024-02-29")],
        ),
        (dt.date(2024, 1, 15), dt.date(2024, 1, 31), []),
        (dt.date(2024, 1, 15), dt.date(2024, 2, 1), [("2024-01-15", "2024-01-31")]),
        (dt.date(2023, 12, 1), dt.date(2024, 1, 1), [("2023-12-01", "2023-12-31")]),
    ],
)
def test_closed_months(start, today, expected):
    months = closed_months(start, today)
    assert [(a.isoformat(), b.isoformat()) for a, b in months] == expected


def test_file_names():
    day = dt.date(2024, 3, 1)
    assert file_name("42", FileKind.CUSTOM_EVENTS, day) == "42_cust_2024-03-01.zip"
    assert (
        file_name("42", FileKind.EXCEPTIONS, day, dt.date(2024, 3, 31))
        == "42_exc_2024-03-01_to_2024-03-31.zip"
    )
    assert file_name("42", FileKind.RAW_EVENTS, day) == "42_2024-03-01.zip"


def test_catalogue_sizes_vary_but_stay_near_the_target():
    config = EmulatorConfig(today=TODAY, file_size_kb=64)
    catalog = FileCatalog(Dataset(config), config)
    specs = catalog.files("1", FileKind.CUSTOM_EVENTS, TODAY)
    final = [s.size for s in specs if s.frequency is not Frequency.OPEN]
    assert len(set(final)) > len(final) // 2
    assert all(0.8 * 64 * 1024 <= size <= 1.2 * 64 * 1024 for size in final)
    assert specs[0].frequency is Frequency.OPEN
    assert specs[0].size < 0.7 * 64 * 1024, "today's file is still growing"


def test_config_is_validated():
    with pytest.raises(ValueError, match="product_ids"):
        EmulatorConfig(product_ids=["abc"])
    with pytest.raises(ValueError, match="days"):
        EmulatorConfig(days=0)
    assert EmulatorConfig(product_ids=[42]).product_ids == ["42"]
    with pytest.raises(ValueError, match="size_bytes"):
        config = EmulatorConfig(today=TODAY, file_sizes={"1_cust_2024-03-01.zip": 5})
        FileCatalog(Dataset(config), config)


def catalog(**overrides: Any) -> FileCatalog:
    config = EmulatorConfig(**{"today": TODAY, **overrides})
    return FileCatalog(Dataset(config), config)


@pytest.mark.parametrize("kind", list(FileKind))
def test_a_big_file_repeats_a_small_block_of_distinct_rows(kind: FileKind) -> None:
    files = catalog(file_size_kb=4096)
    spec = files.files("1", kind, TODAY)[3]
    stored = files.stored_zip(spec)
    payload = stored.read_all()
    assert len(payload) == spec.size, "the listed size is exact"
    archive = zipfile.ZipFile(io.BytesIO(payload))
    assert archive.testzip() is None
    text = archive.read(spec.member_name).decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == [key for key, _ in columns(kind)]
    assert all(len(row) == len(rows[0]) for row in rows)
    block = stored.content.block
    assert BLOCK_TARGET <= len(block) < BLOCK_TARGET + MIN_BODY_BYTES
    block_rows = block.count(b"\r\n")
    assert len(set(block.split(b"\r\n"))) == block_rows + 1, "the rows of the block are distinct"
    assert len({tuple(row) for row in rows[1:-1]}) == block_rows, "the rest repeats them"
    assert block_rows > 150
    assert catalog(file_size_kb=4096).stored_zip(spec).read_all() == payload, "fixed by name and size"
    assert files.stored_zip(files.files("1", kind, TODAY)[4]).content.block != block


def test_a_file_smaller_than_the_block_holds_distinct_rows_only() -> None:
    files = catalog(file_size_kb=16)
    spec = files.files("1", FileKind.CUSTOM_EVENTS, TODAY)[3]
    stored = files.stored_zip(spec)
    text = zipfile.ZipFile(io.BytesIO(stored.read_all())).read(spec.member_name).decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    assert len(rows) > 20
    assert len({tuple(row) for row in rows}) == len(rows)


def test_listings_are_cached_per_day_and_follow_pinned_sizes() -> None:
    files = catalog()
    kind = FileKind.CUSTOM_EVENTS
    first = files.files("1", kind, TODAY)
    assert files.files("1", kind, TODAY) == first
    first.clear()
    listed = files.files("1", kind, TODAY)
    assert listed, "callers get a copy, never the cached listing"
    daily = listed[5]
    assert files.find("1", kind, daily.name, TODAY) == daily
    assert files.find("1", FileKind.EXCEPTIONS, daily.name, TODAY) is None
    assert files.find("2", kind, daily.name, TODAY) is None
    files.set_size(daily.name, 100_000)
    found = files.find("1", kind, daily.name, TODAY)
    assert found is not None and found.size == 100_000
    assert files.files("1", kind, TODAY)[5].size == 100_000
    tomorrow = TODAY + dt.timedelta(days=1)
    moved = files.files("1", kind, tomorrow)
    assert moved[0].name == file_name("1", kind, tomorrow)
    yesterdays_open = files.find("1", kind, listed[0].name, tomorrow)
    assert yesterdays_open is not None and yesterdays_open.frequency is Frequency.DAILY
    assert yesterdays_open.size > listed[0].size, "a final file is no longer growing"
    assert files.find("1", kind, listed[0].name, TODAY) == listed[0], "each day keeps its own listing"


class _PinDuringListing(FileCatalog):
    """A catalogue where a size is pinned while a listing is being computed, as another thread could."""

    pin: tuple[str, int] | None = None

    def _list(self, product_id: str, kind: FileKind, today: dt.date) -> list[FileSpec]:
        specs = super()._list(product_id, kind, today)
        if self.pin is not None:
            pin, self.pin = self.pin, None
            self.set_size(*pin)
        return specs


def test_a_listing_computed_across_a_pin_is_not_kept() -> None:
    config = EmulatorConfig(today=TODAY)
    files = _PinDuringListing(Dataset(config), config)
    name = file_name("1", FileKind.EXCEPTIONS, dt.date(2024, 3, 1))
    files.pin = (name, 123_456)
    files.files("1", FileKind.EXCEPTIONS, TODAY)
    found = files.find("1", FileKind.EXCEPTIONS, name, TODAY)
    assert found is not None and found.size == 123_456


def test_concurrent_pins_and_listings_end_with_every_pin_listed() -> None:
    files = catalog(days=120)
    kind = FileKind.RAW_EVENTS
    names = [spec.name for spec in files.files("1", kind, TODAY)[:40]]

    def work(index: int) -> None:
        if index % 2:
            files.set_size(names[index // 2], 100_000 + index)
        else:
            files.files("1", kind, TODAY)
            files.find("1", kind, names[index // 2], TODAY)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(2 * len(names))))
    sizes = {spec.name: spec.size for spec in files.files("1", kind, TODAY)}
    assert [sizes[name] for name in names] == [100_000 + 2 * i + 1 for i in range(len(names))]
