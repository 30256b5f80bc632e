resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:holds only the function's build input, read by Cloud Build; Cloud Audit Logs already record who changes it
  project                     = var.project
  name                        = "${var.project}-secretwatch-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 3
    }
    action {
      type = "Delete"
    }
  }
}

# The object name carries the zip's hash, so a new build redeploys the function.
resource "google_storage_bucket_object" "source" {
  name   = "secretwatch-${filemd5(var.source_zip)}.zip"
  bucket = google_storage_bucket.source.name
  source = var.source_zip
}

# The SMTP password is never in Terraform: add it as a secret version out of band, after the first apply
# (see infra/gcp/README.md):
#   printf %s "$SMTP_PASSWORD" | gcloud secrets versions add secretwatch-smtp-password --data-file=-
# Cloud Run refuses a revision whose secret has no version, so Terraform adds a placeholder version first and
# the function waits for it: one apply creates everything. Until the real password is added, sending fails
# and the message is retried, then dead-lettered; nothing is lost.
resource "google_secret_manager_secret" "smtp_password" {
  project   = var.project
  secret_id = "secretwatch-smtp-password"

  replication {
    auto {}
  }

  depends_on = [google_project_service.required]
}

resource "google_secret_manager_secret_version" "smtp_password_placeholder" {
  secret      = google_secret_manager_secret.smtp_password.id
  secret_data = "placeholder: add the SMTP password as a new version"

  # The real password is a later version, added out of band; Terraform never reads or replaces it.
  lifecycle {
    ignore_changes = [secret_data, enabled]
  }
}

resource "google_service_account" "function" {
  project      = var.project
  account_id   = "secretwatch-fn"
  display_name = "secretwatch function runtime identity"

  depends_on = [google_project_service.required]
}

# Least privilege: read and write documents of the secretwatch database only, read its secrets (the SMTP
# password and those in var.sink_secrets), and write logs. The function needs nothing else (delivery comes to it
# by push).
resource "google_project_iam_member" "function_datastore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.function.email}"

  condition {
    title       = "secretwatch-database-only"
    description = "Only the secretwatch Firestore database."
    expression  = "resource.name == \"projects/${var.project}/databases/${local.firestore_database}\""
  }
}

resource "google_project_iam_member" "function_log_writer" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.function.email}"
}

resource "google_secret_manager_secret_iam_member" "function_smtp_password" {
  project   = var.project
  secret_id = google_secret_manager_secret.smtp_password.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function.email}"
}

# The sinks' own secrets (var.sink_secrets), in this project or another: read access on exactly those secrets,
# never on the project's other secrets. Their values are added out of band, like the SMTP password.
resource "google_secret_manager_secret_iam_member" "function_sink_secrets" {
  for_each = local.sink_secret_grants

  project   = each.value.project
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function.email}"
}

resource "google_cloudfunctions2_function" "secretwatch" {
  project     = var.project
  name        = "secretwatch"
  location    = var.region
  description = "Detects abuse of Kubernetes secrets in GKE audit logs."

  build_config {
    runtime     = "python311"
    entry_point = "handle_pubsub"

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = "512M"
    timeout_seconds                  = 300
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = 1
    # Pub/Sub push from the same project counts as internal traffic; nothing else may call the function.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.function.email

    environment_variables = merge({
      SECRETWATCH_STORE           = local.store_uri
      SECRETWATCH_SINKS           = local.sinks_uri
      SECRETWATCH_LEARNING_PERIOD = var.learning_period
    }, local.tuning_settings)

    secret_environment_variables {
      key        = "SMTP_PASSWORD"
      project_id = var.project
      secret     = google_secret_manager_secret.smtp_password.secret_id
      version    = var.smtp_password_version
    }

    dynamic "secret_environment_variables" {
      for_each = local.sink_secret_mounts
      content {
        key        = secret_environment_variables.key
        project_id = secret_environment_variables.value.project
        secret     = secret_environment_variables.value.secret
        version    = secret_environment_variables.value.version
      }
    }
  }

  lifecycle {
    precondition {
      condition     = length(local.unmounted_sink_env) == 0
      error_message = "extra_sinks read ${join(", ", local.unmounted_sink_env)} from the environment, which sink_secrets does not mount: add NAME = \"projects/PROJECT/secrets/SECRET\" to sink_secrets for each."
    }
  }

  depends_on = [
    google_project_service.required,
    google_project_iam_member.function_datastore,
    google_secret_manager_secret_iam_member.function_smtp_password,
    google_secret_manager_secret_iam_member.function_sink_secrets,
    google_secret_manager_secret_version.smtp_password_placeholder,
  ]
}
