"""infra/azure: AKS diagnostic setting (kube-audit) → Event Hub → Linux Function App (Python 3.11).

Static wiring is read with python-hcl2; the values built in locals.tf (store and sink URIs) are computed
by Terraform and handed to the app's own parsers.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from core.alerts.registry import split_uris
from core.alerts.smtp import SmtpSettings
from core.links import Consoles
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

FOLDER = INFRA / "azure"
CLUSTER_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-payments"
    "/providers/Microsoft.ContainerService/managedClusters/prod-payments"
)
VARIABLES: dict[str, object] = {
    "location": "westeurope",
    "aks_cluster_id": CLUSTER_ID,
    "alert_from": "secretwatch@example.com",
    "alert_to": ["sec+k8s@example.com", "oncall@example.com"],
    "smtp_host": "smtp.example.com",
    "smtp_username": "secretwatch",
}
IDENTITY = ref("azurerm_linux_function_app.secretwatch.identity[0].principal_id")
_KEY_VAULT_REFERENCE = re.compile(
    r"@Microsoft\.KeyVault\(SecretUri=\$\{azurerm_key_vault_secret\.(\w+)\.versionless_id\}\)"
)


@pytest.fixture(scope="module")
def azure() -> Module:
    return load_module(FOLDER)


@pytest.fixture(scope="module")
def settings() -> dict[str, Any]:
    return evaluate_locals(
        FOLDER, VARIABLES, ["store_uri", "sinks_uri", "state_table", "subscription_id", "table_endpoint", "names"]
    )


@pytest.fixture(scope="module")
def app_settings(azure: Module) -> dict[str, str]:
    """The Function App's settings without a tuning file (local.app_settings, see test_tuning_...)."""
    values: dict[str, str] = azure.locals["app_settings"]
    return values


def test_terraform_files_are_formatted() -> None:
    result = terraform_fmt_check(FOLDER)
    assert result.returncode == 0, result.stdout


def test_checkov_reports_no_finding_that_is_not_fixed_or_skipped_with_a_reason() -> None:
    result = checkov(FOLDER)
    assert result.returncode == 0, result.stdout


def test_diagnostic_setting_streams_kube_audit_and_not_kube_audit_admin_to_the_hub(azure: Module) -> None:
    setting = azure.resource("azurerm_monitor_diagnostic_setting", "aks_kube_audit")

    assert [log["category"] for log in setting["enabled_log"]] == ["kube-audit"]
    assert setting["target_resource_id"] == ref("var.aks_cluster_id")
    assert setting["eventhub_name"] == ref("azurerm_eventhub.kube_audit.name")
    assert setting["eventhub_authorization_rule_id"] == ref(
        "azurerm_eventhub_namespace_authorization_rule.diagnostics.id"
    )


def test_diagnostic_settings_rule_has_the_rights_azure_monitor_needs_to_stream(azure: Module) -> None:
    rule = azure.resource("azurerm_eventhub_namespace_authorization_rule", "diagnostics")

    assert (rule["send"], rule["listen"], rule["manage"]) == (True, True, True)
    assert rule["namespace_name"] == ref("azurerm_eventhub_namespace.audit.name")


def test_namespace_requires_tls_1_2_and_supports_a_dedicated_consumer_group(azure: Module) -> None:
    namespace = azure.resource("azurerm_eventhub_namespace", "audit")
    group = azure.resource("azurerm_eventhub_consumer_group", "secretwatch")

    assert namespace["minimum_tls_version"] == "1.2"
    assert namespace["sku"] == "Standard", "Basic allows only the $Default consumer group"
    assert group["eventhub_name"] == ref("azurerm_eventhub.kube_audit.name")


def test_function_app_runs_python_3_11_with_a_system_assigned_identity(azure: Module) -> None:
    app = azure.resource("azurerm_linux_function_app", "secretwatch")
    site = block(app, "site_config")

    assert block(site, "application_stack")["python_version"] == "3.11"
    assert block(app, "identity")["type"] == "SystemAssigned"
    assert app["https_only"] is True
    assert site["application_insights_connection_string"] == ref(
        "azurerm_application_insights.secretwatch.connection_string"
    )


def test_event_hub_trigger_connects_with_the_managed_identity_to_its_own_consumer_group(
    azure: Module, app_settings: dict[str, str]
) -> None:
    receiver = azure.resource("azurerm_role_assignment", "function_eventhub_receiver")

    assert app_settings["EventHubConnection__fullyQualifiedNamespace"] == (
        "${azurerm_eventhub_namespace.audit.name}.servicebus.windows.net"
    )
    assert app_settings["SECRETWATCH_EVENT_HUB"] == ref("azurerm_eventhub.kube_audit.name")
    assert app_settings["SECRETWATCH_CONSUMER_GROUP"] == ref("azurerm_eventhub_consumer_group.secretwatch.name")
    assert (receiver["role_definition_name"], receiver["scope"]) == (
        "Azure Event Hubs Data Receiver",
        ref("azurerm_eventhub.kube_audit.id"),
    )
    assert receiver["principal_id"] == IDENTITY
    assert not any("SharedAccessKey" in value for value in app_settings.values())


def test_every_setting_the_event_hub_trigger_names_is_an_app_setting(app_settings: dict[str, str]) -> None:
    function_app = pytest.importorskip("functions.azure.function_app", reason="the azure extra (azure-functions)")

    assert function_app.EVENT_HUB_SETTING.strip("%") in app_settings
    assert function_app.CONSUMER_GROUP_SETTING.strip("%") in app_settings
    assert f"{function_app.CONNECTION_SETTING}__fullyQualifiedNamespace" in app_settings


def test_state_store_uses_the_managed_identity_on_the_tables_endpoint_and_no_connection_string(
    azure: Module, settings: dict[str, Any], app_settings: dict[str, str]
) -> None:
    store = urlsplit(settings["store_uri"])
    account = settings["names"]["storage_account"]

    assert app_settings["SECRETWATCH_STORE"] == ref("local.store_uri")
    assert (store.scheme, store.netloc) == ("azuretables", settings["state_table"])
    assert parse_qs(store.query) == {"endpoint": [f"https://{account}.table.core.windows.net"]}
    assert azure.resource("azurerm_storage_table", "state")["name"] == ref("local.state_table")
    assert not [name for name, value in app_settings.items() if _holds_a_storage_key(value)]
    assert not [name for name, body in azure.of_type("azurerm_key_vault_secret").items() if _holds_a_storage_key(body)]


def test_terraform_checks_that_the_store_endpoint_is_the_accounts_table_endpoint(azure: Module) -> None:
    account = azure.resource("azurerm_storage_account", "secretwatch")
    (check,) = block(account, "lifecycle")["postcondition"]

    assert check["condition"] == '${trimsuffix(self.primary_table_endpoint, "/") == local.table_endpoint}'


def test_state_store_opens_the_store_uri_terraform_builds_with_a_managed_identity(settings: dict[str, Any]) -> None:
    access = pytest.importorskip("core.state.azure_access", reason="the azure extra (azure-data-tables)")
    pytest.importorskip("azure.identity", reason="the azure extra (azure-identity)")

    connection = access.connect(urlsplit(settings["store_uri"]))

    assert connection.access == access.IDENTITY
    assert connection.table.url == settings["table_endpoint"]
    assert connection.table.table_name == "secretwatchstate"
    connection.table.close()
    connection.credential.close()


def test_smtp_password_is_a_key_vault_reference_to_a_placeholder_set_out_of_band(
    azure: Module, app_settings: dict[str, str]
) -> None:
    secret = azure.resource("azurerm_key_vault_secret", "smtp_password")

    assert _referenced_secret(app_settings["SMTP_PASSWORD"]) == "smtp_password"
    assert block(secret, "lifecycle")["ignore_changes"] == ["value"]
    assert not any("password" in name and "default" in body for name, body in azure.variables.items())


def test_sinks_setting_parses_into_the_configured_smtp_settings(
    settings: dict[str, Any], app_settings: dict[str, str]
) -> None:
    uri = settings["sinks_uri"]
    smtp = SmtpSettings.from_uri(urlsplit(uri))

    assert app_settings["SECRETWATCH_SINKS"] == ref("local.sinks_uri")
    assert split_uris(uri) == [uri]
    assert (smtp.host, smtp.port, smtp.tls) == ("smtp.example.com", 587, "starttls")
    assert smtp.recipients == ("sec+k8s@example.com", "oncall@example.com")
    assert (smtp.username, smtp.password_env) == ("secretwatch", "SMTP_PASSWORD")


def test_managed_identity_gets_exactly_hub_receive_table_access_and_secret_reads(azure: Module) -> None:
    grants = {
        (body["role_definition_name"], body["scope"])
        for body in azure.of_type("azurerm_role_assignment").values()
        if body["principal_id"] == IDENTITY
    }
    # The one table, not the account: the same account holds the Functions host's blobs and content share.
    table_scope = (
        "${azurerm_storage_account.secretwatch.id}/tableServices/default/tables/${azurerm_storage_table.state.name}"
    )

    assert grants == {
        ("Azure Event Hubs Data Receiver", ref("azurerm_eventhub.kube_audit.id")),
        ("Storage Table Data Contributor", table_scope),
        ("Key Vault Secrets User", ref("azurerm_key_vault.secretwatch.id")),
        ("Key Vault Secrets User", ref("each.value")),  # the sinks' secrets in other vaults, one by one (below)
    }


def test_key_vault_authorizes_with_rbac_and_keeps_deleted_secrets_recoverable(azure: Module) -> None:
    vault = azure.resource("azurerm_key_vault", "secretwatch")

    assert vault["enable_rbac_authorization"] is True
    assert vault["purge_protection_enabled"] is True
    assert vault["soft_delete_retention_days"] >= 7


def test_storage_account_requires_tls_1_2_and_allows_no_anonymous_blob_access(azure: Module) -> None:
    account = azure.resource("azurerm_storage_account", "secretwatch")

    assert account["min_tls_version"] == "TLS1_2"
    assert account["allow_nested_items_to_be_public"] is False
    assert account["https_traffic_only_enabled"] is True


def test_resources_deploy_into_the_clusters_subscription(settings: dict[str, Any]) -> None:
    assert settings["subscription_id"] == "00000000-0000-0000-0000-000000000000"


def test_function_app_reads_a_bundled_tuning_file_only_when_the_tuning_variable_names_it(azure: Module) -> None:
    app = azure.resource("azurerm_linux_function_app", "secretwatch")
    variable = azure.variables["tuning"]

    assert app["app_settings"] == ref(
        "merge(local.sink_secret_settings, local.app_settings, local.tuning_settings, local.workspace_settings)"
    )
    assert variable["default"] is None
    assert "make package-azure TUNING=" in variable["description"]
    assert evaluate_locals(FOLDER, VARIABLES, ["tuning_settings"]) == {"tuning_settings": {}}
    tuned = evaluate_locals(FOLDER, {**VARIABLES, "tuning": "tuning.yml"}, ["tuning_settings"])
    assert tuned == {"tuning_settings": {"SECRETWATCH_TUNING": "tuning.yml"}}


def test_the_alerts_link_to_the_audit_logs_workspace_only_when_it_is_given() -> None:
    workspace = (
        "/subscriptions/6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourceGroups/rg-secops"
        "/providers/Microsoft.OperationalInsights/workspaces/law-secops"
    )
    assert evaluate_locals(FOLDER, VARIABLES, ["workspace_settings"]) == {"workspace_settings": {}}
    given = evaluate_locals(FOLDER, {**VARIABLES, "audit_log_workspace_id": workspace}, ["workspace_settings"])
    assert given == {"workspace_settings": {"SECRETWATCH_AZURE_WORKSPACE": workspace}}
    assert Consoles.from_env(given["workspace_settings"]).azure_workspace == workspace  # the app accepts it


def test_variables_refuse_an_audit_log_workspace_that_is_not_a_workspace_resource_id() -> None:
    with pytest.raises(TerraformError, match=r"audit_log_workspace_id: null, or\s+/subscriptions/"):
        evaluate_locals(FOLDER, {**VARIABLES, "audit_log_workspace_id": "law-secops"}, ["workspace_settings"])


@pytest.mark.parametrize("path", ["../tuning.yml", "/home/site/wwwroot/tuning.yml", "tuning.txt"])
def test_variables_refuse_a_tuning_path_outside_the_package_or_not_yaml(path: str) -> None:
    with pytest.raises(TerraformError, match="tuning: null, or a relative path inside the package"):
        evaluate_locals(FOLDER, {**VARIABLES, "tuning": path}, ["tuning_settings"])


def test_variables_refuse_a_cluster_id_that_is_not_a_managed_cluster() -> None:
    not_a_cluster = CLUSTER_ID.replace("managedClusters", "virtualMachines")

    with pytest.raises(TerraformError, match="aks_cluster_id"):
        evaluate_locals(FOLDER, {**VARIABLES, "aks_cluster_id": not_a_cluster}, ["store_uri"])


def _holds_a_storage_key(value: object) -> bool:
    """Whether a setting or a secret is, or refers to, something that carries the storage account key."""
    text = json.dumps(value)
    return any(word in text for word in ("connection_string", "access_key", "AccountKey", "tables_connection"))


def _referenced_secret(value: str) -> str:
    """The azurerm_key_vault_secret an app setting refers to by versionless URI."""
    reference = _KEY_VAULT_REFERENCE.fullmatch(value)
    assert reference, f"not a Key Vault reference to a versionless secret URI: {value!r}"
    return reference[1]


# --- an alert when the audit batches stop ------------------------------------------------------------------


def test_no_data_alert_counts_the_functions_batch_processed_traces_and_emails_alert_to(azure: Module) -> None:
    app = (INFRA.parent / "functions" / "azure" / "function_app.py").read_text(encoding="utf-8")
    assert 'SUMMARY_MESSAGE = "batch processed %s"' in app
    rule = azure.resource("azurerm_monitor_scheduled_query_rules_alert_v2", "no_data")
    assert rule["scopes"] == [ref("azurerm_log_analytics_workspace.secretwatch.id")]
    assert rule["skip_query_validation"] is True  # AppTraces appears only after the first trace
    criteria = block(rule, "criteria")
    assert criteria["query"] == ref("local.no_data_query")
    assert (criteria["metric_measure_column"], criteria["operator"], criteria["threshold"]) == (
        "processed",
        "LessThan",
        1,
    )
    assert block(rule, "action")["action_groups"] == [ref("azurerm_monitor_action_group.alert_to.id")]
    receivers = block(azure.resource("azurerm_monitor_action_group", "alert_to"), "dynamic")["email_receiver"]
    assert receivers["for_each"] == ref("var.alert_to")


@pytest.mark.parametrize(("minutes", "window"), [(30, "PT30M"), (5, "PT5M"), (120, "PT2H"), (1440, "P1D")])
def test_no_data_window_is_the_quiet_period_as_azure_monitor_spells_it(minutes: int, window: str) -> None:
    values = evaluate_locals(FOLDER, {**VARIABLES, "no_data_minutes": minutes}, ["no_data_window", "no_data_query"])
    assert values["no_data_window"] == window
    assert 'where Message startswith "batch processed"' in values["no_data_query"]
    assert values["no_data_query"].endswith("summarize processed = count()")  # one row, 0 when nothing came


@pytest.mark.parametrize("minutes", [4, 20, 90])
def test_variables_refuse_a_no_data_period_azure_monitor_has_no_window_for(minutes: int) -> None:
    with pytest.raises(TerraformError, match="no_data_minutes"):
        evaluate_locals(FOLDER, {**VARIABLES, "no_data_minutes": minutes}, ["no_data_window"])


# --- the sinks' secrets, by reference (sink_secrets) -------------------------------------------------------

SECOPS_VAULT = (
    "/subscriptions/6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourceGroups/rg-secops"
    "/providers/Microsoft.KeyVault/vaults/kv-secops"
)
SIGNED_WEBHOOK = "https://siem.acme.example/hooks/secretwatch?format=ocsf&secret_env=WEBHOOK_SIGNING_KEY"
SINK_SECRETS = {
    "WEBHOOK_SIGNING_KEY": "https://kv-secops.vault.azure.net/secrets/secretwatch-webhook-key",
    "SLACK_WEBHOOK_URL": "https://kv-secops.vault.azure.net/secrets/secretwatch-slack-url/",
    "SIGNING_KEY_AGAIN": "https://KV-SECOPS.vault.azure.net/secrets/SecretWatch-Webhook-Key",
}
WITH_SINK_SECRETS = {
    **VARIABLES,
    "extra_sinks": [SIGNED_WEBHOOK, "env://SLACK_WEBHOOK_URL"],
    "sink_secrets": SINK_SECRETS,
    "sink_secret_vault_ids": [SECOPS_VAULT],
}


def _patterns(azure: Module, variable: str) -> list[re.Pattern[str]]:
    """The regexes of a variable's validation blocks, as Terraform reads them from the string literals."""
    conditions = [validation["condition"] for validation in azure.variables[variable]["validation"]]
    literals = [literal for condition in conditions for literal in re.findall(r'regex\("((?:[^"\\]|\\.)*)"', condition)]
    return [re.compile(json.loads(f'"{literal}"')) for literal in literals]


def test_sink_secrets_become_key_vault_reference_settings_that_the_stacks_own_settings_override(
    azure: Module,
) -> None:
    settings = evaluate_locals(FOLDER, WITH_SINK_SECRETS, ["sink_secret_settings"])["sink_secret_settings"]
    app = azure.resource("azurerm_linux_function_app", "secretwatch")

    assert settings == {
        "WEBHOOK_SIGNING_KEY": "@Microsoft.KeyVault(SecretUri=https://kv-secops.vault.azure.net/secrets/secretwatch-webhook-key/)",
        "SLACK_WEBHOOK_URL": "@Microsoft.KeyVault(SecretUri=https://kv-secops.vault.azure.net/secrets/secretwatch-slack-url/)",
        "SIGNING_KEY_AGAIN": "@Microsoft.KeyVault(SecretUri=https://KV-SECOPS.vault.azure.net/secrets/SecretWatch-Webhook-Key/)",
    }
    assert app["app_settings"].startswith("${merge(local.sink_secret_settings, local.app_settings")


def test_function_may_read_exactly_the_referenced_secrets_of_another_vault(azure: Module) -> None:
    grant = azure.resource("azurerm_role_assignment", "function_sink_secrets")
    grants = evaluate_locals(FOLDER, WITH_SINK_SECRETS, ["sink_secret_grants"])["sink_secret_grants"]

    assert (grant["for_each"], grant["scope"]) == (ref("local.sink_secret_grants"), ref("each.value"))
    assert (grant["role_definition_name"], grant["principal_id"]) == ("Key Vault Secrets User", IDENTITY)
    # One grant per secret (names are case-insensitive), scoped to the secret, not to its vault.
    assert {key: scope.lower() for key, scope in grants.items()} == {
        "kv-secops/secretwatch-webhook-key": f"{SECOPS_VAULT}/secrets/secretwatch-webhook-key".lower(),
        "kv-secops/secretwatch-slack-url": f"{SECOPS_VAULT}/secrets/secretwatch-slack-url".lower(),
    }


def test_secrets_in_the_stacks_own_vault_need_no_further_grant(settings: dict[str, Any]) -> None:
    own = f"https://{settings['names']['key_vault']}.vault.azure.net/secrets/slack-webhook-url"
    values = evaluate_locals(
        FOLDER,
        {**VARIABLES, "extra_sinks": ["env://SLACK_WEBHOOK_URL"], "sink_secrets": {"SLACK_WEBHOOK_URL": own}},
        ["sink_secret_grants", "unknown_sink_vaults", "unmounted_sink_env"],
    )

    assert values == {"sink_secret_grants": {}, "unknown_sink_vaults": [], "unmounted_sink_env": []}


def test_without_sink_secrets_no_setting_or_grant_is_added() -> None:
    values = evaluate_locals(FOLDER, VARIABLES, ["sink_secret_settings", "sink_secret_grants", "unmounted_sink_env"])

    assert values == {"sink_secret_settings": {}, "sink_secret_grants": {}, "unmounted_sink_env": []}


def test_function_app_refuses_to_deploy_a_sink_secret_it_could_not_read_or_a_sink_nothing_sets(
    azure: Module,
) -> None:
    checks = block(azure.resource("azurerm_linux_function_app", "secretwatch"), "lifecycle")["precondition"]
    unlisted = {**WITH_SINK_SECRETS, "sink_secret_vault_ids": []}
    unset = {**WITH_SINK_SECRETS, "extra_sinks": ["env://PAGER_URL", "https://b.acme.example/?secret_env=OTHER_KEY"]}

    assert [check["condition"] for check in checks] == [
        ref("length(local.unmounted_sink_env) == 0"),
        ref("length(local.unknown_sink_vaults) == 0"),
    ]
    assert evaluate_locals(FOLDER, WITH_SINK_SECRETS, ["unknown_sink_vaults", "unmounted_sink_env"]) == {
        "unknown_sink_vaults": [],
        "unmounted_sink_env": [],
    }
    assert evaluate_locals(FOLDER, unlisted, ["unknown_sink_vaults"]) == {"unknown_sink_vaults": ["kv-secops"]}
    assert evaluate_locals(FOLDER, unset, ["unmounted_sink_env"]) == {"unmounted_sink_env": ["OTHER_KEY", "PAGER_URL"]}


@pytest.mark.parametrize("name", ["WEBHOOK_SIGNING_KEY", "SLACK_WEBHOOK_URL", "_KEY", "PAGER2_URL"])
def test_sink_secret_names_accept_environment_variable_names(azure: Module, name: str) -> None:
    well_formed, reserved, _ = _patterns(azure, "sink_secrets")

    assert well_formed.search(name)
    assert not reserved.search(name)


@pytest.mark.parametrize(
    "name",
    [
        "SECRETWATCH_STORE",
        "SMTP_PASSWORD",
        "FUNCTIONS_WORKER_RUNTIME",
        "WEBSITE_RUN_FROM_PACKAGE",
        "AZUREWEBJOBSSTORAGE",
        "AZURE_CLIENT_ID",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "EVENTHUBCONNECTION__FULLYQUALIFIEDNAMESPACE",
        "MSI_ENDPOINT",
        "IDENTITY_HEADER",
        "PYTHONPATH",
        "PORT",
    ],
)
def test_sink_secret_names_refuse_what_secretwatch_or_the_functions_host_sets(azure: Module, name: str) -> None:
    _, reserved, _ = _patterns(azure, "sink_secrets")

    assert reserved.search(name)


@pytest.mark.parametrize(
    "uri",
    [
        "https://kv-secops.vault.azure.net/secrets/secretwatch-webhook-key",
        "https://kv-secops.vault.azure.net/secrets/secretwatch-webhook-key/",
        "https://KV1.vault.azure.net/secrets/A",
    ],
)
def test_sink_secret_references_accept_versionless_secret_uris(azure: Module, uri: str) -> None:
    _, _, reference = _patterns(azure, "sink_secrets")

    assert reference.search(uri)
    assert reference.pattern in (FOLDER / "locals.tf").read_text(encoding="utf-8").replace("\\\\", "\\")


@pytest.mark.parametrize(
    "uri",
    [
        "hunter2-the-signing-key",  # the secret itself
        "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX",
        "https://kv-secops.vault.azure.net/secrets/secretwatch-webhook-key/0123456789abcdef0123456789abcdef",
        "http://kv-secops.vault.azure.net/secrets/key",
        "https://kv-secops.vault.azure.net.evil.example/secrets/key",
        "https://kv-secops.vault.azure.net/keys/key",
        "https://kv-secops.vault.azure.net/secrets/key_with_underscore",
        "https://kv.vault.azure.net/secrets/key",  # a vault name has 3 to 24 characters
        "@Microsoft.KeyVault(SecretUri=https://kv-secops.vault.azure.net/secrets/key)",
    ],
)
def test_sink_secret_references_refuse_what_is_not_a_versionless_secret_uri(azure: Module, uri: str) -> None:
    _, _, reference = _patterns(azure, "sink_secrets")

    assert not reference.search(uri)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"sink_secrets": {"SECRETWATCH_SINKS": SINK_SECRETS["WEBHOOK_SIGNING_KEY"]}},
            "sink_secrets: a name is reserved",
        ),
        ({"sink_secrets": {"webhook_key": SINK_SECRETS["WEBHOOK_SIGNING_KEY"]}}, "sink_secrets: keys are environment"),
        ({"sink_secrets": {"WEBHOOK_SIGNING_KEY": "hunter2"}}, "sink_secrets: values are versionless Key Vault"),
        ({"sink_secret_vault_ids": ["kv-secops"]}, "sink_secret_vault_ids: Key Vault resource IDs"),
        ({"extra_sinks": ["https://hooks.slack.com/services/T0/B0/X"]}, "extra_sinks: a Slack incoming-webhook URL"),
    ],
)
def test_terraform_refuses_sink_settings_its_validations_reject(variables: dict[str, object], message: str) -> None:
    with pytest.raises(TerraformError, match=message):
        evaluate_locals(FOLDER, {**VARIABLES, **variables}, ["sink_secret_settings"])


def test_no_secret_value_has_a_default_and_the_vault_uri_is_an_output(azure: Module) -> None:
    assert azure.variables["sink_secrets"]["default"] == {}
    assert azure.variables["sink_secret_vault_ids"]["default"] == []
    assert azure.outputs["key_vault_uri"]["value"] == ref("azurerm_key_vault.secretwatch.vault_uri")


def test_the_store_uri_output_is_the_functions_own_store_for_priming_and_replay(
    azure: Module, app_settings: dict[str, str]
) -> None:
    assert azure.outputs["state_store_uri"]["value"] == ref("local.store_uri")
    assert app_settings["SECRETWATCH_STORE"] == ref("local.store_uri")
