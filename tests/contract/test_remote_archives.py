"""`secretwatch scan s3://...` and `az://...` read archives in place, as they read the same tree from a folder.

S3 is moto's server over real HTTP (reached through AWS_ENDPOINT_URL_S3, as a user would point at any S3
endpoint); Azure Blob is Azurite's; Cloud Storage is gcp-storage-emulator's (through STORAGE_EMULATOR_HOST).
"""

from __future__ import annotations

import builtins
import gzip
import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from core.cli import main
from core.errors import InputError
from core.inputs import open_inputs, read_documents
from tests.azurite_blob import AzuriteBlob, shared_azurite_blob
from tests.contract.backend_dynamodb import FAKE_AWS_ENVIRONMENT
from tests.gcs_emulator import shared_gcs_emulator
from tests.unit.test_archives import GKE_SINK_ALERTS

ARCHIVES = Path(__file__).resolve().parents[1] / "fixtures" / "archives"
REPO = ARCHIVES.parents[2]
WIRE = ARCHIVES.parent
EKS_ALERTS = {
    "secret-access-unusual-user-agent": 2,
    "secret-access-suspicious-user-agent": 1,
    "secret-access-by-node-or-pod-sa": 1,
}


def scan(capsys: pytest.CaptureFixture[str], *arguments: str, code: int = 0) -> tuple[Counter[str], str]:
    """The alerts raised per rule, and what the run printed on stderr."""
    assert main(["scan", *arguments, "--state", "memory", "--output", "jsonl"]) == code
    out, err = capsys.readouterr()
    return Counter(json.loads(line)["rule_id"] for line in out.splitlines()), err


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by its path relative to it: how the cloud named the objects."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


# --- s3:// under moto -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An S3 client on moto, with the environment secretwatch reads pointing there too (fake credentials)."""
    import boto3

    for name, value in FAKE_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return boto3.client("s3")


def new_bucket(s3: Any, objects: dict[str, bytes] | None = None) -> str:
    bucket = f"archives-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    for key, data in (objects or {}).items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    return bucket


def test_an_eks_export_read_in_place_from_s3_raises_what_the_downloaded_folder_raises(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = new_bucket(s3, tree(ARCHIVES / "eks_export"))

    alerts, summary = scan(capsys, f"s3://{bucket}/exportedlogs")

    assert alerts == EKS_ALERTS
    assert "7 documents, 3 events (aws 3)" in summary
    assert "truncated_message 1" in summary
    assert "other_log_stream 3" in summary


def test_what_a_cloudwatch_export_task_writes_to_s3_is_read_back_as_the_events_put(
    s3: Any, moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """moto's CreateExportTask writes the layout and framing itself (task id folder, stream folder, 000000.gz,
    `<time> <message>`): the events the cluster logged come back. (moto refuses log events older than 14 days,
    so they are logged as if ingested now: the audit events keep their own times.)"""
    import boto3

    logs = boto3.client("logs")
    data = json.loads((WIRE / "eks/data_message_audit.json").read_text())
    group, stream = data["logGroup"], data["logStream"]
    now = int(time.time() * 1000) - 60_000
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": now + index, "message": item["message"]} for index, item in enumerate(data["logEvents"])
        ],
    )
    bucket = new_bucket(s3)
    logs.create_export_task(
        logGroupName=group, fromTime=0, to=2**41, destination=bucket, destinationPrefix="exportedlogs"
    )

    alerts, summary = scan(capsys, f"s3://{bucket}/exportedlogs/")

    assert alerts == EKS_ALERTS
    # three audit events, the cut one, and a klog line in the audit stream itself
    assert "5 documents, 3 events (aws 3)" in summary
    assert "invalid_json 1, truncated_message 1" in summary


def test_a_prefix_is_a_folder_not_the_start_of_other_names(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    live = (ARCHIVES / "apiserver/var/log/kubernetes/audit/audit.log").read_bytes()
    bucket = new_bucket(s3, {"audit/audit.log": live, "audit-old/audit.log": b"not read\n"})

    _, summary = scan(capsys, f"s3://{bucket}/audit")

    assert "1 documents, 1 events (k8s 1)" in summary


def test_listing_sizes_feed_the_progress_meter_except_for_gzip(s3: Any) -> None:
    objects = tree(ARCHIVES / "gke_sink") | {"x/000000.gz": b"\x1f\x8b"}
    bucket = new_bucket(s3, objects)

    with ExitStack() as stack:
        sizes = {item.name: item.size for item in open_inputs([f"s3://{bucket}"], stack)}

    assert sizes == {f"s3://{bucket}/{key}": 0 if key.endswith(".gz") else len(data) for key, data in objects.items()}


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "s3://no-such-bucket-{id}/logs",
            "cannot list s3://no-such-bucket-{id}/logs: no such bucket 'no-such-bucket-{id}'",
        ),
        ("s3://{bucket}/nothing-here", "cannot read s3://{bucket}/nothing-here: no objects under this prefix"),
        ("s3:///logs", "input 's3://' names no bucket: write s3://BUCKET/PREFIX"),
        ("gs:///logs", "input 'gs://' names no bucket: write gs://BUCKET/PREFIX"),
        ("s3://{bucket}/logs?region=eu-west-1", "input 's3://': query parameter 1 is unknown; it takes no parameters"),
    ],
)
def test_an_s3_prefix_that_cannot_be_read_is_one_line_naming_the_bucket(
    s3: Any, uri: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    names = {"id": uuid.uuid4().hex[:8], "bucket": new_bucket(s3)}

    _, err = scan(capsys, uri.format(**names), code=2)

    assert err == f"secretwatch: {message.format(**names)}\n"


def test_reading_s3_imports_the_aws_sdk_and_no_google_or_azure_module(s3: Any) -> None:
    bucket = new_bucket(s3, tree(ARCHIVES / "gke_sink"))
    program = (
        "import json, sys\n"
        "from core.cli import main\n"
        f"code = main(['scan', 's3://{bucket}', '--state', 'memory', '--output', 'jsonl'])\n"
        "print(json.dumps([code, sorted(sys.modules)]), file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, check=False)
    code, modules = json.loads(run.stderr.splitlines()[-1])

    assert code == 0, run.stderr
    assert "boto3" in modules
    assert [
        name for name in modules if name.startswith(("azure", "google.cloud.", "google.auth", "google.api_core"))
    ] == []


def test_an_object_gone_between_listing_and_reading_is_one_line_naming_it(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    live = (ARCHIVES / "apiserver/var/log/kubernetes/audit/audit.log").read_bytes()
    bucket = new_bucket(s3, {"audit/a.log": live, "audit/b.log": live})
    with ExitStack() as stack:
        first, second = open_inputs([f"s3://{bucket}/audit"], stack)
        s3.delete_object(Bucket=bucket, Key="audit/b.log")

        assert [line for line, _ in read_documents(first)] == [1]
        with pytest.raises(InputError) as stopped:
            list(read_documents(second))

    assert (
        str(stopped.value) == f"cannot read s3://{bucket}/audit/b.log: the object is gone (deleted since it was listed)"
    )


def test_an_object_that_cannot_be_read_costs_that_object_only(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    live = (ARCHIVES / "apiserver/var/log/kubernetes/audit/audit.log").read_bytes()
    cut = gzip.compress(live)[:-30]
    bucket = new_bucket(s3, {"audit/a.log": live, "audit/b.log.gz": cut, "audit/c.log": live})

    _, err = scan(capsys, f"s3://{bucket}/audit", code=1)

    assert "2 documents, 1 events (k8s 1), 1 duplicates dropped" in err  # c.log, read after b, repeats a.log
    assert err.splitlines()[-1] == (
        f"secretwatch: cannot read s3://{bucket}/audit/b.log.gz: the gzip stream ends early (a truncated download?); "
        "its records before that were scanned, and every other input"
    )


# --- az:// under Azurite ----------------------------------------------------------------------------------


@pytest.fixture
def azurite_blob(monkeypatch: pytest.MonkeyPatch) -> AzuriteBlob:
    server = shared_azurite_blob()
    monkeypatch.setenv("AZURITE_BLOBS", server.connection_string)
    return server


def upload_aks_archive(server: AzuriteBlob) -> None:
    """Each `insights-logs-<category>` folder is a container, as diagnostic settings create them."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(server.connection_string)
    for container in (ARCHIVES / "aks_storage").iterdir():
        client = service.get_container_client(container.name)
        if not client.exists():
            client.create_container()
            for name, data in tree(container).items():
                client.upload_blob(name, data)


def test_aks_audit_logs_archived_to_a_storage_account_are_read_in_place(
    azurite_blob: AzuriteBlob, capsys: pytest.CaptureFixture[str]
) -> None:
    upload_aks_archive(azurite_blob)
    container = "az://devstoreaccount1/insights-logs-kube-audit"

    alerts, summary = scan(capsys, f"{container}/resourceId=/SUBSCRIPTIONS?connection_setting=AZURITE_BLOBS")

    assert alerts == {"secret-access-unusual-user-agent": 2, "secret-access-suspicious-user-agent": 1}
    assert "3 documents, 2 events (azure 2)" in summary


def test_several_containers_read_in_one_run_as_in_the_folder(
    azurite_blob: AzuriteBlob, capsys: pytest.CaptureFixture[str]
) -> None:
    upload_aks_archive(azurite_blob)
    uris = [
        f"az://devstoreaccount1/insights-logs-{category}?connection_setting=AZURITE_BLOBS"
        for category in ("kube-audit", "kube-audit-admin", "kube-apiserver")
    ]

    alerts, summary = scan(capsys, *uris)

    assert sum(alerts.values()) == 3
    assert "6 documents, 4 events (azure 4), 0 duplicates dropped" in summary  # as in the folder (test_archives)
    assert "other_category 1" in summary


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "az://devstoreaccount1/no-such-container?connection_setting=AZURITE_BLOBS",
            "cannot list az://devstoreaccount1/no-such-container/: no such container 'no-such-container'",
        ),
        (
            "az://otheraccount/insights-logs-kube-audit?connection_setting=AZURITE_BLOBS",
            "input 'az://': the connection string in AZURITE_BLOBS is for another storage account than the URI names",
        ),
        (
            "az://devstoreaccount1/insights-logs-kube-audit?connection_setting=UNSET_SETTING_FOR_TEST",
            "input 'az://': UNSET_SETTING_FOR_TEST is empty or not set; set it to the storage connection string",
        ),
        (
            "az://devstoreaccount1?connection_setting=AZURITE_BLOBS",
            "input 'az://' names a storage account and a container: write az://ACCOUNT/CONTAINER/PREFIX "
            "(optionally ?connection_setting=NAME)",
        ),
    ],
)
def test_an_azure_prefix_that_cannot_be_read_is_one_line_without_the_connection_string(
    azurite_blob: AzuriteBlob, uri: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    upload_aks_archive(azurite_blob)

    _, err = scan(capsys, uri, code=2)

    assert err == f"secretwatch: {message}\n"
    assert "AccountKey" not in err


# --- gs:// under gcp-storage-emulator ---------------------------------------------------------------------


@pytest.fixture
def gcs(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Cloud Storage client on the emulator, with the environment secretwatch reads pointing there too."""
    from google.cloud import storage  # type: ignore[attr-defined]

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", shared_gcs_emulator().host)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return storage.Client(project="archive-tests")


def new_gcs_bucket(gcs: Any, objects: dict[str, bytes]) -> str:
    bucket = gcs.create_bucket(f"archives-{uuid.uuid4().hex[:12]}")
    for name, data in objects.items():
        bucket.blob(name).upload_from_string(data)
    return str(bucket.name)


def test_a_gke_sink_read_in_place_from_cloud_storage_raises_what_the_downloaded_folder_raises(
    gcs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = new_gcs_bucket(gcs, tree(ARCHIVES / "gke_sink"))

    alerts, summary = scan(capsys, f"gs://{bucket}/cloudaudit.googleapis.com")

    assert alerts == GKE_SINK_ALERTS
    assert "4 documents, 4 events (gcp 4)" in summary


def test_a_gzipped_cloud_storage_object_is_read_through_and_the_prefix_is_a_folder(
    gcs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    live = (ARCHIVES / "apiserver/var/log/kubernetes/audit/audit.log").read_bytes()
    bucket = new_gcs_bucket(gcs, {"audit/a.log.gz": gzip.compress(live), "audit-old/b.log": live})

    alerts, summary = scan(capsys, f"gs://{bucket}/audit")
    local_alerts, local_summary = scan(capsys, str(ARCHIVES / "apiserver/var/log/kubernetes/audit/audit.log"))

    assert alerts == local_alerts
    assert sum(alerts.values()) > 0
    assert summary.splitlines()[0] == local_summary.splitlines()[0]  # the same documents: audit-old/ is not read


def test_a_cloud_storage_prefix_that_cannot_be_read_is_one_line_naming_the_bucket(
    gcs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = new_gcs_bucket(gcs, {"audit/a.log": b"{}\n"})

    _, missing = scan(capsys, "gs://no-such-bucket-here/logs", code=2)
    _, empty = scan(capsys, f"gs://{bucket}/nothing-here", code=2)

    assert missing == (
        "secretwatch: cannot list gs://no-such-bucket-here/logs: no such bucket or object in 'no-such-bucket-here'\n"
    )
    assert empty == f"secretwatch: cannot read gs://{bucket}/nothing-here: no objects under this prefix\n"


def test_a_cloud_storage_object_gone_between_listing_and_reading_is_one_line_naming_it(gcs: Any) -> None:
    live = (ARCHIVES / "apiserver/var/log/kubernetes/audit/audit.log").read_bytes()
    bucket = new_gcs_bucket(gcs, {"audit/a.log": live, "audit/b.log": live})
    with ExitStack() as stack:
        first, second = open_inputs([f"gs://{bucket}/audit"], stack)
        gcs.bucket(bucket).blob("audit/b.log").delete()

        assert [line for line, _ in read_documents(first)] == [1]
        with pytest.raises(InputError) as stopped:
            list(read_documents(second))

    assert str(stopped.value) == f"cannot read gs://{bucket}/audit/b.log: no such bucket or object in {bucket!r}"


# --- without the SDKs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "module", "extra"),
    [
        ("s3://bucket/logs", "boto3", "reading s3:// needs boto3: pip install 'secretwatch[aws]'"),
        (
            "gs://bucket/logs",
            "google.cloud",
            "reading gs:// needs google-cloud-storage: pip install 'secretwatch[gcs]'",
        ),
        (
            "az://account/container",
            "azure.storage.blob",
            "reading az:// needs azure-storage-blob and azure-identity: pip install 'secretwatch[azure-blob]'",
        ),
    ],
)
def test_a_missing_sdk_is_one_line_naming_the_extra(
    uri: str, module: str, extra: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_import = builtins.__import__

    def without(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == module or name.startswith(f"{module}."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)

    _, err = scan(capsys, uri, code=2)

    assert err == f"secretwatch: {extra}\n"
