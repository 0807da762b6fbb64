"""Reads CloudFormation / SAM templates for the local stack.

`load_template` turns the short-form tags (`!Ref`, `!GetAtt`, `!Sub`, ...) into their long forms,
`apply_globals` applies SAM's `Globals.Function` the way the SAM transform does, and `Resolver`
evaluates intrinsic functions once parameter values and the physical ids of resources are known.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"

SERVERLESS_FUNCTION = "AWS::Serverless::Function"

_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "Base64": "Fn::Base64",
    "Cidr": "Fn::Cidr",
    "FindInMap": "Fn::FindInMap",
    "GetAtt": "Fn::GetAtt",
    "GetAZs": "Fn::GetAZs",
    "ImportValue": "Fn::ImportValue",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "Sub": "Fn::Sub",
    "Transform": "Fn::Transform",
    "And": "Fn::And",
    "Equals": "Fn::Equals",
    "If": "Fn::If",
    "Not": "Fn::Not",
    "Or": "Fn::Or",
    "ToJsonString": "Fn::ToJsonString",
    "Length": "Fn::Length",
}
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class TemplateError(Exception):
    """The template cannot be read or an intrinsic function cannot be evaluated locally."""


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short-form tags."""


def _tag_constructor(long_name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if long_name == "Fn::GetAtt" and isinstance(value, str):
            # `!GetAtt Resource.Attr.Nested` splits at the first dot only.
            value = value.split(".", 1)
        return {long_name: value}

    return construct


for _short, _long in _SHORT_TAGS.items():
    _TemplateLoader.add_constructor(f"!{_short}", _tag_constructor(_long))


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse a YAML (or JSON) template with the short-form tags expanded."""
    with Path(path).open(encoding="utf-8") as stream:
        template = yaml.load(stream, Loader=_TemplateLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return template


def physical_name(stack_name: str, logical_id: str, max_length: int = 64) -> str:
    """The name the local stack gives a resource without an explicit name.

    CloudFormation appends a random suffix; locally names must be predictable across restarts so
    the developer can find them, hence `<stack>-<LogicalId>`.
    """
    return f"{stack_name}-{logical_id}"[:max_length]


def _is_intrinsic(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)) in {"Ref", "Condition", *_SHORT_TAGS.values()}
    )


def _merge_global(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rules: maps merge (resource wins), lists are global-first, scalars are replaced."""
    if _is_intrinsic(global_value) or _is_intrinsic(local_value):
        return copy.deepcopy(local_value)
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = copy.deepcopy(global_value)
        for key, value in local_value.items():
            merged[key] = _merge_global(merged[key], value) if key in merged else copy.deepcopy(value)
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return copy.deepcopy(global_value) + copy.deepcopy(local_value)
    return copy.deepcopy(local_value)


def apply_globals(template: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the template whose functions carry `Globals.Function`, and without `Globals`."""
    result = copy.deepcopy(dict(template))
    function_globals = result.pop("Globals", {}).get("Function", {})
    for resource in result["Resources"].values():
        if resource.get("Type") == SERVERLESS_FUNCTION:
            resource["Properties"] = _merge_global(function_globals, resource.get("Properties") or {})
    return result


def references(value: Any) -> set[str]:
    """Names a value refers to through Ref, GetAtt and Sub (resources, parameters, pseudo parameters)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        elif "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else str(target).split(".", 1)[0])
        elif "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            text, variables = (sub[0], sub[1]) if isinstance(sub, list) else (sub, {})
            for name in _SUB_VARIABLE.findall(text):
                if not name.startswith("!") and name.split(".", 1)[0] not in variables:
                    found.add(name.split(".", 1)[0])
            found |= references(variables)
        else:
            for item in value.values():
                found |= references(item)
    return found


@dataclass
class ResourceValues:
    """What `Ref` and `Fn::GetAtt` return for one resource."""

    ref: str
    attributes: dict[str, Any] = field(default_factory=dict)


class _NoValue:
    """`AWS::NoValue`: the enclosing property or list item disappears."""


NO_VALUE = _NoValue()


class Resolver:
    """Evaluates intrinsic functions for one stack."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
        resources: Mapping[str, ResourceValues] | None = None,
        *,
        stack_name: str,
        region: str,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        self.parameters = resolve_parameters(template, parameters or {})
        self.resources = dict(resources or {})
        self._mappings: Mapping[str, Any] = template.get("Mappings") or {}
        self._condition_definitions: Mapping[str, Any] = template.get("Conditions") or {}
        self._conditions: dict[str, bool] = {}
        self._pseudo = {
            "AWS::AccountId": account_id,
            "AWS::Region": region,
            "AWS::StackName": stack_name,
            "AWS::StackId": (
                f"arn:{PARTITION}:cloudformation:{region}:{account_id}:stack/{stack_name}/local"
            ),
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::NotificationARNs": [],
        }
        self.region = region
        self.stack_name = stack_name

    def condition(self, name: str) -> bool:
        """The value of a named condition (conditions may refer to other conditions)."""
        if name not in self._conditions:
            if name not in self._condition_definitions:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(self._condition_definitions[name]))
        return self._conditions[name]

    def is_active(self, resource: Mapping[str, Any]) -> bool:
        """False for a resource whose `Condition` is false (CloudFormation does not create it)."""
        condition = resource.get("Condition")
        return condition is None or self.condition(condition)

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function evaluated; `AWS::NoValue` entries removed."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if _is_intrinsic(value):
            (name, argument), *_ = value.items()
            return self._intrinsic(name, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.resources[name].ref
        raise TemplateError(f"Ref to {name!r}: no such parameter or provisioned resource")

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        values = self.resources.get(logical_id)
        if values is None:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: resource not provisioned")
        if attribute not in values.attributes:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: attribute not known locally")
        return values.attributes[attribute]

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1])
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                logical_id, attribute = name.split(".", 1)
                return str(self._get_att(logical_id, attribute))
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text)

    def _find_in_map(self, argument: list[Any]) -> Any:
        map_name, top_key, second_key = (self.resolve(item) for item in argument[:3])
        try:
            return self._mappings[map_name][top_key][second_key]
        except KeyError:
            if len(argument) > 3:
                return self.resolve(argument[3])["DefaultValue"]
            raise TemplateError(f"FindInMap {map_name}/{top_key}/{second_key}: not found") from None

    def _intrinsic(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self._ref(self.resolve(argument))
        if name == "Condition":
            return self.condition(argument)
        if name == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self._get_att(logical_id, self.resolve(attribute))
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::Join":
            delimiter, items = argument
            return str(delimiter).join(str(item) for item in self.resolve(items))
        if name == "Fn::Select":
            index, items = self.resolve(argument)
            return items[int(index)]
        if name == "Fn::Split":
            delimiter, text = self.resolve(argument)
            return str(text).split(delimiter)
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Fn::Equals":
            left, right = self.resolve(argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self.resolve(argument[0])
        if name == "Fn::And":
            return all(self.resolve(item) for item in argument)
        if name == "Fn::Or":
            return any(self.resolve(item) for item in argument)
        if name == "Fn::FindInMap":
            return self._find_in_map(argument)
        if name == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        if name == "Fn::Base64":
            return base64.b64encode(str(self.resolve(argument)).encode()).decode()
        if name == "Fn::ToJsonString":
            return json.dumps(self.resolve(argument), separators=(",", ":"))
        if name == "Fn::Length":
            return len(self.resolve(argument))
        raise TemplateError(f"{name} is not supported locally")


def resolve_parameters(template: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values: given ones over defaults, checked against AllowedValues like CloudFormation."""
    declared: Mapping[str, Any] = template.get("Parameters") or {}
    unknown = set(given) - set(declared)
    if unknown:
        raise TemplateError(f"parameters not declared in the template: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, declaration in declared.items():
        if name in given:
            value = given[name]
        elif "Default" in declaration:
            value = declaration["Default"]
        else:
            raise TemplateError(f"parameter {name} has no default and no value was given")
        value = str(value)
        allowed = declaration.get("AllowedValues")
        if allowed is not None and value not in [str(item) for item in allowed]:
            raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
        kind = str(declaration.get("Type", "String"))
        values[name] = value.split(",") if kind == "CommaDelimitedList" or kind.startswith("List<") else value
    return values
