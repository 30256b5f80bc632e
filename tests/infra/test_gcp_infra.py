"""infra/gcp: GKE secret audit entries → log sink → Pub/Sub → push subscription → 2nd-gen function.

Static wiring is read with python-hcl2; the values built in locals.tf (sink filter, store and sink URIs)
are computed by Terraform and checked against real LogEntry fixtures and against the app's own parsers.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from core.alerts.registry import split_uris
from core.alerts.smtp import SmtpSettings
from tests.infra.hcl import (
    INFRA,
    Module,
    TerraformError,
    block,
    checkov,
    evaluate_locals,
    load_module,
    ref,
    terraform_fmt_check,
)

FOLDER = INFRA / "gcp"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gke"
VARIABLES: dict[str, object] = {
    "project": "acme-prod",
    "region": "europe-west1",
    "alert_from": "secretwatch@example.com",
    "alert_to": ["sec+k8s@example.com", "oncall@example.com"],
    "smtp_host": "smtp.example.com",
    "smtp_username": "secretwatch",
}
FUNCTION_SA = "serviceAccount:${google_service_account.function.email}"


@pytest.fixture(scope="module")
def gcp() -> Module:
    return load_module(FOLDER)


@pytest.fixture(scope="module")
def settings() -> dict[str, Any]:
    return evaluate_locals(FOLDER, VARIABLES, ["sink_filter", "store_uri", "sinks_uri", "state_collection"])


def test_terraform_files_are_formatted() -> None:
    result = terraform_fmt_check(FOLDER)
    assert result.returncode == 0, result.stdout


def test_checkov_reports_no_finding_that_is_not_fixed_or_skipped_with_a_reason() -> None:
    result = checkov(FOLDER)
    assert result.returncode == 0, result.stdout


def test_log_sink_publishes_to_the_audit_topic_with_its_own_writer_identity(gcp: Module) -> None:
    sink = gcp.resource("google_logging_project_sink", "secrets_audit")
    grant = gcp.resource("google_pubsub_topic_iam_member", "sink_publisher")

    assert sink["destination"] == f"pubsub.googleapis.com/{ref('google_pubsub_topic.audit.id')}"
    assert sink["filter"] == ref("local.sink_filter")
    assert sink["unique_writer_identity"] is True
    assert grant["topic"] == ref("google_pubsub_topic.audit.name")
    assert grant["role"] == "roles/pubsub.publisher"
    assert grant["member"] == ref("google_logging_project_sink.secrets_audit.writer_identity")


@pytest.mark.parametrize(
    "fixture",
    [
        "secret_get_denied.json",
        "secret_list_allowed_status_empty.json",
        "controller_secret_get_status_code0.json",
        "secret_create_conflict.json",
    ],
)
def test_sink_filter_passes_secret_calls_from_the_data_access_and_activity_logs(
    settings: dict[str, Any], fixture: str
) -> None:
    assert _matches(settings["sink_filter"], _entry(fixture))


def test_sink_filter_rejects_the_cluster_management_api(settings: dict[str, Any]) -> None:
    assert not _matches(settings["sink_filter"], _entry("container_api_set_node_pool_size.json"))


@pytest.mark.parametrize(
    ("method", "resource"),
    [
        ("io.k8s.core.v1.configmaps.get", "core/v1/namespaces/payments/configmaps/app-config"),
        (
            "io.k8s.external-secrets.v1beta1.secretstores.get",
            "external-secrets.io/v1beta1/namespaces/payments/secretstores/vault",
        ),
    ],
)
def test_sink_filter_rejects_other_kinds_even_when_their_name_mentions_secrets(
    settings: dict[str, Any], method: str, resource: str
) -> None:
    entry = _entry("secret_get_denied.json")
    entry["protoPayload"].update(methodName=method, resourceName=resource)

    assert not _matches(settings["sink_filter"], entry)


def test_sink_filter_rejects_logs_of_another_project(settings: dict[str, Any]) -> None:
    entry = _entry("secret_get_denied.json")
    entry["logName"] = entry["logName"].replace("acme-prod", "acme-dev")

    assert not _matches(settings["sink_filter"], entry)


def test_sink_filter_keeps_only_the_listed_clusters_when_some_are_named() -> None:
    sink_filter = evaluate_locals(FOLDER, {**VARIABLES, "cluster_names": ["prod-payments"]}, ["sink_filter"])[
        "sink_filter"
    ]
    other = _entry("secret_get_denied.json")
    other["resource"]["labels"]["cluster_name"] = "staging"

    assert _matches(sink_filter, _entry("secret_get_denied.json"))
    assert not _matches(sink_filter, other)


def test_audit_config_enables_kubernetes_api_reads_which_gke_does_not_log_by_default(gcp: Module) -> None:
    config = gcp.resource("google_project_iam_audit_config", "kubernetes_data_access")
    log_types = {entry["log_type"] for entry in config["audit_log_config"]}

    assert config["service"] == "container.googleapis.com"
    assert {"DATA_READ", "DATA_WRITE"} <= log_types


def test_push_subscription_delivers_the_audit_topic_to_the_function_with_an_oidc_identity(gcp: Module) -> None:
    subscription = gcp.resource("google_pubsub_subscription", "push")
    push = block(subscription, "push_config")
    invoker = gcp.resource("google_cloud_run_v2_service_iam_member", "push_invoker")

    assert subscription["topic"] == ref("google_pubsub_topic.audit.id")
    assert push["push_endpoint"] == ref("google_cloudfunctions2_function.secretwatch.service_config[0].uri")
    assert block(push, "oidc_token")["service_account_email"] == ref("google_service_account.push.email")
    assert invoker["name"] == ref("google_cloudfunctions2_function.secretwatch.name")
    assert invoker["role"] == "roles/run.invoker"
    assert invoker["member"] == "serviceAccount:${google_service_account.push.email}"


def test_push_subscription_waits_longer_than_the_function_may_run_and_never_expires(gcp: Module) -> None:
    subscription = gcp.resource("google_pubsub_subscription", "push")
    service = block(gcp.resource("google_cloudfunctions2_function", "secretwatch"), "service_config")

    assert subscription["ack_deadline_seconds"] >= service["timeout_seconds"]
    assert block(subscription, "expiration_policy")["ttl"] == ""


def test_failing_messages_back_off_then_go_to_a_dead_letter_topic_that_keeps_them(gcp: Module) -> None:
    subscription = gcp.resource("google_pubsub_subscription", "push")
    dead_letter = block(subscription, "dead_letter_policy")
    retry = block(subscription, "retry_policy")
    attempts = gcp.variables["max_delivery_attempts"]["default"]
    keeper = gcp.resource("google_pubsub_subscription", "dead_letter")

    assert dead_letter["dead_letter_topic"] == ref("google_pubsub_topic.dead_letter.id")
    assert dead_letter["max_delivery_attempts"] == ref("var.max_delivery_attempts")
    assert 5 <= attempts <= 100
    assert _seconds(retry["minimum_backoff"]) < _seconds(retry["maximum_backoff"])
    assert keeper["topic"] == ref("google_pubsub_topic.dead_letter.id")


def test_pubsub_service_agent_may_publish_dead_letters_and_acknowledge_the_source(gcp: Module) -> None:
    publisher = gcp.resource("google_pubsub_topic_iam_member", "dead_letter_publisher")
    acknowledger = gcp.resource("google_pubsub_subscription_iam_member", "dead_letter_acknowledger")

    assert (publisher["topic"], publisher["role"]) == (
        ref("google_pubsub_topic.dead_letter.name"),
        "roles/pubsub.publisher",
    )
    assert (acknowledger["subscription"], acknowledger["role"]) == (
        ref("google_pubsub_subscription.push.name"),
        "roles/pubsub.subscriber",
    )
    assert publisher["member"] == acknowledger["member"] == ref("local.pubsub_service_agent")
    assert "@gcp-sa-pubsub.iam.gserviceaccount.com" in gcp.locals["pubsub_service_agent"]


def test_function_runs_handle_pubsub_on_python_3_11_from_the_uploaded_zip(gcp: Module) -> None:
    function = gcp.resource("google_cloudfunctions2_function", "secretwatch")
    build = block(function, "build_config")
    source = block(block(build, "source"), "storage_source")

    assert (build["runtime"], build["entry_point"]) == ("python311", "handle_pubsub")
    assert source["object"] == ref("google_storage_bucket_object.source.name")
    assert gcp.resource("google_storage_bucket_object", "source")["source"] == ref("var.source_zip")
    assert block(function, "service_config")["ingress_settings"] == "ALLOW_INTERNAL_ONLY"


def test_entry_point_is_the_cloudevent_handler_of_the_function_package(gcp: Module) -> None:
    main = pytest.importorskip("functions.gcp.main", reason="the gcp extra (functions-framework)")
    entry_point = block(gcp.resource("google_cloudfunctions2_function", "secretwatch"), "build_config")["entry_point"]

    assert callable(getattr(main, entry_point))


def test_function_reads_its_settings_from_the_locals_the_app_parses(gcp: Module) -> None:
    service = block(gcp.resource("google_cloudfunctions2_function", "secretwatch"), "service_config")

    assert service["environment_variables"] == ref(
        "merge({SECRETWATCH_STORE = local.store_uri, SECRETWATCH_SINKS = local.sinks_uri,"
        " SECRETWATCH_LEARNING_PERIOD = var.learning_period}, local.tuning_settings)"
    )


def test_function_reads_a_bundled_tuning_file_only_when_the_tuning_variable_names_it(gcp: Module) -> None:
    variable = gcp.variables["tuning"]

    assert variable["default"] is None
    assert "make package-gcp TUNING=" in variable["description"]
    assert evaluate_locals(FOLDER, VARIABLES, ["tuning_settings"]) == {"tuning_settings": {}}
    tuned = evaluate_locals(FOLDER, {**VARIABLES, "tuning": "tuning/prod.yaml"}, ["tuning_settings"])
    assert tuned == {"tuning_settings": {"SECRETWATCH_TUNING": "tuning/prod.yaml"}}


@pytest.mark.parametrize("path", ["../tuning.yml", "/workspace/tuning.yml", "tuning.json"])
def test_variables_refuse_a_tuning_path_outside_the_package_or_not_yaml(path: str) -> None:
    with pytest.raises(TerraformError, match="tuning: null, or a relative path inside the package"):
        evaluate_locals(FOLDER, {**VARIABLES, "tuning": path}, ["tuning_settings"])


def test_ttl_policy_expires_documents_on_exp_in_the_collection_the_store_uri_names(
    gcp: Module, settings: dict[str, Any]
) -> None:
    firestore = pytest.importorskip("core.state.firestore", reason="the gcp extra (google-cloud-firestore)")
    ttl = gcp.resource("google_firestore_field", "state_expiry")
    store = urlsplit(settings["store_uri"])

    assert store.scheme == "firestore"
    assert store.netloc == settings["state_collection"]
    assert ttl["collection"] == ref("local.state_collection")
    assert ttl["field"] == firestore.TTL_FIELD == "exp"
    assert ttl["ttl_config"] == [{}]
    assert ttl["database"] == ref("google_firestore_database.state.name")


def test_store_uri_names_the_native_mode_database_terraform_creates(gcp: Module, settings: dict[str, Any]) -> None:
    database = gcp.resource("google_firestore_database", "state")
    query = parse_qs(urlsplit(settings["store_uri"]).query)

    assert database["name"] == ref("local.firestore_database")
    assert database["type"] == "FIRESTORE_NATIVE"
    assert query == {"project": ["acme-prod"], "database": [gcp.locals["firestore_database"]]}


def test_sinks_setting_parses_into_the_configured_smtp_settings(settings: dict[str, Any]) -> None:
    uri = settings["sinks_uri"]
    smtp = SmtpSettings.from_uri(urlsplit(uri))

    assert split_uris(uri) == [uri]
    assert (smtp.host, smtp.port, smtp.tls) == ("smtp.example.com", 587, "starttls")
    assert smtp.sender == "secretwatch@example.com"
    assert smtp.recipients == ("sec+k8s@example.com", "oncall@example.com")
    assert (smtp.username, smtp.password_env) == ("secretwatch", "SMTP_PASSWORD")


def test_smtp_password_reaches_the_function_only_from_secret_manager(gcp: Module) -> None:
    service = block(gcp.resource("google_cloudfunctions2_function", "secretwatch"), "service_config")
    mounted = block(service, "secret_environment_variables")
    accessor = gcp.resource("google_secret_manager_secret_iam_member", "function_smtp_password")

    assert mounted["key"] == "SMTP_PASSWORD"
    assert mounted["secret"] == ref("google_secret_manager_secret.smtp_password.secret_id")
    assert accessor["secret_id"] == ref("google_secret_manager_secret.smtp_password.secret_id")
    assert (accessor["role"], accessor["member"]) == ("roles/secretmanager.secretAccessor", FUNCTION_SA)
    versions = gcp.of_type("google_secret_manager_secret_version")
    assert list(versions) == ["smtp_password_placeholder"], "the password value stays out of Terraform"
    assert "${" not in versions["smtp_password_placeholder"]["secret_data"], "only a fixed placeholder"


def test_function_identity_holds_only_firestore_on_its_database_and_log_writing(gcp: Module) -> None:
    grants = {
        body["role"]: body
        for body in gcp.of_type("google_project_iam_member").values()
        if body["member"] == FUNCTION_SA
    }

    assert set(grants) == {"roles/datastore.user", "roles/logging.logWriter"}
    condition = block(grants["roles/datastore.user"], "condition")["expression"]
    assert "databases/${local.firestore_database}" in condition


def test_variables_refuse_an_empty_recipient_list() -> None:
    with pytest.raises(TerraformError, match="alert_to"):
        evaluate_locals(FOLDER, {**VARIABLES, "alert_to": []}, ["sinks_uri"])


def _entry(name: str) -> dict[str, Any]:
    document = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return copy.deepcopy(document)


_CLAUSE = re.compile(r'(?P<path>[\w.]+)(?P<op>[=:])(?P<values>"[^"]*"|\("[^"]*"(?: OR "[^"]*")*\))')


def _matches(sink_filter: str, entry: Mapping[str, Any]) -> bool:
    """Evaluate the clause forms the sink filter uses, as Cloud Logging does (case-insensitive strings).

    `path="v"` and `path=("a" OR "b")` compare for equality, `path:"v"` tests for a substring. Clauses are
    joined by AND. Any other form fails the test, so a new kind of clause needs teaching here first.
    """
    results = []
    for clause in sink_filter.split("\nAND "):
        parsed = _CLAUSE.fullmatch(clause)
        assert parsed, f"clause the test cannot evaluate: {clause!r}"
        values = [value.casefold() for value in re.findall(r'"([^"]*)"', parsed["values"])]
        field = _field(entry, parsed["path"]).casefold()
        if parsed["op"] == "=":
            results.append(field in values)
        else:
            results.append(any(value in field for value in values))
    return all(results)


def _field(entry: Mapping[str, Any], path: str) -> str:
    value: Any = entry
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value if isinstance(value, str) else ""


def _seconds(duration: str) -> float:
    assert duration.endswith("s"), duration
    return float(duration[:-1])


# --- one apply, and an alert when the audit entries stop ---------------------------------------------------


def test_first_apply_waits_for_the_apis_and_the_service_agent_they_create(gcp: Module) -> None:
    services = gcp.locals["services"]
    assert {"iam.googleapis.com", "monitoring.googleapis.com", "pubsub.googleapis.com"} <= set(_strings(services))
    apis = ref("google_project_service.required")
    for kind, name in [
        ("google_service_account", "function"),
        ("google_service_account", "push"),
        ("google_pubsub_topic_iam_member", "dead_letter_publisher"),
        ("google_pubsub_subscription_iam_member", "dead_letter_acknowledger"),
        ("google_service_account_iam_member", "push_token_creator"),
        ("google_logging_metric", "messages_processed"),
        ("google_monitoring_notification_channel", "alert_to"),
    ]:
        assert apis in gcp.resource(kind, name)["depends_on"], f"{kind}.{name} may run before the APIs are on"


def test_function_waits_for_a_placeholder_password_version_so_one_apply_creates_it(gcp: Module) -> None:
    placeholder = gcp.resource("google_secret_manager_secret_version", "smtp_password_placeholder")
    assert placeholder["secret"] == ref("google_secret_manager_secret.smtp_password.id")
    assert "secret_data" in block(placeholder, "lifecycle")["ignore_changes"]  # the real password comes later
    function = gcp.resource("google_cloudfunctions2_function", "secretwatch")
    assert ref("google_secret_manager_secret_version.smtp_password_placeholder") in function["depends_on"]


def test_push_subscription_waits_until_its_first_push_can_be_signed_and_accepted(gcp: Module) -> None:
    push = gcp.resource("google_pubsub_subscription", "push")
    assert {
        ref("google_service_account_iam_member.push_token_creator"),
        ref("google_cloud_run_v2_service_iam_member.push_invoker"),
        ref("google_pubsub_topic_iam_member.dead_letter_publisher"),
    } <= set(push["depends_on"])


def test_processed_metric_counts_the_functions_message_processed_log_lines() -> None:
    from functions.gcp.logs import JsonFormatter

    main = (INFRA.parent / "functions" / "gcp" / "main.py").read_text(encoding="utf-8")
    assert 'log.log(severity, "message processed"' in main
    record = logging.LogRecord("secretwatch.gcp", logging.INFO, "main.py", 73, "message processed", None, None)
    payload = json.loads(JsonFormatter().format(record))
    processed_filter = evaluate_locals(FOLDER, VARIABLES, ["processed_filter"])["processed_filter"]
    revision = {"type": "cloud_run_revision", "labels": {"service_name": "secretwatch"}}
    assert _matches(processed_filter, {"resource": revision, "jsonPayload": payload})
    failed = {**payload, "message": "message not processed; Pub/Sub will redeliver it"}
    assert not _matches(processed_filter, {"resource": revision, "jsonPayload": failed})
    other = {"type": "cloud_run_revision", "labels": {"service_name": "billing"}}
    assert not _matches(processed_filter, {"resource": other, "jsonPayload": payload})


def test_no_data_policy_emails_the_alert_recipients_when_processed_messages_stop(gcp: Module) -> None:
    metric = gcp.resource("google_logging_metric", "messages_processed")
    assert metric["filter"] == ref("local.processed_filter")
    policy = gcp.resource("google_monitoring_alert_policy", "no_data")
    absent = block(block(policy, "conditions"), "condition_absent")
    assert ref("google_logging_metric.messages_processed.name") in absent["filter"]
    assert absent["duration"] == "${var.no_data_minutes * 60}s"
    assert gcp.variables["no_data_minutes"]["default"] == 30
    channels = gcp.resource("google_monitoring_notification_channel", "alert_to")
    assert channels["for_each"] == "${toset(var.alert_to)}"
    assert channels["type"] == "email"
    assert "google_monitoring_notification_channel.alert_to" in policy["notification_channels"]


@pytest.mark.parametrize("minutes", [4, 1411, 30.5])
def test_variables_refuse_a_no_data_period_cloud_monitoring_cannot_watch(minutes: float) -> None:
    with pytest.raises(TerraformError, match="no_data_minutes"):
        evaluate_locals(FOLDER, {**VARIABLES, "no_data_minutes": minutes}, ["store_uri"])


def _strings(value: Any) -> list[str]:
    return re.findall(r'"([^"]+)"', value) if isinstance(value, str) else list(value)


# --- the sinks' secrets, by reference (sink_secrets) -------------------------------------------------------

SIGNED_WEBHOOK = "https://siem.acme.example/hooks/secretwatch?format=ocsf&secret_env=WEBHOOK_SIGNING_KEY"
SINK_SECRETS = {
    "WEBHOOK_SIGNING_KEY": "projects/acme-secops/secrets/secretwatch-webhook-key",
    "SLACK_WEBHOOK_URL": "projects/123456789012/secrets/secretwatch-slack-url/versions/4",
    "SIGNING_KEY_AGAIN": "projects/acme-secops/secrets/secretwatch-webhook-key/versions/latest",
}
WITH_SINK_SECRETS = {
    **VARIABLES,
    "extra_sinks": [SIGNED_WEBHOOK, "env://SLACK_WEBHOOK_URL"],
    "sink_secrets": SINK_SECRETS,
}


def _patterns(gcp: Module, variable: str) -> list[re.Pattern[str]]:
    """The regexes of a variable's validation blocks, as Terraform reads them from the string literals."""
    conditions = [validation["condition"] for validation in gcp.variables[variable]["validation"]]
    literals = [literal for condition in conditions for literal in re.findall(r'regex\("((?:[^"\\]|\\.)*)"', condition)]
    return [re.compile(json.loads(f'"{literal}"')) for literal in literals]


def test_sink_secrets_are_mounted_as_the_functions_secret_environment_variables(gcp: Module) -> None:
    service = block(gcp.resource("google_cloudfunctions2_function", "secretwatch"), "service_config")
    (dynamic,) = service["dynamic"]
    mounted = dynamic["secret_environment_variables"]
    mounts = evaluate_locals(FOLDER, WITH_SINK_SECRETS, ["sink_secret_mounts"])["sink_secret_mounts"]

    assert mounted["for_each"] == ref("local.sink_secret_mounts")
    assert mounted["content"] == [
        {
            "key": ref("secret_environment_variables.key"),
            "project_id": ref("secret_environment_variables.value.project"),
            "secret": ref("secret_environment_variables.value.secret"),
            "version": ref("secret_environment_variables.value.version"),
        }
    ]
    assert mounts == {
        "WEBHOOK_SIGNING_KEY": {"project": "acme-secops", "secret": "secretwatch-webhook-key", "version": "latest"},
        "SLACK_WEBHOOK_URL": {"project": "123456789012", "secret": "secretwatch-slack-url", "version": "4"},
        "SIGNING_KEY_AGAIN": {"project": "acme-secops", "secret": "secretwatch-webhook-key", "version": "latest"},
    }


def test_function_may_read_exactly_the_secrets_sink_secrets_names_once_each(gcp: Module) -> None:
    grant = gcp.resource("google_secret_manager_secret_iam_member", "function_sink_secrets")
    function = gcp.resource("google_cloudfunctions2_function", "secretwatch")
    grants = evaluate_locals(FOLDER, WITH_SINK_SECRETS, ["sink_secret_grants"])["sink_secret_grants"]

    assert grant["for_each"] == ref("local.sink_secret_grants")
    assert (grant["project"], grant["secret_id"]) == (ref("each.value.project"), ref("each.value.secret"))
    assert (grant["role"], grant["member"]) == ("roles/secretmanager.secretAccessor", FUNCTION_SA)
    assert grants == {
        "projects/acme-secops/secrets/secretwatch-webhook-key": {
            "project": "acme-secops",
            "secret": "secretwatch-webhook-key",
        },
        "projects/123456789012/secrets/secretwatch-slack-url": {
            "project": "123456789012",
            "secret": "secretwatch-slack-url",
        },
    }
    # Cloud Run checks the runtime identity can read every mounted secret before it accepts a revision.
    assert ref("google_secret_manager_secret_iam_member.function_sink_secrets") in function["depends_on"]


def test_without_sink_secrets_nothing_more_is_mounted_or_granted() -> None:
    values = evaluate_locals(FOLDER, VARIABLES, ["sink_secret_mounts", "sink_secret_grants", "unmounted_sink_env"])

    assert values == {"sink_secret_mounts": {}, "sink_secret_grants": {}, "unmounted_sink_env": []}


def test_function_refuses_to_deploy_a_sink_whose_environment_variable_nothing_mounts(gcp: Module) -> None:
    (check,) = block(gcp.resource("google_cloudfunctions2_function", "secretwatch"), "lifecycle")["precondition"]
    missing = {
        **WITH_SINK_SECRETS,
        "extra_sinks": [
            *WITH_SINK_SECRETS["extra_sinks"],  # type: ignore[misc]
            "https://hooks.acme.example/b?secret_env=OTHER_KEY",
            "smtps://smtp.partner.example?from=a%40acme.example&to=b%40partner.example&username=u&password_env=SMTP_PASSWORD",
            "env://PAGER_URL",
        ],
    }

    assert check["condition"] == ref("length(local.unmounted_sink_env) == 0")
    assert evaluate_locals(FOLDER, WITH_SINK_SECRETS, ["unmounted_sink_env"]) == {"unmounted_sink_env": []}
    unmounted = evaluate_locals(FOLDER, missing, ["unmounted_sink_env"])["unmounted_sink_env"]
    assert unmounted == ["OTHER_KEY", "PAGER_URL"]


def test_sinks_setting_lists_the_signed_webhook_and_the_slack_reference_after_the_email() -> None:
    uri = evaluate_locals(FOLDER, WITH_SINK_SECRETS, ["sinks_uri"])["sinks_uri"]

    assert split_uris(uri)[1:] == [SIGNED_WEBHOOK, "env://SLACK_WEBHOOK_URL"]
    assert "secretwatch-webhook-key" not in uri, "the sinks name the variable, not the secret"


@pytest.mark.parametrize("name", ["WEBHOOK_SIGNING_KEY", "SLACK_WEBHOOK_URL", "_KEY", "PAGER2_URL"])
def test_sink_secret_names_accept_environment_variable_names(gcp: Module, name: str) -> None:
    well_formed, reserved, _ = _patterns(gcp, "sink_secrets")

    assert well_formed.search(name)
    assert not reserved.search(name)


@pytest.mark.parametrize("name", ["webhook_key", "2FA_KEY", "WEBHOOK-KEY", "WEBHOOK KEY", ""])
def test_sink_secret_names_refuse_what_is_not_an_environment_variable_name(gcp: Module, name: str) -> None:
    well_formed, _, _ = _patterns(gcp, "sink_secrets")

    assert not well_formed.search(name)


@pytest.mark.parametrize(
    "name",
    [
        "SECRETWATCH_SINKS",
        "SECRETWATCH_STORE",
        "SMTP_PASSWORD",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "K_SERVICE",
        "FUNCTION_TARGET",
        "X_GOOGLE_FUNCTION_NAME",
        "PORT",
        "PATH",
        "PYTHONPATH",
        "FIRESTORE_EMULATOR_HOST",
    ],
)
def test_sink_secret_names_refuse_what_secretwatch_or_the_runtime_sets(gcp: Module, name: str) -> None:
    _, reserved, _ = _patterns(gcp, "sink_secrets")

    assert reserved.search(name)


@pytest.mark.parametrize(
    ("reference", "version"),
    [
        ("projects/acme-prod-payments/secrets/secretwatch-webhook-key", None),
        ("projects/123456789012/secrets/Slack_URL/versions/latest", "latest"),
        ("projects/acme-secops/secrets/s/versions/12", "12"),
    ],
)
def test_sink_secret_references_accept_secret_manager_names(gcp: Module, reference: str, version: str | None) -> None:
    _, _, reference_pattern = _patterns(gcp, "sink_secrets")

    match = reference_pattern.search(reference)
    assert match
    assert match["version"] == version
    assert reference_pattern.pattern in (FOLDER / "locals.tf").read_text(encoding="utf-8").replace("\\\\", "\\")


@pytest.mark.parametrize(
    "reference",
    [
        "hunter2-the-signing-key",  # the secret itself
        "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX",
        "secretwatch-webhook-key",  # no project
        "projects/acme-secops/secrets/secretwatch-webhook-key/versions/0",
        "projects/acme-secops/secrets/secretwatch-webhook-key/versions/v2",
        "projects/Acme/secrets/key",
        "projects/acme-secops/secrets/key.with.dots",
        "//secretmanager.googleapis.com/projects/acme-secops/secrets/key",
    ],
)
def test_sink_secret_references_refuse_what_is_not_a_secret_manager_name(gcp: Module, reference: str) -> None:
    _, _, reference_pattern = _patterns(gcp, "sink_secrets")

    assert not reference_pattern.search(reference)


@pytest.mark.parametrize(
    ("sink_secrets", "message"),
    [
        ({"SECRETWATCH_SINKS": "projects/acme-secops/secrets/s"}, "sink_secrets: a name is reserved"),
        ({"webhook_key": "projects/acme-secops/secrets/s"}, "sink_secrets: keys are environment variable names"),
        ({"WEBHOOK_SIGNING_KEY": "hunter2"}, "sink_secrets: values are Secret Manager secret names"),
    ],
)
def test_terraform_refuses_sink_secrets_its_validations_reject(sink_secrets: dict[str, str], message: str) -> None:
    with pytest.raises(TerraformError, match=message):
        evaluate_locals(FOLDER, {**VARIABLES, "sink_secrets": sink_secrets}, ["sink_secret_mounts"])


def test_terraform_refuses_a_slack_webhook_url_in_the_sink_list() -> None:
    slack = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX?format=slack"

    with pytest.raises(TerraformError, match="extra_sinks: a Slack incoming-webhook URL is itself a secret"):
        evaluate_locals(FOLDER, {**VARIABLES, "extra_sinks": [slack]}, ["sinks_uri"])


def test_no_secret_value_has_a_default(gcp: Module) -> None:
    assert gcp.variables["sink_secrets"]["default"] == {}
    assert gcp.variables["extra_sinks"]["default"] == []
    assert gcp.outputs["sink_secrets_readable"]["value"] == ref("sort(keys(local.sink_secret_grants))")


def test_the_store_uri_output_is_the_functions_own_store_for_priming_and_replay(gcp: Module) -> None:
    service = block(gcp.resource("google_cloudfunctions2_function", "secretwatch"), "service_config")

    assert gcp.outputs["state_store_uri"]["value"] == ref("local.store_uri")
    assert "SECRETWATCH_STORE = local.store_uri," in service["environment_variables"]
