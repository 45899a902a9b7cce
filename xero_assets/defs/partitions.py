"""Tenant partitions: one dynamic partition per connected Xero organisation (partition key = Xero tenant id).

Dynamic because tenants arrive at run time (a new consent adds one through the sensor). A removed connection keeps
its partition, so its history and its downstream datasets stay readable; the token store says it is inactive.

Why the key is the tenant id and not the organisation's name: Xero lets an organisation be renamed, and a key
that changed with it would orphan its history. Dagster 1.13 has no display label for a dynamic partition, so the
name travels beside the key instead: every run we start carries the `xero/organisation` tag (the Runs page filters
and shows it), and the Integrations page links each organisation to its partition and its runs.
"""

import dagster as dg

TENANT_PARTITIONS_NAME = "xero_tenants"
ORGANISATION_TAG = "xero/organisation"

tenant_partitions = dg.DynamicPartitionsDefinition(name=TENANT_PARTITIONS_NAME)


def organisation_tags(name: str) -> dict[str, str]:
    """The run tags that let an operator find an organisation's runs by name in Dagster's UI."""
    return {ORGANISATION_TAG: name} if name else {}
