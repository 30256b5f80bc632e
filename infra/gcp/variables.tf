variable "project" {
  description = "Project that runs the GKE clusters to watch; everything here is created in it."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project))
    error_message = "project: a project ID such as acme-prod-payments (not its name or number)."
  }
}

variable "region" {
  description = "Region of the function, its source bucket and (unless firestore_location is set) the state database."
  type        = string
}

variable "firestore_location" {
  description = "Location of the Firestore database (a region or a multi-region such as eur3); null means var.region."
  type        = string
  default     = null
}

variable "cluster_names" {
  description = "Names of the GKE clusters to watch; empty watches every cluster in the project."
  type        = list(string)
  default     = []
}

variable "alert_from" {
  description = "Sender address of alert emails."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", var.alert_from))
    error_message = "alert_from must be a bare address like alerts@example.com."
  }
}

variable "alert_to" {
  description = "Recipients of alert emails."
  type        = list(string)

  validation {
    condition     = length(var.alert_to) > 0 && alltrue([for address in var.alert_to : can(regex("^[^@\\s]+@[^@\\s]+$", address))])
    error_message = "alert_to must hold at least one bare address like secops@example.com."
  }
}

variable "smtp_host" {
  description = "SMTP server that relays the alerts (STARTTLS is required)."
  type        = string
}

variable "smtp_port" {
  description = "SMTP submission port."
  type        = number
  default     = 587

  validation {
    condition     = var.smtp_port >= 1 && var.smtp_port <= 65535
    error_message = "smtp_port: a TCP port, such as 587."
  }
}

variable "smtp_username" {
  description = "SMTP login; the password lives in Secret Manager (output smtp_password_secret)."
  type        = string
}

variable "smtp_password_version" {
  description = "Version of the SMTP password secret the function reads; pin a number to roll out rotations deliberately."
  type        = string
  default     = "latest"

  validation {
    condition     = can(regex("^(latest|[1-9][0-9]*)$", var.smtp_password_version))
    error_message = "smtp_password_version: latest, or a version number such as 2."
  }
}

variable "learning_period" {
  description = "How long after the first event the unusual-user-agent rule only learns (e.g. 7d); 0s alerts at once."
  type        = string
  default     = "7d"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d|w))+$", var.learning_period))
    error_message = "learning_period is a duration such as 7d, 12h or 0s."
  }
}

variable "source_zip" {
  description = "Function source built by `make package-gcp` (main.py at the root of the zip)."
  type        = string
  default     = "../../build/secretwatch-gcp.zip"
}

variable "max_instances" {
  description = "Upper bound on function instances; Pub/Sub push slows down rather than dropping when it is reached."
  type        = number
  default     = 10

  validation {
    condition     = var.max_instances >= 1 && floor(var.max_instances) == var.max_instances
    error_message = "max_instances: a whole number of at least 1."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of one message before it goes to the dead-letter topic (5 to 100)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "Pub/Sub accepts 5 to 100 delivery attempts."
  }
}

variable "tuning" {
  description = "A tuning file inside the function package, relative to its root: \"tuning.yml\" after `make package-gcp TUNING=FILE`; null for none."
  type        = string
  default     = null

  validation {
    condition     = var.tuning == null || can(regex("^([A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$", var.tuning))
    error_message = "tuning: null, or a relative path inside the package ending in .yml or .yaml, with no .. or leading /."
  }
}

variable "no_data_minutes" {
  description = "Minutes without a processed audit message before the no-data alert emails alert_to (5 to 1410, Cloud Monitoring's longest absence)."
  type        = number
  default     = 30

  validation {
    condition     = var.no_data_minutes >= 5 && var.no_data_minutes <= 1410 && floor(var.no_data_minutes) == var.no_data_minutes
    error_message = "no_data_minutes: a whole number of minutes from 5 to 1410."
  }
}

variable "extra_sinks" {
  description = "More alert sink URIs after the e-mail, such as a signed webhook. No secret in a URI: a sink names the environment variable holding one (secret_env=NAME, password_env=NAME, or env://NAME for a URI that is itself secret, such as a Slack webhook) and sink_secrets mounts it."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for uri in var.extra_sinks : can(regex("^[a-z][a-z0-9+.-]*://[^\\s]+$", uri))])
    error_message = "extra_sinks: sink URIs such as jsonl://-, each starting with its scheme and holding no spaces."
  }

  validation {
    condition     = !anytrue([for uri in var.extra_sinks : can(regex("(?i)^https?://hooks\\.slack\\.com/", uri))])
    error_message = "extra_sinks: a Slack incoming-webhook URL is itself a secret; store it in Secret Manager, mount it with sink_secrets (SLACK_WEBHOOK_URL = \"projects/P/secrets/S\") and list env://SLACK_WEBHOOK_URL instead."
  }
}

variable "sink_secrets" {
  description = "Environment variables the extra sinks read a secret from, each mounted from Secret Manager by reference: NAME = \"projects/PROJECT/secrets/SECRET\" (latest version) or \"projects/PROJECT/secrets/SECRET/versions/N\". The values never pass through Terraform; the function may read exactly these secrets."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.sink_secrets) : can(regex("^[A-Z_][A-Z0-9_]*$", name))])
    error_message = "sink_secrets: keys are environment variable names in capitals, digits and _, such as WEBHOOK_SIGNING_KEY."
  }

  validation {
    condition     = !anytrue([for name in keys(var.sink_secrets) : can(regex("^(SECRETWATCH_|X_GOOGLE_|GOOGLE_|FUNCTION_|K_|CLOUD_RUN_|PYTHON)|_EMULATOR_HOST$|^(SMTP_PASSWORD|PORT|PATH|HOME)$", name))])
    error_message = "sink_secrets: a name is reserved (SECRETWATCH_*, SMTP_PASSWORD, or one the runtime sets: GOOGLE_*, X_GOOGLE_*, FUNCTION_*, K_*, CLOUD_RUN_*, PYTHON*, *_EMULATOR_HOST, PORT, PATH, HOME); choose another, such as WEBHOOK_SIGNING_KEY."
  }

  validation {
    condition     = alltrue([for reference in values(var.sink_secrets) : can(regex("^projects/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]+)/secrets/(?P<secret>[A-Za-z0-9_-]{1,255})(?:/versions/(?P<version>latest|[1-9][0-9]*))?$", reference))])
    error_message = "sink_secrets: values are Secret Manager secret names, projects/PROJECT/secrets/SECRET or projects/PROJECT/secrets/SECRET/versions/N, never the secret itself."
  }
}
