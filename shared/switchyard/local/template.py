"""Local AWS resources from ``template.yaml`` itself, not from a copy.

The local runtime and the tests create their DynamoDB tables and SQS queues (in moto) from the
kwargs built here, so a key schema, TTL attribute or redrive policy changed in the template is what
they run against. Intrinsics are resolved to local names: a resource is named
``<prefix>-<LogicalId>`` unless the template gives it a literal name, parameters take their
defaults, and ARNs use the given region and account (moto's defaults). A queue URL resolved here
has the AWS form; a moto server answers on its own address, so use the URL ``create_queue`` returns.

The local runtime's cost alarms read the CloudWatch alarms on one metric
(:func:`metric_alarms`) and the composite alarms over them (:func:`composite_alarms`).

Only what tables, queues and alarms need is supported (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``,
``Fn::Join``); anything else raises :class:`TemplateError` rather than guessing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TABLE = "AWS::DynamoDB::Table"
QUEUE = "AWS::SQS::Queue"
ALARM = "AWS::CloudWatch::Alarm"
COMPOSITE_ALARM = "AWS::CloudWatch::CompositeAlarm"

DEFAULT_PREFIX = "switchyard"
# moto's defaults, so ARNs and URLs built here match what moto reports.
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"

_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")

# CloudFormation queue properties that are SQS attributes of the same name.
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)
_QUEUE_JSON_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")

# CloudFormation table properties that create_table takes unchanged.
_TABLE_PASSTHROUGH = (
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "ProvisionedThroughput",
    "LocalSecondaryIndexes",
    "TableClass",
    "DeletionProtectionEnabled",
    "OnDemandThroughput",
    "Tags",
)
# Index properties create_table does not take (CloudFormation-only settings).
_INDEX_CFN_ONLY = ("ContributorInsightsSpecification",)
# Only these are resolved: other properties (PITR, Kinesis, resource policies) matter to AWS, not
# to a local emulation, and may use intrinsics this module does not resolve.
_TABLE_KEYS = (*_TABLE_PASSTHROUGH, "GlobalSecondaryIndexes", "StreamSpecification", "SSESpecification")
_QUEUE_KEYS = (*_QUEUE_ATTRIBUTES, *_QUEUE_JSON_ATTRIBUTES, "Tags")
_ALARM_KEYS = ("Namespace", "Dimensions", "Statistic", "Period", "Threshold", "ComparisonOperator")


class TemplateError(ValueError):
    """The template cannot be parsed, or uses something this module does not resolve."""


def load_template(path: str | Path) -> dict[str, Any]:
    """Parses a SAM/CloudFormation template (YAML or JSON, short-form intrinsics included) into
    plain dicts, lists and scalars. Raises :class:`TemplateError` on a parse error."""
    # cfn-lint is a development dependency and slow to import; only local tooling calls this.
    from cfnlint.decode import decode_str

    template, matches = decode_str(Path(path).read_text(encoding="utf-8"))
    if matches or not isinstance(template, dict):
        raise TemplateError(f"cannot parse {path}: " + "; ".join(str(m) for m in matches))
    plain: dict[str, Any] = _plain(template)
    return plain


def local_name(logical_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}-{logical_id}"


def table_definitions(
    template: dict[str, Any],
    *,
    prefix: str = DEFAULT_PREFIX,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> list[dict[str, Any]]:
    """``create_table`` kwargs for every ``AWS::DynamoDB::Table``, in template order. TTL is a
    separate call: see :func:`ttl_definitions`."""
    resolver = _Resolver(template, prefix, region, account_id)
    return [_table_kwargs(resolver, logical_id) for logical_id in resolver.of_type(TABLE)]


def ttl_definitions(
    template: dict[str, Any],
    *,
    prefix: str = DEFAULT_PREFIX,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> list[dict[str, Any]]:
    """``update_time_to_live`` kwargs for every table with a ``TimeToLiveSpecification``."""
    resolver = _Resolver(template, prefix, region, account_id)
    result = []
    for logical_id in resolver.of_type(TABLE):
        spec = resolver.properties(logical_id, ("TimeToLiveSpecification",)).get("TimeToLiveSpecification")
        if spec is not None:
            result.append({"TableName": resolver.physical_name(logical_id), "TimeToLiveSpecification": spec})
    return result


def queue_definitions(
    template: dict[str, Any],
    *,
    prefix: str = DEFAULT_PREFIX,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> list[dict[str, Any]]:
    """``create_queue`` kwargs for every ``AWS::SQS::Queue``, dead-letter queues before the
    queues that redrive to them (SQS wants the target to exist)."""
    resolver = _Resolver(template, prefix, region, account_id)
    return [_queue_kwargs(resolver, logical_id) for logical_id in _dlq_first(resolver)]


@dataclass(frozen=True)
class MetricAlarm:
    """A CloudWatch alarm on one metric, resolved; ``threshold_parameter`` names the template
    parameter its threshold comes from (None: a literal)."""

    logical_id: str
    name: str
    namespace: str
    metric: str
    dimensions: dict[str, str]
    statistic: str
    period_s: int
    threshold: float
    comparison: str
    threshold_parameter: str | None


def metric_alarms(
    template: dict[str, Any], metric: str, *, prefix: str = DEFAULT_PREFIX, region: str = DEFAULT_REGION
) -> list[MetricAlarm]:
    """Every ``AWS::CloudWatch::Alarm`` on ``metric`` (single-metric alarms; math alarms have no
    ``MetricName``), in template order."""
    resolver = _Resolver(template, prefix, region, DEFAULT_ACCOUNT_ID)
    found = []
    for logical_id in resolver.of_type(ALARM):
        raw = resolver.resources[logical_id].get("Properties") or {}
        if raw.get("MetricName") != metric:
            continue
        props = resolver.properties(logical_id, _ALARM_KEYS)
        threshold = raw.get("Threshold")
        parameter = threshold.get("Ref") if isinstance(threshold, dict) else None
        found.append(
            MetricAlarm(
                logical_id=logical_id,
                name=resolver.physical_name(logical_id),
                namespace=props["Namespace"],
                metric=metric,
                dimensions={d["Name"]: d["Value"] for d in props.get("Dimensions", ())},
                statistic=props.get("Statistic", ""),
                period_s=int(props["Period"]),
                threshold=float(props["Threshold"]),
                comparison=props["ComparisonOperator"],
                threshold_parameter=parameter if isinstance(parameter, str) else None,
            )
        )
    return found


def composite_alarms(
    template: dict[str, Any], *, prefix: str = DEFAULT_PREFIX, region: str = DEFAULT_REGION
) -> dict[str, str]:
    """Resolved name -> resolved ``AlarmRule`` of every ``AWS::CloudWatch::CompositeAlarm``."""
    resolver = _Resolver(template, prefix, region, DEFAULT_ACCOUNT_ID)
    return {
        resolver.physical_name(rid): str(resolver.properties(rid, ("AlarmRule",))["AlarmRule"])
        for rid in resolver.of_type(COMPOSITE_ALARM)
    }


def parameter_default(template: dict[str, Any], name: str) -> Any:
    """A template parameter's default. Raises TemplateError when it has none."""
    return _Resolver(template, DEFAULT_PREFIX, DEFAULT_REGION, DEFAULT_ACCOUNT_ID).ref(name)


def _table_kwargs(resolver: _Resolver, logical_id: str) -> dict[str, Any]:
    props = resolver.properties(logical_id, _TABLE_KEYS)
    kwargs: dict[str, Any] = {"TableName": resolver.physical_name(logical_id)}
    kwargs.update({key: props[key] for key in _TABLE_PASSTHROUGH if key in props})
    if "GlobalSecondaryIndexes" in props:
        kwargs["GlobalSecondaryIndexes"] = [
            {k: v for k, v in index.items() if k not in _INDEX_CFN_ONLY}
            for index in props["GlobalSecondaryIndexes"]
        ]
    # The two specs below are spelt differently in CloudFormation and in the DynamoDB API.
    if "StreamSpecification" in props:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    if "SSESpecification" in props:
        sse = dict(props["SSESpecification"])
        kwargs["SSESpecification"] = {"Enabled": sse.pop("SSEEnabled", False), **sse}
    return kwargs


def _queue_kwargs(resolver: _Resolver, logical_id: str) -> dict[str, Any]:
    props = resolver.properties(logical_id, _QUEUE_KEYS)
    attributes = {key: _attribute(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
    attributes.update({key: json.dumps(props[key]) for key in _QUEUE_JSON_ATTRIBUTES if key in props})
    kwargs: dict[str, Any] = {"QueueName": resolver.physical_name(logical_id), "Attributes": attributes}
    if props.get("Tags"):
        kwargs["tags"] = {tag["Key"]: tag["Value"] for tag in props["Tags"]}
    return kwargs


def _attribute(value: Any) -> str:
    # SQS attributes are strings, booleans lower-case.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _dlq_first(resolver: _Resolver) -> list[str]:
    queues = resolver.of_type(QUEUE)
    ordered: list[str] = []

    def visit(logical_id: str, path: tuple[str, ...]) -> None:
        if logical_id in ordered:
            return
        if logical_id in path:
            raise TemplateError(f"redrive cycle: {' -> '.join((*path, logical_id))}")
        redrive = (resolver.resources[logical_id].get("Properties") or {}).get("RedrivePolicy") or {}
        for target in sorted(_references(redrive.get("deadLetterTargetArn")) & set(queues)):
            visit(target, (*path, logical_id))
        ordered.append(logical_id)

    for logical_id in queues:
        visit(logical_id, ())
    return ordered


def _references(value: Any) -> set[str]:
    """Logical IDs (and parameter names) that a value refers to through Ref, GetAtt or Sub."""
    if isinstance(value, list):
        return set().union(*(_references(item) for item in value))
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, arg in value.items():
        if key == "Ref" and isinstance(arg, str):
            found.add(arg)
        elif key == "Fn::GetAtt":
            found.add(arg.partition(".")[0] if isinstance(arg, str) else arg[0])
        elif key == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            found.update(m.group(1).split(".")[0] for m in _SUB_VARIABLE.finditer(text))
        else:
            found |= _references(arg)
    return found


@dataclass(frozen=True)
class _Resolver:
    template: dict[str, Any]
    prefix: str
    region: str
    account_id: str

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template.get("Resources") or {}
        return resources

    def of_type(self, resource_type: str) -> list[str]:
        return [rid for rid, res in self.resources.items() if res.get("Type") == resource_type]

    def properties(self, logical_id: str, keys: Iterable[str]) -> dict[str, Any]:
        """The given properties of a resource, where present, with intrinsics resolved."""
        raw = self.resources[logical_id].get("Properties") or {}
        props: dict[str, Any] = self.resolve({key: raw[key] for key in keys if key in raw})
        return props

    def physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        key = {TABLE: "TableName", QUEUE: "QueueName", ALARM: "AlarmName", COMPOSITE_ALARM: "AlarmName"}.get(
            resource.get("Type", "")
        )
        literal = (resource.get("Properties") or {}).get(key) if key else None
        if literal is not None:
            name = self.resolve(literal)
            if not isinstance(name, str):
                raise TemplateError(f"{logical_id}: {key} does not resolve to a string")
            return name
        name = local_name(logical_id, self.prefix)
        # A FIFO queue's name must end in .fifo; CloudFormation adds it to generated names too.
        if resource.get("Type") == QUEUE and (resource.get("Properties") or {}).get("FifoQueue"):
            name += ".fifo"
        return name

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attr = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(logical_id, attr)
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::Join":
                delimiter, items = arg
                return delimiter.join(str(item) for item in self.resolve(items))
            if key.startswith("Fn::") or key == "Condition":
                raise TemplateError(f"unsupported intrinsic {key} in a local resource")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.prefix,
            "AWS::NoValue": _NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        parameter = (self.template.get("Parameters") or {}).get(name)
        if parameter is not None:
            if "Default" not in parameter:
                raise TemplateError(f"parameter {name} has no default to run locally with")
            return parameter["Default"]
        resource_type = self.resources.get(name, {}).get("Type")
        if resource_type == TABLE:
            return self.physical_name(name)
        if resource_type == QUEUE:
            return self.get_att(name, "QueueUrl")
        if resource_type in (ALARM, COMPOSITE_ALARM):
            return self.physical_name(name)
        raise TemplateError(f"cannot resolve Ref {name} locally")

    def get_att(self, logical_id: str, attr: str) -> str:
        resource_type = self.resources.get(logical_id, {}).get("Type")
        name = self.physical_name(logical_id) if resource_type in (TABLE, QUEUE) else ""
        if resource_type == TABLE and attr == "Arn":
            return f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/{name}"
        if resource_type == QUEUE and attr == "Arn":
            return f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"
        if resource_type == QUEUE and attr == "QueueName":
            return name
        if resource_type == QUEUE and attr == "QueueUrl":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{name}"
        raise TemplateError(f"cannot resolve Fn::GetAtt {logical_id}.{attr} locally")

    def sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is an escaped ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text)


def _plain(value: Any) -> Any:
    """cfn-lint's node types (dict/str subclasses carrying line marks) as plain built-ins."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value
