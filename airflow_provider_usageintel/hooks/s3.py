"""The only code that calls S3: the Amazon provider's S3Hook, with methods named for the archive.

Every S3 request the provider makes goes through :class:`ArchiveS3Hook`: listing
and heading archived objects, reading small ones (the indexes), writing small ones
whole, the multipart primitives a streaming upload is built from, and the listing
and aborting of incomplete uploads. Policy (what to archive, when an upload is
stale) lives in ``archive/``; this module only speaks S3.

The hook also cuts the fixed costs of a task's S3 client.

Every transfer task creates one S3 client and, on a re-run, mostly lists
objects. Three costs of the stock hook dominate that no-op work and are avoidable
without changing what the client does:

- ``S3Hook`` names its caller in the User-Agent by walking the call stack with
  ``inspect.stack()``, which reads the source of every frame; the operator that
  creates this hook already knows its own name.
- botocore parses every ``LastModified`` of a listing with ``dateutil``, about
  0.3 ms a key (two thirds of parsing a listing page). S3 writes them in one
  ISO 8601 form that :meth:`datetime.fromisoformat` reads far faster; anything
  else still goes to botocore's parser.
- A client's first paginator loads botocore's paginator model, and finding it
  scans every service directory of botocore's data (about 25 ms of CPU). The
  listings here follow the next-page markers themselves, as the paginators do.

It also says out loud when no Airflow connection is behind the client: boto3 then
takes the worker's default credential chain, which may write to another account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.exceptions import PaginationError
from botocore.utils import parse_timestamp

from airflow_provider_usageintel.utils.gc_pause import collector_paused

if TYPE_CHECKING:
    from airflow_provider_usageintel.archive.upload import AbortedUpload, UploadedObject

T = TypeVar("T")

#: what botocore sends with every part unless told otherwise (``request_checksum_calculation``).
PART_CHECKSUM = "CRC32"
#: error codes S3 (and moto) answer for an object that is not there.
MISSING = ("NoSuchKey", "404", "NotFound")

DEFAULT_CHAIN = "the worker's default AWS credential chain (environment, ~/.aws, instance or pod role)"


def parse_s3_timestamp(value: Any) -> dt.datetime:
    """``2024-03-15T12:00:00.000Z`` (S3's XML timestamps) directly; other forms as botocore does."""
    if isinstance(value, str) and value.endswith("Z"):
        try:
            return dt.datetime.fromisoformat(value[:-1]).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass
    parsed: dt.datetime = parse_timestamp(value)
    return parsed


@dataclass(frozen=True)
class ObjectHead:
    """What ``HeadObject`` says of one object."""

    size: int
    etag: str
    metadata: dict[str, str]


def _head(answer: Mapping[str, Any]) -> ObjectHead:
    """The :class:`ObjectHead` of a ``HeadObject`` or ``GetObject`` answer."""
    return ObjectHead(int(answer["ContentLength"]), str(answer["ETag"]), dict(answer.get("Metadata", {})))


#: where a listing's next page starts: request parameter <- member of the truncated answer.
LIST_OBJECTS_MARKERS = {"ContinuationToken": "NextContinuationToken"}
LIST_UPLOADS_MARKERS = {"KeyMarker": "NextKeyMarker", "UploadIdMarker": "NextUploadIdMarker"}


def _pages(
    operation: Callable[..., dict[str, Any]], params: Mapping[str, Any], markers: Mapping[str, str]
) -> Iterator[dict[str, Any]]:
    """Every page of a listing, each asked for with the markers the one before it answered.

    What botocore's paginators do, without loading their model (see the module's docstring).
    """
    request, previous = dict(params), None
    while True:
        page = operation(**request)
        yield page
        following = {param: page.get(member) or None for param, member in markers.items()}
        if not page.get("IsTruncated") or not any(following.values()):
            return
        if following == previous:  # a server repeating itself would page for ever
            raise PaginationError(message=f"The same next token was received twice: {following}")
        request = {**params, **{param: value for param, value in following.items() if value}}
        previous = following


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ``ClientError`` (``""`` for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def unless_missing(call: Callable[[], T]) -> T | None:
    """``call()``, or ``None`` when S3 answers that the object is not there (any other error is raised)."""
    from botocore.exceptions import ClientError

    try:
        return call()
    except ClientError as exc:
        if error_code(exc) in MISSING:
            return None
        raise


class ArchiveS3Hook(S3Hook):
    """``S3Hook`` for a known caller; its clients parse listing timestamps without ``dateutil``.

    :param caller: the operator class name the User-Agent reports (as ``S3Hook`` would find it).
    """

    def __init__(self, *args: Any, caller: str = "Unknown", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.caller = caller

    def _get_caller(self, target_function_name: str = "execute") -> str:
        return self.caller

    def get_session(self, region_name: str | None = None, deferrable: bool = False) -> Any:
        session = super().get_session(region_name=region_name, deferrable=deferrable)
        core = getattr(session, "_session", session)  # boto3 wraps the botocore session
        factory = core.get_component("response_parser_factory")
        factory.set_parser_defaults(timestamp_parser=parse_s3_timestamp)
        return session

    def get_conn(self) -> Any:
        """The client, created with the garbage collector paused (see utils/gc_pause.py)."""
        self.note_credentials()
        with collector_paused():
            return super().get_conn()

    def note_credentials(self) -> None:
        """Warn when the client falls back to the default credential chain because no connection exists."""
        if self.conn_config:
            return
        if self.aws_conn_id is None:
            self.log.info("aws_conn_id is None: S3 credentials come from %s", DEFAULT_CHAIN)
            return
        self.log.warning(
            "AWS connection %r does not exist: S3 credentials come from %s, whichever account that is. "
            "Create the connection, or pass aws_conn_id=None to use the default chain on purpose.",
            self.aws_conn_id,
            DEFAULT_CHAIN,
        )

    # -- reading ----------------------------------------------------------------------------

    def list_objects(self, bucket: str, prefix: str) -> dict[str, dict[str, Any]]:
        """Every object under ``prefix``, by key (``Size``, ``ETag``, ``LastModified``), all pages."""
        client = self.get_conn()
        pages = _pages(client.list_objects_v2, {"Bucket": bucket, "Prefix": prefix}, LIST_OBJECTS_MARKERS)
        return {item["Key"]: item for page in pages for item in page.get("Contents", [])}

    def head(self, bucket: str, key: str) -> ObjectHead:
        """Size, ETag and user metadata of one object; raises botocore's error when it is missing."""
        return _head(self.get_conn().head_object(Bucket=bucket, Key=key))

    def head_if_exists(self, bucket: str, key: str) -> ObjectHead | None:
        """Like :meth:`head`, ``None`` for a missing object."""
        return unless_missing(lambda: self.head(bucket, key))

    def read_bytes(self, bucket: str, key: str) -> bytes | None:
        """A small object whole (an index, a key file); ``None`` when it does not exist."""
        get = self.get_conn().get_object
        return unless_missing(lambda: bytes(get(Bucket=bucket, Key=key)["Body"].read()))

    def open_object(self, bucket: str, key: str) -> tuple[ObjectHead, Any]:
        """An object's head and a streaming body of all its bytes, from one GET: the two always agree.

        For reading an object whole without holding it (checking its SHA-256); the caller
        closes the body.
        """
        answer = self.get_conn().get_object(Bucket=bucket, Key=key)
        return _head(answer), answer["Body"]

    def open_range(self, bucket: str, key: str, start: int, end: int, etag: str) -> Any:
        """A streaming body of bytes ``start`` to ``end`` (inclusive) of the object, if it still has ``etag``.

        A changed object raises botocore's ``PreconditionFailed`` error.
        """
        answer = self.get_conn().get_object(
            Bucket=bucket, Key=key, Range=f"bytes={start}-{end}", IfMatch=etag
        )
        return answer["Body"]

    # -- writing ----------------------------------------------------------------------------

    def put_bytes(
        self,
        bucket: str,
        key: str,
        body: bytes | bytearray,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Write one object whole in one request: it appears complete or not at all."""
        self.get_conn().put_object(
            Bucket=bucket, Key=key, Body=body, ContentType=content_type, Metadata=dict(metadata or {})
        )

    def delete(self, bucket: str, key: str) -> None:
        """Remove one object; removing one that does not exist is not an error (S3 answers 204)."""
        self.get_conn().delete_object(Bucket=bucket, Key=key)

    def copy(self, bucket: str, source_key: str, target_key: str) -> None:
        """Copy an object within the bucket, metadata included, server-side (one request up to 5 GiB)."""
        self.get_conn().copy_object(
            Bucket=bucket, Key=target_key, CopySource={"Bucket": bucket, "Key": source_key}
        )

    def upload_stream(self, bucket: str, key: str, chunks: Iterable[bytes], **options: Any) -> UploadedObject:
        """Stream ``chunks`` into one object that appears only when complete (see archive/upload.py)."""
        from airflow_provider_usageintel.archive.upload import StreamingUpload

        return StreamingUpload(self, bucket, key, **options).run(chunks)

    # -- multipart uploads ------------------------------------------------------------------

    @cached_property
    def part_checksum(self) -> dict[str, str]:
        """The checksum botocore already sends with each part, declared as boto3's managed upload does.

        S3 then checks every part and keeps a composite checksum of the object; left
        undeclared, S3 (and moto) computes a full-object CRC64 of its own on completion.
        """
        config = getattr(getattr(self.get_conn(), "meta", None), "config", None)
        if getattr(config, "request_checksum_calculation", "when_supported") != "when_supported":
            return {}
        return {"ChecksumAlgorithm": PART_CHECKSUM}

    def start_upload(self, bucket: str, key: str, *, content_type: str, metadata: Mapping[str, str]) -> str:
        """Begin a multipart upload; returns its id. Nothing is visible until :meth:`complete_upload`."""
        answer = self.get_conn().create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type, Metadata=dict(metadata), **self.part_checksum
        )
        return str(answer["UploadId"])

    def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, body: bytearray
    ) -> dict[str, Any]:
        """Send part ``number``; returns what :meth:`complete_upload` needs of it."""
        checksum = self.part_checksum
        answer = self.get_conn().upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body, **checksum
        )
        part = {"PartNumber": number, "ETag": answer["ETag"]}
        member = f"Checksum{PART_CHECKSUM}"
        if checksum and member in answer:
            part[member] = answer[member]  # completing needs every declared part checksum
        return part

    def complete_upload(self, bucket: str, key: str, upload_id: str, parts: list[dict[str, Any]]) -> None:
        """Join ``parts`` (from :meth:`upload_part`, in order) into the object, which appears now."""
        self.get_conn().complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """Drop an unfinished upload and the parts S3 holds (and bills) for it."""
        self.get_conn().abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)

    def incomplete_uploads(self, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
        """Multipart uploads under ``prefix`` that were neither completed nor aborted (``Key``, ``UploadId``,
        ``Initiated``)."""
        client = self.get_conn()
        pages = _pages(
            client.list_multipart_uploads, {"Bucket": bucket, "Prefix": prefix}, LIST_UPLOADS_MARKERS
        )
        for page in pages:
            yield from page.get("Uploads", [])

    def abort_stale_uploads(
        self,
        bucket: str,
        prefix: str,
        owns: Callable[[str], bool],
        older_than: dt.timedelta,
        log: Any = None,
    ) -> list[AbortedUpload]:
        """Abort leftovers of killed runs under ``prefix`` (the rule is in archive/upload.py)."""
        from airflow_provider_usageintel.archive.upload import abort_stale_uploads

        return abort_stale_uploads(self, bucket, prefix, owns, older_than, log)
