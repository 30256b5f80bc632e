output "function_name" {
  description = "The Lambda function; its logs are in /aws/lambda/NAME."
  value       = aws_lambda_function.this.function_name
}

output "state_table_name" {
  description = "DynamoDB table holding the detection state."
  value       = aws_dynamodb_table.state.name
}

output "state_store_uri" {
  description = "The function's store as a secretwatch URI: give it to `secretwatch scan --prime --state` and `secretwatch replay --state`."
  value       = "dynamodb://${aws_dynamodb_table.state.name}?region=${local.region}"
}

output "alert_topic_arn" {
  description = "Subscribe more endpoints here."
  value       = aws_sns_topic.alerts.arn
}

output "failed_batch_queue_url" {
  description = "Batches that failed every retry, as Lambda's on-failure records (the original event included)."
  value       = aws_sqs_queue.failed_batches.url
}

output "key_arn" {
  description = "KMS key encrypting the state, alerts, failed batches and logs."
  value       = aws_kms_key.this.arn
}

output "no_data_alarm_name" {
  description = "Alarm that tells the alert topic when no audit event on secrets arrived for no_data_minutes."
  value       = aws_cloudwatch_metric_alarm.no_data.alarm_name
}
