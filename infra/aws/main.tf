# secretwatch on AWS, the same stack as template.yaml: the EKS audit log group -> subscription filter ->
# Lambda -> DynamoDB state + SNS (and optionally SES) alerts, failed batches to SQS, alarms to the topic.
# Build the package first: `make package-aws` writes build/secretwatch-aws.zip.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  use_ses   = var.ses_sender != "" && length(var.ses_recipients) > 0

  # The key policy names the function's log group, which cannot refer to the log group: that names the key.
  function_log_group = "/aws/lambda/${var.name}"

  # CloudWatch Logs drops every other event before Lambda is invoked (and billed). This is safe because
  # both rules match only `resource: secrets`, which the EKS source reads from objectRef.resource.
  # Non-JSON lines in the group (klog, authenticator, truncated >256 KB events) never match a JSON
  # pattern, so they are dropped too. A rule on another resource must widen this (and template.yaml's).
  audit_filter_pattern = "{ $.objectRef.resource = \"secrets\" }"

  sinks = join(",", compact([
    "sns://${aws_sns_topic.alerts.arn}",
    local.use_ses ? "ses://${var.ses_sender}?to=${join(",", var.ses_recipients)}" : "",
  ]))
}

# One customer-managed key for the state table, the alert topic, the failed-batch queue, the function's
# logs and its environment. CloudWatch alarms can only publish to an encrypted topic whose key policy lets
# them (an AWS-managed key cannot), hence a key of our own.
resource "aws_kms_key" "this" {
  description         = "${var.name}: state, alerts, failed batches and logs"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "AlarmsPublishToEncryptedTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
      },
      {
        Sid       = "LogsEncryptFunctionLogGroup"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnEquals = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${local.function_log_group}"
          }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

# Item layout and TTL are the DynamoDB store's (core/state/dynamodb.py): key `pk`, expiry `exp`.
resource "aws_dynamodb_table" "state" {
  name         = "${var.name}-state"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "exp"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  display_name      = "secretwatch alerts"
  kms_master_key_id = aws_kms_key.this.id
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alert_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

# Batches that still fail after Lambda's two retries land here, whole, to be replayed once fixed.
resource "aws_sqs_queue" "failed_batches" {
  name                      = "${var.name}-failed-batches"
  kms_master_key_id         = aws_kms_key.this.id
  message_retention_seconds = 1209600 # 14 days, the maximum
}

resource "aws_cloudwatch_log_group" "function" {
  # checkov:skip=CKV_AWS_338:These are the function's operational logs (counts, errors), not the audit trail, which stays in the cluster's own log group; retention is a variable.
  name              = local.function_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_iam_role" "function" {
  name               = "${var.name}-function"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "secretwatch"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:log-stream:*"]
  }

  statement {
    sid       = "ReadWriteState"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.state.arn]
  }

  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"] # also authorizes PublishBatch
    resources = [aws_sns_topic.alerts.arn]
  }

  statement {
    sid       = "SendFailedBatches"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failed_batches.arn]
  }

  statement {
    sid       = "UseKeyThroughTheseServicesOnly"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [for service in ["dynamodb", "sns", "sqs", "lambda"] : "${service}.${local.region}.amazonaws.com"]
    }
  }
}

# SESv2 SendEmail is authorized against the sender identity (address or its domain), and only from it.
resource "aws_iam_role_policy" "ses" {
  count  = local.use_ses ? 1 : 0
  name   = "secretwatch-ses"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.ses.json
}

data "aws_iam_policy_document" "ses" {
  statement {
    sid     = "SendAlertEmailFromSender"
    actions = ["ses:SendEmail"]
    resources = [
      for identity in [var.ses_sender, element(split("@", "${var.ses_sender}@"), 1)] :
      "arn:${local.partition}:ses:${local.region}:${local.account}:identity/${identity}"
    ]
    condition {
      test     = "StringEquals"
      variable = "ses:FromAddress"
      values   = [var.ses_sender]
    }
  }
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116:Failed batches go to an on-failure destination (aws_lambda_function_event_invoke_config -> SQS), which records more than a dead-letter queue does.
  # checkov:skip=CKV_AWS_117:The function calls only AWS APIs (DynamoDB, SNS, SES, SQS) and reaches nothing inside a VPC; a VPC would add NAT or endpoints for no isolation gained.
  # checkov:skip=CKV_AWS_272:The code is built and deployed from this repository by its own pipeline; code signing needs a signer profile the deployer may not have and stays opt-in.
  # checkov:skip=CKV_AWS_50:The handler emits no X-Ray segments; Powertools metrics and structured logs cover its observability.
  function_name                  = var.name
  description                    = "Reads EKS audit events about secrets, evaluates the secretwatch rules, sends alerts."
  filename                       = var.package_zip
  source_code_hash               = filebase64sha256(var.package_zip)
  handler                        = "functions.aws.handler.handler"
  runtime                        = "python3.11"
  architectures                  = ["arm64"]
  memory_size                    = 512
  timeout                        = 60
  role                           = aws_iam_role.function.arn
  kms_key_arn                    = aws_kms_key.this.arn
  reserved_concurrent_executions = var.reserved_concurrency

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  environment {
    variables = merge({
      SECRETWATCH_STORE            = "dynamodb://${aws_dynamodb_table.state.name}?region=${local.region}"
      SECRETWATCH_SINKS            = local.sinks
      SECRETWATCH_LEARNING_PERIOD  = var.learning_period
      POWERTOOLS_SERVICE_NAME      = var.name # the no-data alarm's dimension: this deployment's alone
      POWERTOOLS_METRICS_NAMESPACE = "secretwatch"
    }, local.tuning_settings)
  }

  # The role's policy must exist before the first invocation can write logs or state.
  depends_on = [aws_iam_role_policy.function]
}

# A CloudWatch Logs subscription invokes asynchronously and a batch succeeds or fails whole: after two
# retries it goes to the queue. Retrying is safe because counting and alerting are idempotent.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name          = aws_lambda_function.this.function_name
  maximum_retry_attempts = 2

  destination_config {
    on_failure {
      destination = aws_sqs_queue.failed_batches.arn
    }
  }
}

resource "aws_lambda_permission" "logs" {
  statement_id   = "AllowClusterLogGroup"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "logs.amazonaws.com"
  source_arn     = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${var.cluster_log_group_name}:*"
  source_account = local.account
}

resource "aws_cloudwatch_log_subscription_filter" "audit" {
  name            = "${var.name}-secrets"
  log_group_name  = var.cluster_log_group_name
  filter_pattern  = local.audit_filter_pattern
  destination_arn = aws_lambda_function.this.arn

  depends_on = [aws_lambda_permission.logs]
}

locals {
  alarms = {
    errors = {
      description = "secretwatch failed on a batch (it is retried twice, then sent to the failed-batch queue); see the function's logs."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      statistic   = "Sum"
      dimensions  = { FunctionName = aws_lambda_function.this.function_name }
    }
    throttles = {
      description = "secretwatch invocations are throttled; raise reserved_concurrency or the account's concurrency limit."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      statistic   = "Sum"
      dimensions  = { FunctionName = aws_lambda_function.this.function_name }
    }
    failed-batches = {
      description = "Audit batches failed every retry and wait in the failed-batch queue; fix the cause, then replay them."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      statistic   = "Maximum"
      dimensions  = { QueueName = aws_sqs_queue.failed_batches.name }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

# Silence is a failure too: audit logging switched off, the subscription filter removed, the function
# broken before it counts. Every cluster's controllers read secrets all the time, so a whole quiet period
# without one event on secrets means the pipeline has stopped. Missing data is what this alarm is for.
resource "aws_cloudwatch_metric_alarm" "no_data" {
  alarm_name          = "${var.name}-no-data"
  alarm_description   = "secretwatch has counted no audit event on secrets for ${var.no_data_minutes} minutes; check that the cluster's audit log type is enabled, the subscription filter exists and the function runs."
  namespace           = "secretwatch"
  metric_name         = "Events"
  dimensions          = { service = var.name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = var.no_data_minutes
  datapoints_to_alarm = var.no_data_minutes
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}
