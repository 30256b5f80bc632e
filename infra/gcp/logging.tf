# GKE writes no get, list or watch of a Kubernetes object unless Data Access logs are on for the
# Kubernetes Engine API. Which type GKE files a secret read under (ADMIN_READ for metadata such as a list,
# DATA_READ for data) is not documented per verb, so all read types are enabled, and DATA_WRITE with them.
# Cost: Data Access logs are billed as Cloud Logging ingestion (Admin Activity logs are free), and in a busy
# cluster controllers read a lot; add an exclusion on the _Default sink if you do not want to keep them there.
# This resource is authoritative for container.googleapis.com: it replaces any audit config already set on
# that service in the project (others are untouched).
resource "google_project_iam_audit_config" "kubernetes_data_access" {
  project = var.project
  service = "container.googleapis.com"

  audit_log_config {
    log_type = "ADMIN_READ"
  }
  audit_log_config {
    log_type = "DATA_READ"
  }
  audit_log_config {
    log_type = "DATA_WRITE"
  }
}

resource "google_logging_project_sink" "secrets_audit" {
  project     = var.project
  name        = "secretwatch-k8s-secrets"
  description = "Kubernetes API audit entries on secrets, for secretwatch."
  destination = "pubsub.googleapis.com/${google_pubsub_topic.audit.id}"
  filter      = local.sink_filter

  unique_writer_identity = true
}

resource "google_pubsub_topic_iam_member" "sink_publisher" {
  project = var.project
  topic   = google_pubsub_topic.audit.name
  role    = "roles/pubsub.publisher"
  member  = google_logging_project_sink.secrets_audit.writer_identity
}
