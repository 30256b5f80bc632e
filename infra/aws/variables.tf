variable "name" {
  description = "Prefix for every resource's name; use one per cluster when several clusters are watched."
  type        = string
  default     = "secretwatch"

  validation {
    condition     = can(regex("^[A-Za-z0-9-]{1,40}$", var.name))
    error_message = "name: letters, digits and hyphens, at most 40 characters."
  }
}

variable "cluster_log_group_name" {
  description = "The EKS cluster's control-plane log group, /aws/eks/CLUSTER/cluster (the audit log type must be enabled)."
  type        = string

  validation {
    condition     = can(regex("^[.\\-_/#A-Za-z0-9]{1,512}$", var.cluster_log_group_name))
    error_message = "cluster_log_group_name: a CloudWatch Logs log group name, such as /aws/eks/prod/cluster."
  }
}

variable "package_zip" {
  description = "The function package built by `make package-aws`."
  type        = string
  default     = "../../build/secretwatch-aws.zip"
}

variable "alert_email" {
  description = "Email address subscribed to the alert topic (alerts and alarms); empty for no subscription."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([^@\\s]+@[^@\\s]+)?$", var.alert_email))
    error_message = "alert_email: empty, or one email address."
  }
}

variable "learning_period" {
  description = "How long new terms are only recorded, not alerted on, after the first deployment (0s to alert at once)."
  type        = string
  default     = "7d"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d|w))+$", var.learning_period))
    error_message = "learning_period: a duration such as 7d, 36h or 0s."
  }
}

variable "ses_sender" {
  description = "Verified SES identity that alert emails are sent from; empty for no SES email sink."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([^@\\s,?]+@[^@\\s,?]+)?$", var.ses_sender))
    error_message = "ses_sender: empty, or one email address verified in SES in this region."
  }
}

variable "ses_recipients" {
  description = "Recipients of the SES alert emails; empty for no SES email sink."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for address in var.ses_recipients : can(regex("^[^@\\s,?]+@[^@\\s,?]+$", address))])
    error_message = "ses_recipients: email addresses, one per element."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions for the function; -1 for none (the account's unreserved pool)."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrency >= -1 && floor(var.reserved_concurrency) == var.reserved_concurrency
    error_message = "reserved_concurrency: -1 for none, or a whole number of executions."
  }
}

variable "log_retention_days" {
  description = "Days to keep the function's own logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days: a retention CloudWatch Logs accepts, such as 30, 90 or 365."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = { application = "secretwatch" }
}

variable "tuning" {
  description = "A tuning file inside the function package, relative to its root: \"tuning.yml\" after `make package-aws TUNING=FILE`; null for none."
  type        = string
  default     = null

  validation {
    condition     = var.tuning == null || can(regex("^([A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$", var.tuning))
    error_message = "tuning: null, or a relative path inside the package ending in .yml or .yaml, with no .. or leading /."
  }
}

variable "no_data_minutes" {
  description = "Minutes without a single audit event on secrets before the no-data alarm tells the alert topic (5 to 1440)."
  type        = number
  default     = 30

  validation {
    condition     = var.no_data_minutes >= 5 && var.no_data_minutes <= 1440 && floor(var.no_data_minutes) == var.no_data_minutes
    error_message = "no_data_minutes: a whole number of minutes from 5 to 1440."
  }
}
