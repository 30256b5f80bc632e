# Silence is a failure too: Data Access logs switched off, the log sink deleted, the function failing before
# it counts. Every cluster's controllers read secrets all the time, so a whole quiet period without one
# processed message means the pipeline has stopped. The function logs "message processed" once per Pub/Sub
# message it handled (functions/gcp/main.py); this metric counts those lines and the policy fires when they
# stop. It tells the people who receive the alerts, by email.

resource "google_logging_metric" "messages_processed" {
  project     = var.project
  name        = "secretwatch/messages_processed"
  description = "Pub/Sub messages of Kubernetes secret audit entries the secretwatch function handled."
  filter      = local.processed_filter

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }

  depends_on = [google_project_service.required]
}

resource "google_monitoring_notification_channel" "alert_to" {
  for_each = toset(var.alert_to)

  project      = var.project
  display_name = "secretwatch: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }

  depends_on = [google_project_service.required]
}

resource "google_monitoring_alert_policy" "no_data" {
  project      = var.project
  display_name = "secretwatch: no audit events on secrets"
  combiner     = "OR"

  conditions {
    display_name = "No processed message for ${var.no_data_minutes} minutes"

    condition_absent {
      filter   = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.messages_processed.name}\" AND resource.type=\"cloud_run_revision\""
      duration = "${var.no_data_minutes * 60}s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "secretwatch has handled no audit entry on secrets for ${var.no_data_minutes} minutes. Check that Data Access audit logs are on for container.googleapis.com, that the log sink secretwatch-k8s-secrets exists, and the function's logs."
  }

  notification_channels = [for channel in google_monitoring_notification_channel.alert_to : channel.id]
}
