resource "azurerm_log_analytics_workspace" "secretwatch" {
  name                = local.names.workspace
  location            = azurerm_resource_group.secretwatch.location
  resource_group_name = azurerm_resource_group.secretwatch.name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
}

resource "azurerm_application_insights" "secretwatch" {
  name                = local.names.insights
  location            = azurerm_resource_group.secretwatch.location
  resource_group_name = azurerm_resource_group.secretwatch.name
  workspace_id        = azurerm_log_analytics_workspace.secretwatch.id
  application_type    = "other"
}

resource "azurerm_service_plan" "secretwatch" {
  #checkov:skip=CKV_AZURE_225:the Consumption plan (Y1) cannot be zone redundant; Event Hubs keeps unread records for the retention period
  #checkov:skip=CKV_AZURE_212:the Consumption plan scales instances on demand; a fixed minimum does not apply
  name                = local.names.service_plan
  location            = azurerm_resource_group.secretwatch.location
  resource_group_name = azurerm_resource_group.secretwatch.name
  os_type             = "Linux"
  sku_name            = var.function_plan_sku
}

# The Function App's settings; SECRETWATCH_TUNING joins them when var.tuning names a bundled file, and the sinks'
# Key Vault references (var.sink_secrets) when there are any.
locals {
  app_settings = {
    SECRETWATCH_STORE           = local.store_uri
    SECRETWATCH_SINKS           = local.sinks_uri
    SECRETWATCH_LEARNING_PERIOD = var.learning_period

    SMTP_PASSWORD = "@Microsoft.KeyVault(SecretUri=${azurerm_key_vault_secret.smtp_password.versionless_id})"

    # Identity-based Event Hub connection: the trigger names connection="EventHubConnection" and reads
    # the hub and consumer group below as %SECRETWATCH_EVENT_HUB% and %SECRETWATCH_CONSUMER_GROUP%.
    EventHubConnection__fullyQualifiedNamespace = "${azurerm_eventhub_namespace.audit.name}.servicebus.windows.net"
    SECRETWATCH_EVENT_HUB                       = azurerm_eventhub.kube_audit.name
    SECRETWATCH_CONSUMER_GROUP                  = azurerm_eventhub_consumer_group.secretwatch.name
  }
}

# The code (functions/azure, Python v2 programming model) is deployed separately, e.g. with
# `az functionapp deployment source config-zip`. Deploying restarts the app, which also makes it resolve the
# Key Vault references once the identity's role assignments below exist.
resource "azurerm_linux_function_app" "secretwatch" {
  #checkov:skip=CKV_AZURE_221:the app has no HTTP trigger, but code deployment goes through its SCM endpoint, which this setting would close
  name                = local.names.function_app
  location            = azurerm_resource_group.secretwatch.location
  resource_group_name = azurerm_resource_group.secretwatch.name
  service_plan_id     = azurerm_service_plan.secretwatch.id

  storage_account_name       = azurerm_storage_account.secretwatch.name
  storage_account_access_key = azurerm_storage_account.secretwatch.primary_access_key

  https_only                                     = true
  builtin_logging_enabled                        = false
  ftp_publish_basic_authentication_enabled       = false
  webdeploy_publish_basic_authentication_enabled = false

  identity {
    type = "SystemAssigned"
  }

  site_config {
    application_insights_connection_string = azurerm_application_insights.secretwatch.connection_string
    minimum_tls_version                    = "1.2"
    scm_minimum_tls_version                = "1.2"
    ftps_state                             = "Disabled"
    http2_enabled                          = true

    application_stack {
      python_version = "3.11"
    }
  }

  # The sinks' secrets first: a setting of the stack's own, later in the merge, always wins.
  app_settings = merge(local.sink_secret_settings, local.app_settings, local.tuning_settings, local.workspace_settings)

  lifecycle {
    # Zip deployment to a Linux Consumption app points this setting at the uploaded package; keep it.
    ignore_changes = [app_settings["WEBSITE_RUN_FROM_PACKAGE"]]

    precondition {
      condition     = length(local.unmounted_sink_env) == 0
      error_message = "extra_sinks read ${join(", ", local.unmounted_sink_env)} from the environment, which sink_secrets does not set: add NAME = \"https://VAULT.vault.azure.net/secrets/SECRET\" to sink_secrets for each."
    }

    precondition {
      condition     = length(local.unknown_sink_vaults) == 0
      error_message = "sink_secrets refer to the Key Vault(s) ${join(", ", local.unknown_sink_vaults)}, which are neither this stack's vault nor listed in sink_secret_vault_ids: add each one's resource ID there."
    }
  }
}
