# The Function App's managed identity gets exactly what it uses, each on the narrowest scope.

resource "azurerm_role_assignment" "function_eventhub_receiver" {
  scope                = azurerm_eventhub.kube_audit.id
  role_definition_name = "Azure Event Hubs Data Receiver"
  principal_id         = azurerm_linux_function_app.secretwatch.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# Scoped to the one table: the state store (SECRETWATCH_STORE's endpoint= form) authenticates with this
# identity. The account also holds the Functions host's blobs and content share, which it cannot reach.
resource "azurerm_role_assignment" "function_table_contributor" {
  scope                = "${azurerm_storage_account.secretwatch.id}/tableServices/default/tables/${azurerm_storage_table.state.name}"
  role_definition_name = "Storage Table Data Contributor"
  principal_id         = azurerm_linux_function_app.secretwatch.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# Resolves the Key Vault references in the app settings: the SMTP password, and any sink secret kept here.
resource "azurerm_role_assignment" "function_secrets_user" {
  scope                = azurerm_key_vault.secretwatch.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_linux_function_app.secretwatch.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# The sinks' secrets kept in other vaults (var.sink_secret_vault_ids): read access on exactly the referenced
# secrets, not on their vaults. Secrets in this stack's vault are covered by the grant above.
resource "azurerm_role_assignment" "function_sink_secrets" {
  for_each = local.sink_secret_grants

  scope                = each.value
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_linux_function_app.secretwatch.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}
