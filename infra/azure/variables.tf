variable "resource_group_name" {
  description = "Resource group created for secretwatch's resources."
  type        = string
  default     = "rg-secretwatch"
}

variable "location" {
  description = "Azure region; must be the AKS cluster's region (diagnostic settings stream only to an Event Hub in the same region)."
  type        = string
}

variable "aks_cluster_id" {
  description = "Resource ID of the AKS cluster to watch."
  type        = string

  validation {
    condition     = can(regex("(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.ContainerService/managedClusters/[^/]+$", var.aks_cluster_id))
    error_message = "aks_cluster_id must be a managed cluster resource ID: /subscriptions/S/resourceGroups/G/providers/Microsoft.ContainerService/managedClusters/N."
  }
}

variable "alert_from" {
  description = "Sender address of alert emails."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", var.alert_from))
    error_message = "alert_from must be a bare address like alerts@example.com."
  }
}

variable "alert_to" {
  description = "Recipients of alert emails."
  type        = list(string)

  validation {
    condition     = length(var.alert_to) > 0 && alltrue([for address in var.alert_to : can(regex("^[^@\\s]+@[^@\\s]+$", address))])
    error_message = "alert_to must hold at least one bare address like secops@example.com."
  }
}

variable "smtp_host" {
  description = "SMTP server that relays the alerts (STARTTLS is required)."
  type        = string
}

variable "smtp_port" {
  description = "SMTP submission port."
  type        = number
  default     = 587

  validation {
    condition     = var.smtp_port >= 1 && var.smtp_port <= 65535
    error_message = "smtp_port: a TCP port, such as 587."
  }
}

variable "smtp_username" {
  description = "SMTP login; the password lives in Key Vault (output smtp_password_secret_name)."
  type        = string
}

variable "learning_period" {
  description = "How long after the first event the unusual-user-agent rule only learns (e.g. 7d); 0s alerts at once."
  type        = string
  default     = "7d"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d|w))+$", var.learning_period))
    error_message = "learning_period is a duration such as 7d, 12h or 0s."
  }
}

variable "function_plan_sku" {
  description = "App Service plan of the Function App: Y1 (Consumption) or an Elastic Premium size such as EP1."
  type        = string
  default     = "Y1"
}

variable "eventhub_partition_count" {
  description = "Partitions of the audit hub: the most Function instances that read it in parallel. Fixed once created."
  type        = number
  default     = 2

  validation {
    condition     = var.eventhub_partition_count >= 1 && var.eventhub_partition_count <= 32
    error_message = "eventhub_partition_count: 1 to 32 on the Standard tier."
  }
}

variable "eventhub_message_retention_days" {
  description = "Days the hub keeps audit records the function has not read yet (1 to 7 on the Standard tier)."
  type        = number
  default     = 3

  validation {
    condition     = var.eventhub_message_retention_days >= 1 && var.eventhub_message_retention_days <= 7
    error_message = "eventhub_message_retention_days: 1 to 7 on the Standard tier."
  }
}

variable "log_retention_days" {
  description = "Retention of the Function App's Application Insights workspace."
  type        = number
  default     = 30

  validation {
    condition     = var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days: 30 to 730, what a Log Analytics workspace accepts."
  }
}

variable "storage_replication_type" {
  description = "Replication of the storage account (ZRS survives a zone outage; use LRS where the region has no zones)."
  type        = string
  default     = "ZRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS"], var.storage_replication_type)
    error_message = "storage_replication_type: LRS, ZRS, GRS, RAGRS, GZRS or RAGZRS."
  }
}

variable "tuning" {
  description = "A tuning file inside the function package, relative to its root: \"tuning.yml\" after `make package-azure TUNING=FILE`; null for none."
  type        = string
  default     = null

  validation {
    condition     = var.tuning == null || can(regex("^([A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$", var.tuning))
    error_message = "tuning: null, or a relative path inside the package ending in .yml or .yaml, with no .. or leading /."
  }
}

variable "audit_log_workspace_id" {
  description = "Resource id of the Log Analytics workspace that also receives the cluster's kube-audit logs (AKSAudit table): alerts then link to a query of the user's requests there; null for no link."
  type        = string
  default     = null

  validation {
    condition     = var.audit_log_workspace_id == null || can(regex("(?i)^/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\\.OperationalInsights/workspaces/[A-Za-z0-9-]{4,63}$", var.audit_log_workspace_id))
    error_message = "audit_log_workspace_id: null, or /subscriptions/SUBSCRIPTION_ID/resourceGroups/GROUP/providers/Microsoft.OperationalInsights/workspaces/NAME."
  }
}

variable "no_data_minutes" {
  description = "Minutes without a processed audit batch before the no-data alert emails alert_to: 5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360 or 1440 (Azure Monitor's query windows)."
  type        = number
  default     = 30

  validation {
    condition     = contains([5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440], var.no_data_minutes)
    error_message = "no_data_minutes: one of 5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360 or 1440."
  }
}

variable "extra_sinks" {
  description = "More alert sink URIs after the e-mail, such as a signed webhook. No secret in a URI: a sink names the environment variable holding one (secret_env=NAME, password_env=NAME, or env://NAME for a URI that is itself secret, such as a Slack webhook) and sink_secrets sets it from Key Vault."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for uri in var.extra_sinks : can(regex("^[a-z][a-z0-9+.-]*://[^\\s]+$", uri))])
    error_message = "extra_sinks: sink URIs such as jsonl://-, each starting with its scheme and holding no spaces."
  }

  validation {
    condition     = !anytrue([for uri in var.extra_sinks : can(regex("(?i)^https?://hooks\\.slack\\.com/", uri))])
    error_message = "extra_sinks: a Slack incoming-webhook URL is itself a secret; store it in Key Vault, reference it with sink_secrets (SLACK_WEBHOOK_URL = \"https://VAULT.vault.azure.net/secrets/NAME\") and list env://SLACK_WEBHOOK_URL instead."
  }
}

variable "sink_secrets" {
  description = "Environment variables the extra sinks read a secret from, each an app setting referring to a Key Vault secret by its versionless URI: NAME = \"https://VAULT.vault.azure.net/secrets/SECRET\". The values never pass through Terraform. The vault must use Azure RBAC; a vault other than this stack's must be listed in sink_secret_vault_ids."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.sink_secrets) : can(regex("^[A-Z_][A-Z0-9_]*$", name))])
    error_message = "sink_secrets: keys are environment variable names in capitals, digits and _, such as WEBHOOK_SIGNING_KEY."
  }

  validation {
    condition     = !anytrue([for name in keys(var.sink_secrets) : can(regex("^(SECRETWATCH_|FUNCTIONS_|WEBSITE_|WEBSITES_|AZUREWEBJOBS|AZURE_|APPINSIGHTS_|APPLICATIONINSIGHTS_|APPSETTING_|SCM_|MSI_|IDENTITY_|EVENTHUBCONNECTION|PYTHON|DOCKER_)|^(SMTP_PASSWORD|PORT|PATH|HOME)$", name))])
    error_message = "sink_secrets: a name is reserved (SECRETWATCH_*, SMTP_PASSWORD, EventHubConnection*, or one the Functions host or runtime uses: FUNCTIONS_*, WEBSITE_*, AzureWebJobs*, AZURE_*, APPINSIGHTS_*, APPLICATIONINSIGHTS_*, APPSETTING_*, SCM_*, MSI_*, IDENTITY_*, PYTHON*, DOCKER_*, PORT, PATH, HOME); choose another, such as WEBHOOK_SIGNING_KEY."
  }

  validation {
    condition     = alltrue([for uri in values(var.sink_secrets) : can(regex("^https://(?P<vault>[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9])\\.vault\\.azure\\.net/secrets/(?P<secret>[A-Za-z0-9-]{1,127})/?$", uri))])
    error_message = "sink_secrets: values are versionless Key Vault secret URIs, https://VAULT.vault.azure.net/secrets/SECRET (no version, so a new version is picked up), never the secret itself."
  }
}

variable "sink_secret_vault_ids" {
  description = "Resource IDs of the Key Vaults (Azure RBAC) holding sink_secrets, other than this stack's own vault (output key_vault_name); the function gets Key Vault Secrets User on exactly the referenced secrets."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.sink_secret_vault_ids : can(regex("(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.KeyVault/vaults/[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$", id))])
    error_message = "sink_secret_vault_ids: Key Vault resource IDs, /subscriptions/S/resourceGroups/G/providers/Microsoft.KeyVault/vaults/NAME (az keyvault show --name NAME --query id)."
  }
}
