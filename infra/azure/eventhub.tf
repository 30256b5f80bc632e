# Standard tier: Basic allows only the $Default consumer group, and the function gets its own.
#
# Local (SAS) authentication stays enabled because Azure Monitor diagnostic settings stream with a
# namespace authorization rule (Manage, Send and Listen are required for that). Nothing else uses a key:
# the function reads with its managed identity (Azure Event Hubs Data Receiver on the one hub).
resource "azurerm_eventhub_namespace" "audit" {
  #checkov:skip=CKV_AZURE_228:azurerm 4 has no zone_redundant argument; Event Hubs namespaces are zone redundant by default where the region has zones
  name                          = local.names.eventhub_namespace
  location                      = azurerm_resource_group.secretwatch.location
  resource_group_name           = azurerm_resource_group.secretwatch.name
  sku                           = "Standard"
  capacity                      = 1
  minimum_tls_version           = "1.2"
  local_authentication_enabled  = true
  public_network_access_enabled = true
}

resource "azurerm_eventhub" "kube_audit" {
  name              = local.names.eventhub
  namespace_id      = azurerm_eventhub_namespace.audit.id
  partition_count   = var.eventhub_partition_count
  message_retention = var.eventhub_message_retention_days
}

resource "azurerm_eventhub_consumer_group" "secretwatch" {
  name                = local.names.consumer_group
  namespace_name      = azurerm_eventhub_namespace.audit.name
  eventhub_name       = azurerm_eventhub.kube_audit.name
  resource_group_name = azurerm_resource_group.secretwatch.name
}

resource "azurerm_eventhub_namespace_authorization_rule" "diagnostics" {
  name                = "aks-diagnostic-settings"
  namespace_name      = azurerm_eventhub_namespace.audit.name
  resource_group_name = azurerm_resource_group.secretwatch.name
  listen              = true
  send                = true
  manage              = true
}

# kube-audit only. Not kube-audit-admin: that category drops every get and list, so reading or listing
# secrets (what both rules look for) would be invisible. Other categories (kube-apiserver, guard, ...)
# carry klog text, not audit events, and are left out.
resource "azurerm_monitor_diagnostic_setting" "aks_kube_audit" {
  name                           = "secretwatch-kube-audit"
  target_resource_id             = var.aks_cluster_id
  eventhub_name                  = azurerm_eventhub.kube_audit.name
  eventhub_authorization_rule_id = azurerm_eventhub_namespace_authorization_rule.diagnostics.id

  enabled_log {
    category = "kube-audit"
  }
}
