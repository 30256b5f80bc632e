output "function_uri" {
  description = "Internal URL the push subscription delivers to."
  value       = google_cloudfunctions2_function.secretwatch.service_config[0].uri
}

output "audit_topic" {
  description = "Topic the log sink publishes Kubernetes secret audit entries to."
  value       = google_pubsub_topic.audit.id
}

output "dead_letter_subscription" {
  description = "Pull subscription holding messages the function failed on max_delivery_attempts times."
  value       = google_pubsub_subscription.dead_letter.id
}

output "log_sink_writer_identity" {
  description = "Identity the log sink publishes as."
  value       = google_logging_project_sink.secrets_audit.writer_identity
}

output "firestore_database" {
  description = "Firestore database holding the detection state."
  value       = google_firestore_database.state.name
}

output "function_service_account" {
  description = "Runtime identity of the function."
  value       = google_service_account.function.email
}

output "smtp_password_secret" {
  description = "Secret Manager secret to add the SMTP password to, as a new version."
  value       = google_secret_manager_secret.smtp_password.id
}

output "sink_secrets_readable" {
  description = "Secret Manager secrets (from sink_secrets) the function may read for its sinks; add their values as versions out of band."
  value       = sort(keys(local.sink_secret_grants))
}

output "no_data_alert_policy" {
  description = "Cloud Monitoring policy that emails alert_to when no audit message was processed for no_data_minutes."
  value       = google_monitoring_alert_policy.no_data.name
}

output "state_store_uri" {
  description = "The function's store as a secretwatch URI: give it to `secretwatch scan --prime --state` and `secretwatch replay --state`."
  value       = local.store_uri
}
