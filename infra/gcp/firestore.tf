# A named database, so the project's (default) database, if any, is left alone.
resource "google_firestore_database" "state" {
  project                           = var.project
  name                              = local.firestore_database
  location_id                       = coalesce(var.firestore_location, var.region)
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  # The state holds learned user agents and open threshold windows; losing it re-arms the learning period.
  # To destroy the stack, set DELETE_PROTECTION_DISABLED and apply first.
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "DELETE"

  depends_on = [google_project_service.required]
}

# Firestore deletes a document once its `exp` timestamp has passed (lazily, typically within a day); the
# store also ignores expired documents on read. The store reads documents by id only, so `exp` and the
# large JSON value `v` need no single-field index: exempting them makes writes cheaper.
resource "google_firestore_field" "state_expiry" {
  project    = var.project
  database   = google_firestore_database.state.name
  collection = local.state_collection
  field      = "exp"

  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "state_value" {
  project    = var.project
  database   = google_firestore_database.state.name
  collection = local.state_collection
  field      = "v"

  index_config {}
}
