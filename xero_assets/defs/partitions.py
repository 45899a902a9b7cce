"""Tenant partitions: one dynamic partition per connected Xero organisation (partition key = Xero tenant id).

Dynamic because tenants arrive at run time (a new consent adds one through the sensor). A removed connection keeps
its partition, so its history and its downstream datasets stay readable; the token store says it is inactive.
"""

import dagster as dg

TENANT_PARTITIONS_NAME = "xero_tenants"

tenant_partitions = dg.DynamicPartitionsDefinition(name=TENANT_PARTITIONS_NAME)
