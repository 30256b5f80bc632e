output "function_name" {
  value = aws_lambda_function.this.function_name
}

output "state_table_name" {
  value = aws_dynamodb_table.state.name
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
  value = aws_kms_key.this.arn
}
