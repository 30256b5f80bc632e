terraform {
  required_version = ">= 1.5"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.0, < 5.0"
    }
  }
}

provider "azurerm" {
  # Everything is deployed in the AKS cluster's subscription: diagnostic settings stream to an Event Hub
  # in the cluster's own region.
  subscription_id = local.subscription_id

  features {
    key_vault {
      # Purge protection is on: a destroyed vault stays recoverable for its retention period.
      purge_soft_delete_on_destroy = false
    }
  }
}
