"""Logs as the clouds archive them, read by `secretwatch scan` from files, folders or object storage.

- EKS: a CloudWatch Logs export task to S3, `<prefix>/<task id>/<log stream>/000000.gz`, each line
  `<ISO 8601 time> <message>` (core.archives.cloudwatch);
- GKE: a Cloud Logging sink to Cloud Storage, `cloudaudit.googleapis.com/data_access/YYYY/MM/DD/
  HH:00:00_HH:59:59_S0.json`, one LogEntry per line: read as JSON Lines;
- AKS: diagnostic settings archived to a storage account, `insights-logs-kube-audit/resourceId=/SUBSCRIPTIONS/
  .../y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`, one record per line: read as JSON Lines;
- the API server's own --audit-log-path file and its rotated backups, gzipped or not (core.archives.order).

Gzip is told by its magic bytes as well as by a `.gz` name (core.archives.streams).
"""
