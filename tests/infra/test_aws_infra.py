"""Deploying on AWS: template.yaml (SAM), infra/aws/ (Terraform) and the Lambda package they deploy.

SAM CLI (with cfn-lint) and checkov run from their own virtualenvs under .tools/, which `make tools-aws`
installs once (`make test` runs it first). Terraform is the machine's, with a local filesystem mirror of the
hashicorp/aws provider; `terraform plan` reads the account id from moto's STS, so nothing here needs
credentials or reaches AWS. A check whose tool is absent skips and says how to get it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
import yaml

from core.model import AuditEvent
from core.rules.loader import load_rules
from core.scenarios import T0
from core.sources import decode
from core.state.dynamodb import TTL_ATTRIBUTE
from tests.infra.hcl import TerraformError, evaluate_locals, load_module

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
TERRAFORM_DIR = REPO / "infra" / "aws"
TOOLS = REPO / ".tools"
SAM = TOOLS / "sam" / "bin" / "sam"
CFN_LINT = TOOLS / "sam" / "bin" / "cfn-lint"
CHECKOV = TOOLS / "checkov" / "bin" / "checkov"
TF_PLUGIN_DIR = Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))
TOOL_ENV = {"SAM_CLI_TELEMETRY": "0", "CHECKPOINT_DISABLE": "1"}

AUDIT_FILTER_PATTERN = '{ $.objectRef.resource = "secrets" }'
REGION = "eu-west-1"  # the plan's region, and the one the template's pseudo parameters resolve to here
ACCOUNT = "123456789012"  # moto's account, which the plan reads from STS
LOGS_SERVICE_SUB = {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}
#: The AWS calls the DynamoDB store and the SNS sink make, as IAM actions (PublishBatch is sns:Publish).
FUNCTION_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "sns:Publish",
    "sqs:SendMessage",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
}


# --- reading the template ----------------------------------------------------------------------------


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) read as their long JSON forms."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)
    return loaded


def resource(template: Mapping[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"][name]
    return found


def function_properties(template: Mapping[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = resource(template, "Function")["Properties"]
    return properties


def role_statements(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    role = resource(template, "FunctionRole")["Properties"]
    return [statement for policy in role["Policies"] for statement in policy["PolicyDocument"]["Statement"]]


def key_statements(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = resource(template, "Key")["Properties"]["KeyPolicy"]["Statement"]
    return statements


def resolved(value: Any, stack: str = "secretwatch") -> str:
    """A string or an Fn::Sub of pseudo parameters only, as CloudFormation would resolve it in the test account."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    assert isinstance(text, str), f"not a string or a plain Fn::Sub: {value!r}"
    pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": stack}
    for name, replacement in pseudo.items():
        text = text.replace("${" + name + "}", replacement)
    assert "${" not in text, f"{text!r} refers to more than pseudo parameters"
    return text


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        action = statement["Action"]
        actions.update([action] if isinstance(action, str) else action)
    return actions


# --- running the tools -------------------------------------------------------------------------------


def run(command: list[str], *, cwd: Path = REPO, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **TOOL_ENV}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def installed(tool: Path) -> str:
    if not os.access(tool, os.X_OK):
        pytest.skip(
            f"{tool.relative_to(REPO)} is not installed: run `make tools-aws` (needs PyPI; `make test` runs it)"
        )
    return str(tool)


def terraform() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not on PATH: install Terraform >= 1.5 to check infra/aws/")
    return binary


def report(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


CHECKOV_TARGETS = {
    "cloudformation": ["--file", str(TEMPLATE)],
    "terraform": ["--directory", str(TERRAFORM_DIR)],
}


@dataclasses.dataclass(frozen=True)
class Scan:
    """A checkov run in the background, writing its JSON report to `report`."""

    process: subprocess.Popen[bytes]
    report: Path

    def results(self) -> dict[str, Any]:
        _, errors = self.process.communicate(timeout=300)
        if self.process.returncode not in (0, 1):  # 1 means a check failed; the report says which
            pytest.fail(f"checkov did not run (exit {self.process.returncode}):\n{errors.decode(errors='replace')}")
        results: dict[str, Any] = json.loads(self.report.read_text(encoding="utf-8"))
        return results


@pytest.fixture(scope="module", autouse=True)
def checkov_scans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Scan]]:
    """Both checkov scans start with this module and run beside its other checks: each takes seconds."""
    if not os.access(CHECKOV, os.X_OK):
        yield {}
        return
    folder = tmp_path_factory.mktemp("checkov")
    scans: dict[str, Scan] = {}
    for framework, target in CHECKOV_TARGETS.items():
        report = folder / f"{framework}.json"
        with report.open("wb") as output:
            process = subprocess.Popen(
                [str(CHECKOV), *target, "--framework", framework, "--skip-download", "--output", "json"],
                cwd=REPO,
                env={**os.environ, **TOOL_ENV},
                stdout=output,
                stderr=subprocess.PIPE,
            )
        scans[framework] = Scan(process, report)
    yield scans
    for scan in scans.values():
        scan.process.kill()
        scan.process.communicate()


def assert_clean(results: Mapping[str, Any]) -> None:
    summary = results["summary"]
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in results["results"]["failed_checks"]]
    assert summary["parsing_errors"] == 0
    assert failed == []
    assert summary["passed"] > 0
    unexplained = [
        f"{c['check_id']} {c['resource']}"
        for c in results["results"]["skipped_checks"]
        if len(c["check_result"].get("suppress_comment", "").strip()) < 20
    ]
    assert unexplained == [], "every accepted finding needs its reason inline"


# --- the template, read as data ----------------------------------------------------------------------


def test_filter_pattern_forwards_only_audit_events_on_secrets(template: dict[str, Any]) -> None:
    events = function_properties(template)["Events"]
    assert [event["Type"] for event in events.values()] == ["CloudWatchLogs"]
    subscription = next(iter(events.values()))["Properties"]
    assert subscription["FilterPattern"] == AUDIT_FILTER_PATTERN
    assert subscription["LogGroupName"] == {"Ref": "ClusterLogGroupName"}


def rule_examples() -> Iterator[tuple[str, AuditEvent]]:
    """Every event a rule's own tests expect it to match."""
    for rule in load_rules():
        for test in rule.tests:
            if test.expected:
                for item in decode(dict(test.log), received_at=T0):
                    if isinstance(item, AuditEvent) and rule.condition.predicate(item):
                        yield rule.id, item


def test_no_rule_matches_an_event_the_filter_pattern_drops() -> None:
    """The subscription filter is only safe while every rule requires resource `secrets`."""
    examples = list(rule_examples())
    rules = {rule.id for rule in load_rules()}
    assert {rule_id for rule_id, _ in examples} == rules, "each rule needs a matching example to test"
    by_id = {rule.id: rule for rule in load_rules()}
    for rule_id, event in examples:
        assert event.resource == "secrets"
        for other in ("configmaps", "pods", None):
            dropped = msgspec.structs.replace(event, resource=other)
            assert not by_id[rule_id].condition.predicate(dropped), f"{rule_id} matches resource {other!r}"


def test_function_runs_the_lambda_handler_on_python_311_arm64(template: dict[str, Any]) -> None:
    function = function_properties(template)
    assert function["Handler"] == "functions.aws.handler.handler"
    assert (function["Runtime"], function["Architectures"]) == ("python3.11", ["arm64"])
    assert (function["MemorySize"], function["Timeout"]) == (512, 60)
    assert function["CodeUri"] == "build/aws/"


def test_function_is_configured_by_environment_only(template: dict[str, Any]) -> None:
    variables = function_properties(template)["Environment"]["Variables"]
    assert variables["SECRETWATCH_STORE"] == {"Fn::Sub": "dynamodb://${StateTable}?region=${AWS::Region}"}
    assert variables["SECRETWATCH_SINKS"] == {
        "Fn::If": [
            "HasSes",
            {"Fn::Sub": "sns://${AlertTopic},ses://${SesSender}?to=${SesRecipients}"},
            {"Fn::Sub": "sns://${AlertTopic}"},
        ]
    }
    assert variables["SECRETWATCH_LEARNING_PERIOD"] == {"Ref": "LearningPeriod"}
    assert template["Parameters"]["LearningPeriod"]["Default"] == "7d"
    assert variables["SECRETWATCH_TUNING"] == {"Fn::If": ["HasTuning", {"Ref": "Tuning"}, {"Ref": "AWS::NoValue"}]}
    assert variables["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}  # the no-data alarm watches its own
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "secretwatch"


def test_tuning_parameter_sets_secretwatch_tuning_only_when_a_file_is_named(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["Tuning"]
    assert parameter["Default"] == ""
    assert "tuning.yml" in parameter["Description"]
    assert "make package-aws TUNING=" in parameter["Description"]
    assert {"AllowedPattern", "ConstraintDescription"} <= set(parameter)
    assert template["Conditions"]["HasTuning"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "Tuning"}, ""]}]}


def test_state_table_has_the_dynamodb_stores_key_and_ttl(template: dict[str, Any]) -> None:
    table = resource(template, "StateTable")["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "Key"}


def test_function_role_allows_only_the_calls_secretwatch_makes(template: dict[str, Any]) -> None:
    statements = role_statements(template)
    assert actions_of(statements) == FUNCTION_ACTIONS
    assert all(statement["Resource"] != "*" for statement in statements)
    assert resource(template, "FunctionRole")["Properties"].get("ManagedPolicyArns") is None


def test_ses_may_send_only_when_configured_and_only_from_the_sender(template: dict[str, Any]) -> None:
    ses = resource(template, "SesSendPolicy")
    assert ses["Condition"] == "HasSes"
    (statement,) = ses["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "ses:SendEmail"
    assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "SesSender"}}}
    assert "ses:SendEmail" not in actions_of(role_statements(template))


def test_a_batch_that_fails_every_retry_goes_to_the_encrypted_queue(template: dict[str, Any]) -> None:
    invoke = function_properties(template)["EventInvokeConfig"]
    assert invoke["MaximumRetryAttempts"] == 2
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["FailedBatchQueue", "Arn"]}
    assert resource(template, "FailedBatchQueue")["Properties"]["KmsMasterKeyId"] == {"Ref": "Key"}


def test_alarms_on_errors_throttles_and_failed_batches_notify_the_topic(template: dict[str, Any]) -> None:
    alarms = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched = {(alarm["Namespace"], alarm["MetricName"]) for alarm in alarms}
    assert watched == {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("secretwatch", "Events"),
    }
    assert all(alarm["AlarmActions"] == [{"Ref": "AlertTopic"}] for alarm in alarms)


def test_no_data_alarm_fires_when_the_handler_counts_no_event_for_the_quiet_period(template: dict[str, Any]) -> None:
    from functions.aws import handler  # the metric the alarm watches is the one the handler publishes

    alarm = resource(template, "NoDataAlarm")["Properties"]
    settings = resource(template, "Function")["Properties"]["Environment"]["Variables"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (settings["POWERTOOLS_METRICS_NAMESPACE"], "Events")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": settings["POWERTOOLS_SERVICE_NAME"]}]
    assert settings["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}  # two stacks never share the metric
    assert (handler.metrics.namespace, handler.metrics.service) == ("secretwatch", "secretwatch")  # unset: defaults
    assert alarm["TreatMissingData"] == "breaching"
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["Period"]) == ("LessThanThreshold", 1, 60)
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == {"Ref": "NoDataMinutes"}
    quiet = template["Parameters"]["NoDataMinutes"]
    assert (quiet["Default"], quiet["MinValue"], quiet["MaxValue"]) == (30, 5, 1440)


def test_email_subscription_exists_only_when_an_address_is_given(template: dict[str, Any]) -> None:
    subscription = resource(template, "AlertEmailSubscription")
    assert subscription["Condition"] == "HasAlertEmail"
    assert template["Parameters"]["AlertEmail"]["Default"] == ""
    assert template["Conditions"]["HasAlertEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]}


def test_logs_may_use_the_key_only_for_the_functions_own_log_group(template: dict[str, Any]) -> None:
    (statement,) = [s for s in key_statements(template) if s["Principal"].get("Service") == LOGS_SERVICE_SUB]
    log_group = resource(template, "FunctionLogGroup")["Properties"]
    (context,) = statement["Condition"]["ArnEquals"].values()

    assert list(statement["Condition"]) == ["ArnEquals"]
    assert list(statement["Condition"]["ArnEquals"]) == ["kms:EncryptionContext:aws:logs:arn"]
    assert resolved(context) == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{resolved(log_group['LogGroupName'])}"
    assert "*" not in resolved(context)
    assert function_properties(template)["LoggingConfig"]["LogGroup"] == {"Ref": "FunctionLogGroup"}
    assert log_group["KmsKeyId"] == {"Fn::GetAtt": ["Key", "Arn"]}


# --- the template, checked by SAM CLI, cfn-lint and checkov ---------------------------------------------


def test_sam_validate_lint_accepts_the_template() -> None:
    done = run([installed(SAM), "validate", "--lint", "--template", str(TEMPLATE)])
    assert done.returncode == 0, report(done)


def test_cfn_lint_finds_nothing_in_the_template_not_even_informational() -> None:
    done = run([installed(CFN_LINT), "--include-checks", "I", "--", str(TEMPLATE)])
    assert done.returncode == 0, report(done)


def test_checkov_passes_the_template_with_every_skip_explained(checkov_scans: dict[str, Scan]) -> None:
    installed(CHECKOV)
    assert_clean(checkov_scans["cloudformation"].results())


# --- Terraform ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def terraform_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of infra/aws/ initialised from the local provider mirror, so the repository stays clean."""
    binary = terraform()
    if not (TF_PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(f"no local mirror of the hashicorp/aws provider at {TF_PLUGIN_DIR} (set TF_PLUGIN_DIR)")
    work = tmp_path_factory.mktemp("terraform-aws")
    for source in TERRAFORM_DIR.glob("*.tf"):
        shutil.copy(source, work)
    done = run(
        [binary, "init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={TF_PLUGIN_DIR}"], cwd=work
    )
    assert done.returncode == 0, report(done)
    return work


def test_terraform_files_are_formatted() -> None:
    done = run([terraform(), "fmt", "-check", "-diff", "-no-color"], cwd=TERRAFORM_DIR)
    assert done.returncode == 0, report(done)


def test_terraform_validate_accepts_the_configuration(terraform_dir: Path) -> None:
    done = run([terraform(), "validate", "-no-color"], cwd=terraform_dir)
    assert done.returncode == 0, report(done)


def test_checkov_passes_the_terraform_with_every_skip_explained(checkov_scans: dict[str, Scan]) -> None:
    installed(CHECKOV)
    assert_clean(checkov_scans["terraform"].results())


@pytest.fixture(scope="module")
def sts_endpoint() -> Iterator[str]:
    """moto's STS over HTTP: all `terraform plan` asks AWS is the account id (aws_caller_identity)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


PROVIDER_OVERRIDE = """
provider "aws" {{
  region                      = "eu-west-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {{
    sts = "{sts}"
  }}
}}
"""


@pytest.fixture(scope="module")
def plan(terraform_dir: Path, sts_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The JSON plan for a cluster with every option on: an alert email, an SES sink and a tuning file."""
    (terraform_dir / "offline_override.tf").write_text(PROVIDER_OVERRIDE.format(sts=sts_endpoint))
    package = tmp_path_factory.mktemp("package") / "secretwatch-aws.zip"
    with zipfile.ZipFile(package, "w") as bundle:
        bundle.writestr("functions/aws/handler.py", "")
    variables = {
        "cluster_log_group_name": "/aws/eks/prod/cluster",
        "package_zip": str(package),
        "alert_email": "oncall@example.com",
        "ses_sender": "alerts@example.com",
        "ses_recipients": '["a@example.com","b@example.com"]',
        "tuning": "tuning.yml",
    }
    flags = [f"-var={name}={value}" for name, value in variables.items()]
    done = run([terraform(), "plan", "-input=false", "-no-color", "-out=tfplan", *flags], cwd=terraform_dir)
    assert done.returncode == 0, report(done)
    shown = run([terraform(), "show", "-json", "tfplan"], cwd=terraform_dir)
    assert shown.returncode == 0, report(shown)
    planned: dict[str, Any] = json.loads(shown.stdout)
    return planned


def planned(plan: Mapping[str, Any], address: str) -> dict[str, Any]:
    for change in plan["resource_changes"]:
        if change["address"] == address:
            after: dict[str, Any] = change["change"]["after"]
            return after
    raise AssertionError(f"the plan has no {address}")


def test_terraform_plan_creates_the_whole_stack_with_the_options_on(plan: dict[str, Any]) -> None:
    creates = {c["address"] for c in plan["resource_changes"] if c["change"]["actions"] == ["create"]}
    assert {
        "aws_kms_key.this",
        "aws_dynamodb_table.state",
        "aws_sns_topic.alerts",
        "aws_sns_topic_subscription.email[0]",
        "aws_sqs_queue.failed_batches",
        "aws_cloudwatch_log_group.function",
        "aws_iam_role.function",
        "aws_iam_role_policy.function",
        "aws_iam_role_policy.ses[0]",
        "aws_lambda_function.this",
        "aws_lambda_function_event_invoke_config.this",
        "aws_lambda_permission.logs",
        "aws_cloudwatch_log_subscription_filter.audit",
        'aws_cloudwatch_metric_alarm.this["errors"]',
        'aws_cloudwatch_metric_alarm.this["throttles"]',
        'aws_cloudwatch_metric_alarm.this["failed-batches"]',
        "aws_cloudwatch_metric_alarm.no_data",
    } <= creates


def test_terraform_no_data_alarm_matches_the_templates(plan: dict[str, Any], template: dict[str, Any]) -> None:
    alarm = planned(plan, "aws_cloudwatch_metric_alarm.no_data")
    sam = resource(template, "NoDataAlarm")["Properties"]
    assert (alarm["namespace"], alarm["metric_name"]) == (sam["Namespace"], sam["MetricName"])
    assert alarm["dimensions"] == {"service": planned(plan, "aws_lambda_function.this")["function_name"]}
    assert (alarm["treat_missing_data"], alarm["comparison_operator"]) == ("breaching", "LessThanThreshold")
    assert alarm["evaluation_periods"] == alarm["datapoints_to_alarm"] == 30
    assert alarm["period"] == 60
    declared = load_module(TERRAFORM_DIR).resource("aws_cloudwatch_metric_alarm", "no_data")
    function = load_module(TERRAFORM_DIR).resource("aws_lambda_function", "this")
    (environment,) = function["environment"]
    assert declared["dimensions"] == {"service": "${var.name}"}
    assert "POWERTOOLS_SERVICE_NAME = var.name," in environment["variables"]  # the handler's metrics dimension
    assert declared["alarm_actions"] == declared["ok_actions"] == ["${aws_sns_topic.alerts.arn}"]


@pytest.mark.parametrize("minutes", [4, 1441, 30.5])
def test_terraform_refuses_a_no_data_period_outside_5_to_1440_whole_minutes(minutes: float) -> None:
    variables = {"cluster_log_group_name": "/aws/eks/prod/cluster", "no_data_minutes": minutes}
    with pytest.raises(TerraformError, match="no_data_minutes"):
        evaluate_locals(TERRAFORM_DIR, variables, ["tuning_settings"])


def test_terraform_subscribes_the_function_with_the_templates_filter(plan: dict[str, Any]) -> None:
    subscription = planned(plan, "aws_cloudwatch_log_subscription_filter.audit")
    assert subscription["filter_pattern"] == AUDIT_FILTER_PATTERN
    assert subscription["log_group_name"] == "/aws/eks/prod/cluster"
    permission = planned(plan, "aws_lambda_permission.logs")
    assert permission["principal"] == "logs.amazonaws.com"
    assert permission["source_arn"] == "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/eks/prod/cluster:*"


def test_terraform_function_matches_the_templates(plan: dict[str, Any], template: dict[str, Any]) -> None:
    function = planned(plan, "aws_lambda_function.this")
    sam = function_properties(template)
    assert function["handler"] == sam["Handler"]
    assert function["runtime"] == sam["Runtime"]
    assert function["architectures"] == sam["Architectures"]
    assert (function["memory_size"], function["timeout"]) == (sam["MemorySize"], sam["Timeout"])
    invoke = planned(plan, "aws_lambda_function_event_invoke_config.this")
    assert invoke["maximum_retry_attempts"] == sam["EventInvokeConfig"]["MaximumRetryAttempts"]


def test_terraform_function_reads_the_bundled_tuning_file_when_one_is_named(plan: dict[str, Any]) -> None:
    """The environment is unknown until apply (it names the topic's ARN): the plan shows what it is made of."""
    resources = plan["configuration"]["root_module"]["resources"]
    function = next(r for r in resources if r["address"] == "aws_lambda_function.this")
    (environment,) = function["expressions"]["environment"]
    assert "local.tuning_settings" in environment["variables"]["references"]
    assert plan["variables"]["tuning"] == {"value": "tuning.yml"}


def test_terraform_tuning_variable_adds_the_setting_only_when_set() -> None:
    variable = load_module(TERRAFORM_DIR).variables["tuning"]
    assert variable["default"] is None
    assert "make package-aws TUNING=" in variable["description"]
    required = {"cluster_log_group_name": "/aws/eks/prod/cluster"}
    assert evaluate_locals(TERRAFORM_DIR, required, ["tuning_settings"]) == {"tuning_settings": {}}
    tuned = evaluate_locals(TERRAFORM_DIR, {**required, "tuning": "tuning/prod.yaml"}, ["tuning_settings"])
    assert tuned == {"tuning_settings": {"SECRETWATCH_TUNING": "tuning/prod.yaml"}}


@pytest.mark.parametrize("path", ["../tuning.yml", "/etc/tuning.yml", "tuning.json", ""])
def test_terraform_tuning_variable_refuses_a_path_outside_the_package_or_not_yaml(path: str) -> None:
    variables = {"cluster_log_group_name": "/aws/eks/prod/cluster", "tuning": path}
    with pytest.raises(TerraformError, match="tuning: null, or a relative path inside the package"):
        evaluate_locals(TERRAFORM_DIR, variables, ["tuning_settings"])


def test_terraform_state_table_has_the_dynamodb_stores_key_and_ttl(plan: dict[str, Any]) -> None:
    table = planned(plan, "aws_dynamodb_table.state")
    assert (table["hash_key"], table["attribute"]) == ("pk", [{"name": "pk", "type": "S"}])
    assert table["ttl"] == [{"attribute_name": TTL_ATTRIBUTE, "enabled": True}]
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["point_in_time_recovery"] == [{"enabled": True}]


def test_terraform_role_allows_the_same_calls_as_the_template(plan: dict[str, Any]) -> None:
    resources = plan["configuration"]["root_module"]["resources"]
    document = next(r for r in resources if r["address"] == "data.aws_iam_policy_document.function")
    actions = {
        action
        for statement in document["expressions"]["statement"]
        for action in statement["actions"]["constant_value"]
    }
    assert actions == FUNCTION_ACTIONS


def test_terraform_ses_policy_names_the_sender_and_its_domain(plan: dict[str, Any]) -> None:
    policy = json.loads(planned(plan, "aws_iam_role_policy.ses[0]")["policy"])
    (statement,) = policy["Statement"]
    assert statement["Action"] == "ses:SendEmail"
    assert sorted(statement["Resource"]) == [
        "arn:aws:ses:eu-west-1:123456789012:identity/alerts@example.com",
        "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
    ]
    assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": "alerts@example.com"}}


def test_terraform_key_lets_logs_use_it_only_for_the_functions_own_log_group(plan: dict[str, Any]) -> None:
    policy = json.loads(planned(plan, "aws_kms_key.this")["policy"])
    (statement,) = [s for s in policy["Statement"] if s["Principal"].get("Service") == f"logs.{REGION}.amazonaws.com"]
    log_group = planned(plan, "aws_cloudwatch_log_group.function")["name"]

    assert statement["Condition"] == {
        "ArnEquals": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group}"}
    }
    assert planned(plan, "aws_lambda_function.this")["logging_config"][0]["log_group"] == log_group


# --- the package -------------------------------------------------------------------------------------


def packaging_script() -> ModuleType:
    return importlib.import_module("scripts.package_aws")


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`scripts/package_aws.py --out DIR`, as `make package-aws` runs it, into a temporary folder."""
    out = tmp_path_factory.mktemp("deploy") / "build"
    done = run([sys.executable, "-m", "scripts.package_aws", "--out", str(out)], timeout=300)
    if done.returncode != 0 and "pip could not install" in done.stderr:
        pytest.skip(f"the arm64 dependencies could not be downloaded from PyPI:\n{done.stderr}")
    assert done.returncode == 0, report(done)
    assert "secretwatch-aws.zip: " in done.stdout
    return out


@pytest.fixture(scope="module")
def packaged(build_dir: Path) -> set[str]:
    with zipfile.ZipFile(build_dir / "secretwatch-aws.zip") as bundle:
        return set(bundle.namelist())


def test_package_holds_core_and_the_aws_function_but_not_the_demo(packaged: set[str]) -> None:
    expected = {
        path.relative_to(REPO).as_posix()
        for folder in ("core", "functions/aws")
        for path in (REPO / folder).rglob("*")
        if path.is_file() and path.suffix in {".py", ".yml", ".typed"} and "__pycache__" not in path.parts
    }
    demo = {name for name in expected if name.startswith("core/demo/")}
    assert {"core/rules/secret_access_denied.yml", "functions/__init__.py"} <= packaged
    assert expected - demo <= packaged
    assert not {name for name in packaged if name.startswith("core/demo/")}


def test_package_holds_the_handler_the_template_names(packaged: set[str], template: dict[str, Any]) -> None:
    module, _ = function_properties(template)["Handler"].rsplit(".", 1)
    assert module.replace(".", "/") + ".py" in packaged


def test_package_bundles_runtime_dependencies_built_for_arm64(packaged: set[str]) -> None:
    top = {name.split("/", 1)[0] for name in packaged}
    assert {"orjson", "yaml", "aws_lambda_powertools"} <= top
    native = [name for name in packaged if name.endswith(".so")]
    assert native, "orjson and PyYAML ship compiled extensions"
    assert all("aarch64" in name for name in native), native


def test_package_leaves_out_boto3_and_the_other_clouds(packaged: set[str]) -> None:
    top = {name.split("/", 1)[0].lower() for name in packaged}
    assert not {name for name in top if name.startswith(("boto3", "botocore", "google", "azure"))}
    assert not {name for name in packaged if name.startswith(("functions/gcp/", "functions/azure/"))}


def test_package_zip_is_reproducible(build_dir: Path, tmp_path: Path) -> None:
    write_zip = packaging_script().write_zip
    write_zip(build_dir / "aws", tmp_path / "first.zip")
    write_zip(build_dir / "aws", tmp_path / "second.zip")
    assert (tmp_path / "first.zip").read_bytes() == (tmp_path / "second.zip").read_bytes()


def test_package_takes_dependencies_from_pyproject_except_the_runtimes_boto3() -> None:
    requirements = packaging_script().runtime_requirements(REPO / "pyproject.toml")
    names = {requirement.split(">")[0].split("=")[0].strip().lower() for requirement in requirements}
    assert {"orjson", "pyyaml", "aws-lambda-powertools"} <= names
    assert "boto3" not in names


def test_sam_build_takes_the_package_as_the_functions_code(build_dir: Path) -> None:
    project = build_dir.parent
    shutil.copy(TEMPLATE, project / "template.yaml")
    built = project / "sam-build"
    done = run(
        [installed(SAM), "build", "--template", str(project / "template.yaml"), "--build-dir", str(built)],
        cwd=project,
    )
    assert done.returncode == 0, report(done)
    assert (built / "Function" / "functions" / "aws").is_dir()
    assert (built / "Function" / "core" / "rules" / "secret_access_denied.yml").is_file()


def test_the_store_uri_the_operator_primes_and_replays_into_is_the_functions_own(template: dict[str, Any]) -> None:
    settings = function_properties(template)["Environment"]["Variables"]
    assert template["Outputs"]["StateStoreUri"]["Value"] == settings["SECRETWATCH_STORE"]
    output = load_module(TERRAFORM_DIR).outputs["state_store_uri"]["value"]
    function = load_module(TERRAFORM_DIR).resource("aws_lambda_function", "this")
    (environment,) = function["environment"]
    assert f'SECRETWATCH_STORE = "{output}"' in environment["variables"]
