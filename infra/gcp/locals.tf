# Values built from variables only, so tests can evaluate this file with `terraform console`.
locals {
  # SECRETWATCH_TUNING only when a tuning file is bundled: an empty value would still be a setting to read.
  tuning_settings = var.tuning == null ? {} : { SECRETWATCH_TUNING = var.tuning }

  state_collection   = "secretwatch-state"
  firestore_database = "secretwatch"

  store_uri = "firestore://${local.state_collection}?project=${var.project}&database=${local.firestore_database}"

  # The e-mail sink first, then any extra sinks; the app splits the list at commas that start a new URI.
  sinks_uri = join(",", concat([local.smtp_uri], var.extra_sinks))

  # Addresses are percent-encoded: a "+" in a query string would otherwise arrive as a space.
  smtp_uri = format("smtp://%s:%d?%s", var.smtp_host, var.smtp_port, join("&", [
    "from=${urlencode(var.alert_from)}",
    "to=${join(",", [for address in var.alert_to : urlencode(address)])}",
    "starttls=1",
    "username=${urlencode(var.smtp_username)}",
    "password_env=SMTP_PASSWORD",
  ]))

  # GKE writes Kubernetes API writes to the activity log and reads (get, list, watch) to the data_access
  # log. Both logName values are ANDed with the methodName clause, so from either log only calls on core/v1
  # secrets pass. methodName is io.k8s.core.v1.secrets.<verb>; matching resourceName:"/secrets" instead
  # would also let through other kinds whose plural starts with "secrets", such as secretstores.
  audit_log_names = [
    for log in ["activity", "data_access"] : "\"projects/${var.project}/logs/cloudaudit.googleapis.com%2F${log}\""
  ]
  sink_clauses = concat(
    [
      "resource.type=\"k8s_cluster\"",
      "protoPayload.serviceName=\"k8s.io\"",
      "logName=(${join(" OR ", local.audit_log_names)})",
      "protoPayload.methodName:\"io.k8s.core.v1.secrets.\"",
    ],
    length(var.cluster_names) == 0 ? [] : [
      "resource.labels.cluster_name=(${join(" OR ", [for name in var.cluster_names : "\"${name}\""])})",
    ],
  )
  sink_filter = join("\nAND ", local.sink_clauses)

  # The function's "message processed" log lines (one per handled Pub/Sub message), which the no-data
  # alert counts. A 2nd-gen function runs as the Cloud Run service of the same name.
  processed_filter = join("\nAND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"secretwatch\"",
    "jsonPayload.message=\"message processed\"",
  ])
}
