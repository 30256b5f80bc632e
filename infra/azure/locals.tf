# Values built from variables only, so tests can evaluate this file with `terraform console`.
locals {
  # SECRETWATCH_TUNING only when a tuning file is bundled: an empty value would still be a setting to read.
  tuning_settings = var.tuning == null ? {} : { SECRETWATCH_TUNING = var.tuning }
  # SECRETWATCH_AZURE_WORKSPACE, for the alerts' Log Analytics links, only when the audit logs' workspace is given.
  workspace_settings = var.audit_log_workspace_id == null ? {} : { SECRETWATCH_AZURE_WORKSPACE = var.audit_log_workspace_id }

  subscription_id = split("/", var.aks_cluster_id)[2]
  # Storage account, vault, namespace and app names are global: a suffix derived from the cluster keeps
  # them unique and stable across applies.
  suffix = substr(sha1(lower(var.aks_cluster_id)), 0, 8)

  names = {
    eventhub_namespace = "evhns-secretwatch-${local.suffix}"
    eventhub           = "aks-kube-audit"
    consumer_group     = "secretwatch"
    storage_account    = "stsecretwatch${local.suffix}"
    key_vault          = "kv-secretwatch-${local.suffix}"
    service_plan       = "asp-secretwatch-${local.suffix}"
    function_app       = "func-secretwatch-${local.suffix}"
    insights           = "appi-secretwatch-${local.suffix}"
    workspace          = "log-secretwatch-${local.suffix}"
  }

  # The store authenticates with the Function App's managed identity (DefaultAzureCredential), which holds
  # only "Storage Table Data Contributor" on this table: no account key reaches the app's state settings.
  # The storage account's lifecycle postcondition checks that this is the endpoint Azure gives it.
  state_table    = "secretwatchstate"
  table_endpoint = "https://${local.names.storage_account}.table.core.windows.net"
  store_uri      = "azuretables://${local.state_table}?endpoint=${local.table_endpoint}"

  # The e-mail sink first, then any extra sinks; the app splits the list at commas that start a new URI.
  sinks_uri = join(",", concat([local.smtp_uri], var.extra_sinks))

  # Secrets the sinks read from the environment: app settings that App Service resolves from Key Vault with the
  # app's identity (Terraform never reads a value). Always with the trailing slash: versionless references written
  # without it have been reported to keep resolving an old version after a rotation. Each URI is split by the
  # sink_secrets validation's pattern.
  sink_secret_settings = {
    for name, uri in var.sink_secrets : name => "@Microsoft.KeyVault(SecretUri=${trimsuffix(uri, "/")}/)"
  }
  sink_secret_parts = {
    for name, uri in var.sink_secrets :
    name => regex("^https://(?P<vault>[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9])\\.vault\\.azure\\.net/secrets/(?P<secret>[A-Za-z0-9-]{1,127})/?$", uri)
  }
  # Vault names are global and case-insensitive: the last segment of a vault's resource ID identifies it.
  sink_vault_ids = { for id in var.sink_secret_vault_ids : lower(element(split("/", id), 8)) => id }
  # The identity already reads every secret of this stack's vault; in another vault it reads exactly the named ones.
  # Keyed by vault/secret (both case-insensitive), one grant however many variables refer to the secret.
  sink_secret_grants = {
    for key, scopes in {
      for parts in values(local.sink_secret_parts) :
      lower("${parts.vault}/${parts.secret}") => "${local.sink_vault_ids[lower(parts.vault)]}/secrets/${parts.secret}"...
      if contains(keys(local.sink_vault_ids), lower(parts.vault))
    } : key => scopes[0]
  }
  unknown_sink_vaults = sort(distinct([
    for parts in values(local.sink_secret_parts) : lower(parts.vault)
    if lower(parts.vault) != local.names.key_vault && !contains(keys(local.sink_vault_ids), lower(parts.vault))
  ]))

  # The environment variables the extra sinks name (secret_env=, password_env=, env://NAME) that nothing sets:
  # the Function App's precondition refuses to deploy a sink that would fail on its first alert.
  sink_env_references = distinct(flatten([
    for uri in var.extra_sinks : concat(
      flatten(regexall("[?&][a-z]+_env=([A-Za-z_][A-Za-z0-9_]*)", uri)),
      flatten(regexall("^env://([A-Za-z_][A-Za-z0-9_]*)$", uri)),
    )
  ]))
  unmounted_sink_env = sort(setsubtract(local.sink_env_references, concat(keys(var.sink_secrets), ["SMTP_PASSWORD"])))

  # Addresses are percent-encoded: a "+" in a query string would otherwise arrive as a space.
  smtp_uri = format("smtp://%s:%d?%s", var.smtp_host, var.smtp_port, join("&", [
    "from=${urlencode(var.alert_from)}",
    "to=${join(",", [for address in var.alert_to : urlencode(address)])}",
    "starttls=1",
    "username=${urlencode(var.smtp_username)}",
    "password_env=SMTP_PASSWORD",
  ]))

  # The no-data alert: batches the function logged as processed in the window. summarize always returns one
  # row, so an empty window counts 0 rather than returning nothing.
  no_data_query  = "AppTraces\n| where Message startswith \"batch processed\"\n| summarize processed = count()"
  no_data_window = var.no_data_minutes < 60 ? "PT${var.no_data_minutes}M" : var.no_data_minutes < 1440 ? "PT${var.no_data_minutes / 60}H" : "P1D"
}
