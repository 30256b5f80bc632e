# Delivery: a push subscription that we own, not the function's event_trigger.
#
# An event_trigger makes Eventarc create and own the Pub/Sub subscription. Eventarc retries with exponential
# backoff but has no dead-letter setting, and Terraform cannot change a subscription it did not create, so a
# message the function keeps failing on would be retried for the subscription's retention and then dropped.
# Google also recommends direct Pub/Sub triggers for functions ("Create triggers from Pub/Sub events"): this
# subscription pushes each message straight to the function with an OIDC token, retries with exponential
# backoff, and after max_delivery_attempts moves the message to the dead-letter topic, where a pull
# subscription keeps it 7 days for inspection and replay. The function receives the standard Pub/Sub push
# body; functions-framework hands it to the CloudEvent handler as a messagePublished event.

locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "audit" {
  #checkov:skip=CKV_GCP_83:audit entries are Google-encrypted at rest like the logs they come from; add kms_key_name if policy requires CMEK
  project = var.project
  name    = "secretwatch-k8s-secrets"

  depends_on = [google_project_service.required]
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:same data as the audit topic, Google-encrypted at rest; add kms_key_name if policy requires CMEK
  project = var.project
  name    = "secretwatch-k8s-secrets-dead-letter"

  depends_on = [google_project_service.required]
}

resource "google_pubsub_subscription" "push" {
  project = var.project
  name    = "secretwatch-k8s-secrets-push"
  topic   = google_pubsub_topic.audit.id

  # For push this is also the request timeout; keep it above the function's timeout_seconds.
  ack_deadline_seconds       = 600
  message_retention_duration = "604800s"

  # A quiet cluster must not lose its subscription to the 31-day inactivity expiry.
  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  push_config {
    push_endpoint = google_cloudfunctions2_function.secretwatch.service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.push.email
    }
  }

  # One apply: the endpoint is the function's URL (an implicit dependency), and the first push must find
  # the identity allowed to mint its token and to invoke, and the dead-letter topic writable.
  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_service_account_iam_member.push_token_creator,
    google_cloud_run_v2_service_iam_member.push_invoker,
  ]
}

resource "google_pubsub_subscription" "dead_letter" {
  project = var.project
  name    = "secretwatch-k8s-secrets-dead-letter"
  topic   = google_pubsub_topic.dead_letter.id

  # Messages published to a topic without a subscription are lost: this one holds them for a week.
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent forwards failed messages: it publishes to the dead-letter topic and
# acknowledges them on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent

  # The service agent exists once the Pub/Sub API is enabled.
  depends_on = [google_project_service.required]
}

resource "google_pubsub_subscription_iam_member" "dead_letter_acknowledger" {
  project      = var.project
  subscription = google_pubsub_subscription.push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent

  depends_on = [google_project_service.required]
}

# Pub/Sub mints the push OIDC token as this account; projects created before 8 April 2021 need the
# service agent to hold Token Creator on it (newer projects have it implicitly).
resource "google_service_account" "push" {
  project      = var.project
  account_id   = "secretwatch-push"
  display_name = "secretwatch Pub/Sub push identity"

  depends_on = [google_project_service.required]
}

resource "google_service_account_iam_member" "push_token_creator" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent

  depends_on = [google_project_service.required]
}

# A 2nd-gen function is served by a Cloud Run service of the same name; invoking it takes run.invoker there.
resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.secretwatch.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}
