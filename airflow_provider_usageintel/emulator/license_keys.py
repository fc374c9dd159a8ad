"""The license key registry: one per product, seeded from the population, changed by writes.

Seed 000, for insert (POST) and update (PATCH) alike: "A single batch can contain both
new and existing keys to be inserted or updated accordingly". So a write inserts the keys
the registry does not know (a key without ``licenseKey`` gets a generated one) and
updates those it knows, in batch order, under one lock. Filters use the typed entries of
global filters (``{"type": "dateRange", "min": ...}``), a plain value or a list of values;
sorting is ``{"<field>": "asc"|"desc", ...}``, applied in order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow_provider_usageintel.emulator.app import ApiError
from airflow_provider_usageintel.emulator.files import Dataset
from airflow_provider_usageintel.emulator.filtering import flag_test, value_test
from airflow_provider_usageintel.emulator.population import Client
from airflow_provider_usageintel.emulator.randomness import stable_unit

#: keys of the first clients (by index) that the registry knows from the start.
SEEDED_KEYS = 40
STATUS_FLAGS: tuple[str, ...] = ("activated", "blocked", "expired", "allowed")
#: the registry's older names for two flags.
FLAG_ALIASES: Mapping[str, str] = {"blacklisted": "blocked", "whitelisted": "allowed"}
SORTABLE: tuple[str, ...] = (
    "licenseKey",
    "licenseType",
    "installQuota",
    "notes",
    "addedDate",
    "expiryDate",
    "autoCollected",
    "clientCount",
    "overQuotaCount",
)
FILTERABLE: tuple[str, ...] = (*SORTABLE, "licenseStatus")
#: days a key stays valid after it was added, by license type (absent: no expiry).
VALIDITY_DAYS: Mapping[str, int] = {"trial": 30, "subscription": 365}

Record = dict[str, Any]
RecordTest = Callable[[Record], bool]


def _flags(given: Mapping[str, bool] | None, base: Mapping[str, bool] | None = None) -> dict[str, bool]:
    flags = dict(base or dict.fromkeys(STATUS_FLAGS, False))
    for name, value in (given or {}).items():
        flags[FLAG_ALIASES.get(name, name)] = value
    return flags


def _expiry(license_type: str, added: dt.date) -> str | None:
    days = VALIDITY_DAYS.get(license_type)
    return None if days is None else (added + dt.timedelta(days=days)).isoformat()


def _with_quota(record: Record) -> Record:
    record["overQuotaCount"] = record["clientCount"] - record["installQuota"]
    return record


def seeded_record(client: Client, seed: int) -> Record:
    """The registry entry of a key the SDK reported from ``client``."""
    flags = {
        "activated": client.license_activated,
        "blocked": client.license_blocked,
        "expired": client.license_expired,
        "allowed": client.license_allowed,
    }
    return _with_quota(
        {
            "licenseKey": client.license_key,
            "licenseType": client.license_type,
            "licenseStatus": flags,
            "installQuota": 1 + int(stable_unit(seed, client.license_key) * 5),
            "notes": "",
            "addedDate": client.date_installed.isoformat(),
            "expiryDate": _expiry(client.license_type, client.date_installed),
            "autoCollected": True,
            "clientCount": 1,
        }
    )


# --------------------------------------------------------------------------- search


def _field_test(field: str, entry: Any) -> RecordTest:
    if field == "licenseStatus":
        test = flag_test([entry] if isinstance(entry, Mapping) else entry)
        return lambda record: test(lambda flag: record["licenseStatus"].get(FLAG_ALIASES.get(flag, flag)))
    if isinstance(entry, Mapping):
        typed = value_test(entry)
        return lambda record: typed(record.get(field))
    if isinstance(entry, list):
        return lambda record: record.get(field) in entry
    return lambda record: record.get(field) == entry


def record_filter(filters: Mapping[str, Any]) -> RecordTest:
    """Every filter must hold; unknown fields are refused like unknown properties."""
    for field in filters:
        if field not in FILTERABLE:
            raise ApiError(422, f"filters.{field}: unknown field (allowed: {', '.join(FILTERABLE)})")
    tests = [_field_test(field, entry) for field, entry in filters.items()]
    return lambda record: all(test(record) for test in tests)


def sort_records(records: list[Record], sorting: Mapping[str, Any]) -> list[Record]:
    """Sort by each field in turn (the first one wins); missing values always come last."""
    for field, direction in sorting.items():
        if field not in SORTABLE or direction not in ("asc", "desc"):
            raise ApiError(
                422,
                f"sorting.{field}: expected a sortable field and asc or desc (fields: {', '.join(SORTABLE)})",
            )
    for field, direction in reversed(list(sorting.items())):
        present = [r for r in records if r.get(field) is not None]
        present.sort(key=lambda r: r[field], reverse=direction == "desc")
        records = present + [r for r in records if r.get(field) is None]
    return records


# --------------------------------------------------------------------------- the registry


class LicenseKeyRegistry:
    """Keys per product for the life of one server."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._products: dict[str, dict[str, Record]] = {}
        self._generated = 0
        self._lock = threading.Lock()

    def _keys(self, product_id: str) -> dict[str, Record]:
        if product_id not in self._products:
            population = self.dataset.population(product_id)
            seed = self.dataset.seed
            records = (
                seeded_record(population.client(i), seed) for i in range(min(SEEDED_KEYS, population.size))
            )
            self._products[product_id] = {r["licenseKey"]: r for r in records}
        return self._products[product_id]

    def search(
        self, product_id: str, filters: Mapping[str, Any], sorting: Mapping[str, Any], start: int, size: int
    ) -> tuple[int, list[Record]]:
        """``(matching count, one page)`` of copies of the stored records."""
        test = record_filter(filters)
        with self._lock:
            matching = [dict(r) for r in self._keys(product_id).values() if test(r)]
        ordered = sort_records(matching, sorting or {"licenseKey": "asc"})
        return len(ordered), ordered[start : start + size]

    def upsert(self, product_id: str, batch: Sequence[Mapping[str, Any]], today: dt.date) -> list[Record]:
        """Insert the unknown keys of ``batch`` and update the known ones; the stored records, in order."""
        with self._lock:
            keys = self._keys(product_id)
            stored = []
            for fields in batch:
                known = keys.get(fields.get("licenseKey") or "")
                record = _merge(known, fields) if known else self._new(product_id, fields, today)
                keys[record["licenseKey"]] = record
                stored.append(dict(record))
            return stored

    def _new(self, product_id: str, fields: Mapping[str, Any], today: dt.date) -> Record:
        license_type = fields.get("licenseType", "purchased")
        record: Record = {
            **fields,
            "licenseKey": fields.get("licenseKey") or self._generate(product_id),
            "licenseType": license_type,
            "licenseStatus": _flags(fields.get("licenseStatus")),
            "installQuota": fields.get("installQuota", 1),
            "notes": fields.get("notes", ""),
            "addedDate": today.isoformat(),
            "expiryDate": fields.get("expiryDate", _expiry(license_type, today)),
            "autoCollected": False,
            "clientCount": 0,
        }
        return _with_quota(record)

    def _generate(self, product_id: str) -> str:
        """A new key, fixed by the seed and how many were generated before (like the rest of the data)."""
        self._generated += 1
        digest = hashlib.blake2b(
            f"license|{self.dataset.seed}|{product_id}|{self._generated}".encode(), digest_size=16
        )
        return str(uuid.UUID(bytes=digest.digest(), version=4))


def _merge(record: Record, fields: Mapping[str, Any]) -> Record:
    merged = {
        **record,
        **fields,
        "licenseStatus": _flags(fields.get("licenseStatus"), record["licenseStatus"]),
    }
    return _with_quota(merged)
