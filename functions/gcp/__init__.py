"""Google Cloud Functions (2nd gen) door: GKE audit LogEntries delivered by Pub/Sub as CloudEvents."""
