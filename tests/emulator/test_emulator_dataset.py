"""The synthetic client population and the file calendar, without a server."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_usageintel.api.files import FileKind, Frequency
from airflow_provider_usageintel.emulator.config import EmulatorConfig
from airflow_provider_usageintel.emulator.dataset import (
    PRODUCT_PROPERTIES,
    Dataset,
    FileCatalog,
    closed_months,
    file_name,
)

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
