# Values built from variables only, so tests can evaluate this file with `terraform console`.
locals {
  # SECRETWATCH_TUNING only when a tuning file is bundled: an empty value would still be a setting to read.
  tuning_settings = var.tuning == null ? {} : { SECRETWATCH_TUNING = var.tuning }

  state_collection   = "secretwatch-state"
  firestore_database = "secretwatch"

  store_uri = "firestore://${local.state_collection}?project=${var.project}&database=${local.firestore_database}"

  # The e-mail sink first, then any extra sinks; the app splits the list at commas that start a new URI.
  sinks_uri = join(",", concat([local.smtp_uri], var.extra_sinks))

  # Secrets the sinks read from the environment, by reference: each Secret Manager name split into the parts a
  # secret environment variable takes (same pattern as the sink_secrets validation). Terraform never reads a value.
  sink_secret_parts = {
    for name, reference in var.sink_secrets :
    name => regex("^projects/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]+)/secrets/(?P<secret>[A-Za-z0-9_-]{1,255})(?:/versions/(?P<version>latest|[1-9][0-9]*))?$", reference)
  }
  sink_secret_mounts = {
    for name, parts in local.sink_secret_parts :
    name => { project = parts.project, secret = parts.secret, version = coalesce(parts.version, "latest") }
  }
  # One read grant per secret, however many variables mount it.
  sink_secret_grants = {
    for id, mounts in { for mount in values(local.sink_secret_mounts) : "projects/${mount.project}/secrets/${mount.secret}" => mount... } :
    id => { project = mounts[0].project, secret = mounts[0].secret }
  }

  # The environment variables the extra sinks name (secret_env=, password_env=, env://NAME) that nothing mounts:
  # the function's precondition refuses to deploy a sink that would fail on its first alert.
  sink_env_references = distinct(flatten([
    for uri in var.extra_sinks : concat(
      flatten(regexall("[?&][a-z]+_env=([A-Za-z_][A-Za-z0-9_]*)", uri)),
      flatten(regexall("^env://([A-Za-z_][A-Za-z0-9_]*)$", uri)),
    )
  ]))
  unmounted_sink_env = sort(setsubtract(local.sink_env_references, concat(keys(var.sink_secrets), ["SMTP_PASSWORD"])))

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
