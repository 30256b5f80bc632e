output "function_app_name" {
  description = "Function App to deploy functions/azure to."
  value       = azurerm_linux_function_app.secretwatch.name
}

output "function_principal_id" {
  description = "Object ID of the Function App's managed identity."
  value       = azurerm_linux_function_app.secretwatch.identity[0].principal_id
}

output "eventhub_namespace" {
  description = "Event Hubs namespace the AKS diagnostic setting streams to."
  value       = azurerm_eventhub_namespace.audit.name
}

output "eventhub_name" {
  description = "Hub that receives the kube-audit records."
  value       = azurerm_eventhub.kube_audit.name
}

output "state_table" {
  description = "Azure Table holding the detection state."
  value       = azurerm_storage_table.state.name
}

output "key_vault_name" {
  description = "Key Vault holding the SMTP password, and any sink secret you store there."
  value       = azurerm_key_vault.secretwatch.name
}

output "key_vault_uri" {
  description = "URI of the stack's Key Vault; a sink secret stored there is referred to as KEY_VAULT_URI + \"secrets/NAME\" in sink_secrets."
  value       = azurerm_key_vault.secretwatch.vault_uri
}

output "smtp_password_secret_name" {
  description = "Secret to set to the SMTP password out of band (az keyvault secret set)."
  value       = azurerm_key_vault_secret.smtp_password.name
}

output "no_data_alert_id" {
  description = "Azure Monitor alert that emails alert_to when no audit batch was processed for no_data_minutes."
  value       = azurerm_monitor_scheduled_query_rules_alert_v2.no_data.id
}

output "state_store_uri" {
  description = "The function's store as a secretwatch URI: give it to `secretwatch scan --prime --state` and `secretwatch replay --state`."
  value       = local.store_uri
}
