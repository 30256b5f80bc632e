locals {
  services = toset([
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "artifactregistry.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
  ])
}

resource "google_project_service" "required" {
  for_each = local.services

  project = var.project
  service = each.value
  # Other workloads in the project may use these APIs too: never switch them off on destroy.
  disable_on_destroy = false
}

data "google_project" "this" {
  project_id = var.project
}
