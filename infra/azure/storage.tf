# One account serves the Function host (AzureWebJobsStorage, Event Hub checkpoints and, on Consumption, the
# content file share) and the state table. Shared keys stay enabled only because Azure Files content shares
# accept nothing else: the host's AzureWebJobsStorage setting holds the key, as the Functions platform
# requires. The state store never sees it: it reads and writes the table with the app's managed identity.
resource "azurerm_storage_account" "secretwatch" {
  #checkov:skip=CKV_AZURE_59:a Consumption-plan function has no VNet integration and reaches its storage over the public endpoint; access still needs a key
  #checkov:skip=CKV2_AZURE_33:private endpoints need VNet integration, which the Consumption plan lacks
  #checkov:skip=CKV2_AZURE_40:the Consumption plan's Azure Files content share authenticates only with the account key (the state store uses the managed identity)
  #checkov:skip=CKV2_AZURE_1:holds detection state and checkpoints, no customer data; Microsoft-managed keys encrypt it at rest
  #checkov:skip=CKV_AZURE_206:geo-replication buys nothing: the pipeline is regional (the hub must share the cluster region) and the state is short-lived; ZRS covers a zone loss
  #checkov:skip=CKV_AZURE_33:the Queue service is unused (the Event Hub trigger keeps checkpoints in blobs)
  name                            = local.names.storage_account
  resource_group_name             = azurerm_resource_group.secretwatch.name
  location                        = azurerm_resource_group.secretwatch.location
  account_kind                    = "StorageV2"
  account_tier                    = "Standard"
  account_replication_type        = var.storage_replication_type
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = true
  public_network_access_enabled   = true

  # Nothing in this stack hands out SAS tokens; log any that live longer than a day.
  sas_policy {
    expiration_period = "01.00:00:00"
    expiration_action = "Log"
  }

  blob_properties {
    delete_retention_policy {
      days = 7
    }
    container_delete_retention_policy {
      days = 7
    }
  }

  lifecycle {
    postcondition {
      condition     = trimsuffix(self.primary_table_endpoint, "/") == local.table_endpoint
      error_message = "The state store URI (local.store_uri) names a table endpoint that is not this account's."
    }
  }
}

resource "azurerm_storage_table" "state" {
  #checkov:skip=CKV2_AZURE_20:the function reads this table on every batch; logging each read would cost more than the table and record only the function itself
  name                 = local.state_table
  storage_account_name = azurerm_storage_account.secretwatch.name
}
