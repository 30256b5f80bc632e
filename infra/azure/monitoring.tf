# Silence is a failure too: the diagnostic setting removed, the hub unreachable, the function failing before
# it logs. Every cluster's controllers read secrets all the time, so a whole quiet period without one
# "batch processed" trace (functions/azure/function_app.py logs one per batch) means the pipeline stopped.
# The alert emails the people who receive the alerts.

resource "azurerm_monitor_action_group" "alert_to" {
  name                = "ag-secretwatch-${local.suffix}"
  resource_group_name = azurerm_resource_group.secretwatch.name
  short_name          = "secretwatch"

  dynamic "email_receiver" {
    for_each = var.alert_to
    content {
      name                    = "alert-to-${email_receiver.key}"
      email_address           = email_receiver.value
      use_common_alert_schema = true
    }
  }
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "no_data" {
  name                 = "secretwatch-no-data-${local.suffix}"
  location             = azurerm_resource_group.secretwatch.location
  resource_group_name  = azurerm_resource_group.secretwatch.name
  description          = "secretwatch has processed no audit batch for ${var.no_data_minutes} minutes; check the AKS diagnostic setting, the Event Hub and the Function App's logs."
  scopes               = [azurerm_log_analytics_workspace.secretwatch.id]
  severity             = 1
  window_duration      = local.no_data_window
  evaluation_frequency = "PT5M"
  # AppTraces exists only once the function has logged: the first apply must not depend on it.
  skip_query_validation = true

  criteria {
    query                   = local.no_data_query
    time_aggregation_method = "Total"
    metric_measure_column   = "processed"
    operator                = "LessThan"
    threshold               = 1

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  action {
    action_groups = [azurerm_monitor_action_group.alert_to.id]
  }
}
