"""Signed OneDesk requests already honoured (implements ``RequestLog``): one item per request,
``pk=TENANT#t, sk=REQUEST#<request id>``, claimed with a conditional put and swept by the table's TTL
(``expires_at``). TTL deletion lags by up to two days, so an expired record counts as absent."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from qbo_sync.adapters.store.dynamo import condition_failed
from qbo_sync.adapters.store.keys import tenant_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


def _key(tenant_id: str, request_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": f"REQUEST#{request_id}"}


class DynamoRequestLog:
    def __init__(self, table: Table) -> None:
        self._table = table

    def claim(self, tenant_id: str, request_id: str, now: datetime, until: datetime) -> bool:
        try:
            self._table.put_item(
                Item={**_key(tenant_id, request_id), "expires_at": math.ceil(until.timestamp())},
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": math.floor(now.timestamp())},
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def release(self, tenant_id: str, request_id: str) -> None:
        self._table.delete_item(Key=_key(tenant_id, request_id))
