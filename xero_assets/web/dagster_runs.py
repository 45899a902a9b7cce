"""Dagster runs through Dagster's GraphQL API: the "Sync Data" button launches one, the Detail page shows them.

The web app talks to the same webserver an operator opens (XERO_ASSETS_DAGSTER_URL), so a run launched here is an
ordinary run there: queued under dagster.yaml's one-run-per-tenant limit, retried, monitored, and found by the
`xero/organisation` tag. Launching uses `DagsterGraphQLClient.submit_job_execution` on the implicit asset job;
reads are plain GraphQL queries. Nothing sent or read here carries a token: only tenant ids, names and asset keys.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from xero_assets.defs.partitions import TENANT_PARTITIONS_NAME, organisation_tags

log = logging.getLogger(__name__)

ASSET_JOB = "__ASSET_JOB"
LOCATION = "xero_assets"  # workspace.yaml's location_name
REPOSITORY = "__repository__"
SOURCE_TAG = "xero_assets/source"
TIMEOUT = httpx.Timeout(30.0, connect=3.0)
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


class DagsterUnavailable(Exception):
    """Dagster's webserver did not answer or refused the request; the message says where and what to do."""


@dataclass(frozen=True)
class RunView:
    """One run of a tenant, as the Detail page shows it."""

    run_id: str
    status: str
    selected: tuple[str, ...]  # asset keys as "xero/invoices"
    materialized: tuple[str, ...]
    created: datetime
    ended: datetime | None
    failure: str | None
    url: str

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def progress(self) -> str:
        return f"{len(set(self.materialized))} of {len(self.selected)} assets"


_RUNS_QUERY = """
query TenantRuns($filter: RunsFilter!, $limit: Int!) {
  runsOrError(filter: $filter, limit: $limit) {
    __typename
    ... on Runs { results { runId status creationTime endTime
      assetSelection { path } assetMaterializations { assetKey { path } } } }
    ... on PythonError { message }
  }
}"""

_FAILURE_QUERY = """
query RunFailure($runId: ID!) {
  logsForRun(runId: $runId, limit: 1000) {
    __typename
    ... on EventConnection { events { __typename
      ... on ExecutionStepFailureEvent { error { message } }
      ... on RunFailureEvent { message } } }
  }
}"""

_ADD_PARTITION = """
mutation AddTenant($name: String!, $key: String!, $repositorySelector: RepositorySelector!) {
  addDynamicPartition(partitionsDefName: $name, partitionKey: $key, repositorySelector: $repositorySelector) {
    __typename
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}"""

# Why the checks are found through the tenant's latest materialization and not `assetCheckExecutions(partition:)`:
# the datasets' checks are declared unpartitioned on the partitioned `dashboards` multi-asset (partitioned checks are
# a preview in Dagster 1.13), so Dagster stores their evaluations with no partition, and a partition filter finds
# none. Each check runs in the step that writes its dataset, right after it, so a dataset's latest materialization
# for the tenant is in the run that holds its checks' latest results for that tenant (each evaluation also targets
# that materialization). This costs one query plus one per run read, however many tenants share the checks' history.
_CHECKS_QUERY = """
query DatasetChecks($assetKeys: [AssetKeyInput!], $partition: String!) {
  assetNodes(assetKeys: $assetKeys) { assetKey { path }
    assetMaterializations(partitions: [$partition], limit: 1) { runId }
    assetChecksOrError { __typename ... on AssetChecks { checks { name description } } } }
}"""

_CHECK_EVALUATIONS = """
query CheckEvaluations($runId: ID!, $after: String) {
  logsForRun(runId: $runId, afterCursor: $after, limit: 1000) {
    __typename
    ... on EventConnection { cursor hasMore events { __typename
      ... on AssetCheckEvaluationEvent { evaluation { assetKey { path } checkName success } } } }
    ... on PythonError { message }
  }
}"""
MAX_EVENT_PAGES = 50  # a tenant's full sync logs a few hundred events; stop reading a pathological run at 50,000


@dataclass(frozen=True)
class CheckView:
    """The latest result of one asset check for one tenant."""

    asset: str
    name: str
    description: str
    status: str  # SUCCEEDED, FAILED, or NOT_RUN (the tenant's dataset was never built)


class DagsterRuns:
    """Launch and read runs on one Dagster webserver."""

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=TIMEOUT, transport=transport)

    def close(self) -> None:
        self._http.close()

    # --- links into Dagster's UI --------------------------------------------------------------------------------

    def run_url(self, run_id: str) -> str:
        return f"{self.base_url}/runs/{run_id}"

    def runs_url(self, organisation: str) -> str:
        """The runs page filtered to one organisation's tag (what an operator searches by name)."""
        return f"{self.base_url}/runs?q%5B0%5D={quote('tag:xero/organisation=' + organisation)}"

    def asset_url(self, asset_key: str, tenant_id: str) -> str:
        return f"{self.base_url}/assets/{asset_key}?view=partitions&partition={quote(tenant_id)}"

    # --- launching ------------------------------------------------------------------------------------------------

    def launch(self, tenant_id: str, organisation: str, asset_keys: Sequence[str], *, source: str = "web") -> str:
        """Start a run of `asset_keys` ("xero/invoices", ...) for one tenant; returns its run id."""
        from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

        self._ensure_partition(tenant_id)
        url = urlsplit(self.base_url)
        client = DagsterGraphQLClient(
            url.hostname or "127.0.0.1",
            port_number=url.port,
            use_https=url.scheme == "https",
            path_prefix=url.path.rstrip("/"),
            timeout=60,  # a launch answered late may still have started the run: wait for the answer
        )
        tags = {"dagster/partition": tenant_id, SOURCE_TAG: source, **organisation_tags(organisation)}
        try:
            return client.submit_job_execution(
                ASSET_JOB,
                repository_location_name=LOCATION,
                repository_name=REPOSITORY,
                tags=tags,
                asset_selection=[key.split("/") for key in asset_keys],
            )
        except DagsterGraphQLClientError as exc:
            cause = f" ({type(exc.__cause__).__name__})" if exc.__cause__ else ""
            problem = str(exc).strip().splitlines()[0] + cause
            log.warning("launching a run for tenant %s failed: %s", tenant_id, problem)
            raise DagsterUnavailable(self._unavailable(problem)) from None

    def _ensure_partition(self, tenant_id: str) -> None:
        """The tenant's partition, added when the sensor has not yet (a run of an unknown partition is refused)."""
        selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
        data = self._query(
            _ADD_PARTITION, {"name": TENANT_PARTITIONS_NAME, "key": tenant_id, "repositorySelector": selector}
        )
        answer = data["addDynamicPartition"]
        if answer["__typename"] not in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
            raise DagsterUnavailable(self._unavailable(answer.get("message") or answer["__typename"]))

    # --- reading --------------------------------------------------------------------------------------------------

    def runs(self, tenant_id: str, limit: int = 5) -> list[RunView]:
        """The tenant's newest runs, newest first, with the failure reason of failed ones."""
        data = self._query(
            _RUNS_QUERY, {"filter": {"tags": [{"key": "dagster/partition", "value": tenant_id}]}, "limit": limit}
        )
        answer = data["runsOrError"]
        if answer["__typename"] != "Runs":
            raise DagsterUnavailable(self._unavailable(answer.get("message", answer["__typename"])))
        return [self._run(row) for row in answer["results"]]

    def _run(self, row: dict[str, Any]) -> RunView:
        failure = self._failure(row["runId"]) if row["status"] == "FAILURE" else None
        return RunView(
            run_id=row["runId"],
            status=row["status"],
            selected=tuple("/".join(key["path"]) for key in row.get("assetSelection") or []),
            materialized=tuple("/".join(m["assetKey"]["path"]) for m in row.get("assetMaterializations") or []),
            created=datetime.fromtimestamp(row["creationTime"], UTC),
            ended=datetime.fromtimestamp(row["endTime"], UTC) if row.get("endTime") else None,
            failure=failure,
            url=self.run_url(row["runId"]),
        )

    def _failure(self, run_id: str) -> str | None:
        """The first step failure's message (our own, saying what to do), else the run failure's."""
        answer = self._query(_FAILURE_QUERY, {"runId": run_id})["logsForRun"]
        events = answer.get("events") or []
        for event in events:
            if event["__typename"] == "ExecutionStepFailureEvent" and event.get("error"):
                return str(event["error"]["message"]).strip().splitlines()[0][:500]
        for event in events:
            if event["__typename"] == "RunFailureEvent":
                return str(event.get("message") or "the run failed")[:500]
        return None

    def checks(self, asset_keys: Sequence[str], tenant_id: str) -> list[CheckView]:
        """The latest result of every asset check on `asset_keys` for one tenant's partition: from the run of each
        dataset's latest materialization for the tenant (NOT_RUN when the tenant's dataset was never built)."""
        data = self._query(
            _CHECKS_QUERY, {"assetKeys": [{"path": key.split("/")} for key in asset_keys], "partition": tenant_id}
        )
        results: dict[str, dict[tuple[str, str], bool]] = {}
        out = []
        for node in data["assetNodes"]:
            asset = "/".join(node["assetKey"]["path"])
            latest = node.get("assetMaterializations") or []
            run_id = latest[0]["runId"] if latest else None
            if run_id is not None and run_id not in results:
                results[run_id] = self._check_results(run_id)
            passed = results.get(run_id, {}) if run_id else {}
            for check in node["assetChecksOrError"].get("checks") or []:
                outcome = passed.get((asset, check["name"]))
                status = "NOT_RUN" if outcome is None else "SUCCEEDED" if outcome else "FAILED"
                out.append(CheckView(asset, check["name"], check.get("description") or "", status))
        return sorted(out, key=lambda c: (c.asset, c.name))

    def _check_results(self, run_id: str) -> dict[tuple[str, str], bool]:
        """{(asset key, check name): passed} of every check evaluated in one run (the last, if one ran twice)."""
        found: dict[tuple[str, str], bool] = {}
        after = None
        for _ in range(MAX_EVENT_PAGES):
            answer = self._query(_CHECK_EVALUATIONS, {"runId": run_id, "after": after})["logsForRun"]
            if answer["__typename"] != "EventConnection":
                log.warning("reading the checks of run %s: %s", run_id, answer.get("message", answer["__typename"]))
                return found
            for event in answer["events"]:
                evaluation = event.get("evaluation") if event["__typename"] == "AssetCheckEvaluationEvent" else None
                if evaluation:
                    found["/".join(evaluation["assetKey"]["path"]), evaluation["checkName"]] = evaluation["success"]
            if not answer["hasMore"]:
                break
            after = answer["cursor"]
        return found

    # --- plumbing -------------------------------------------------------------------------------------------------

    def _query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.post("/graphql", json={"query": query, "variables": variables})
        except httpx.HTTPError as exc:
            raise DagsterUnavailable(self._unavailable(type(exc).__name__)) from None
        if response.status_code != 200:
            raise DagsterUnavailable(self._unavailable(f"HTTP {response.status_code}"))
        body = response.json()
        if body.get("errors"):
            raise DagsterUnavailable(self._unavailable(str(body["errors"][0].get("message", "GraphQL error"))[:200]))
        return body["data"]

    def _unavailable(self, problem: str) -> str:
        return (
            f"Dagster at {self.base_url} did not accept the request ({problem}). Start it with "
            "`dagster dev -w workspace.yaml` or set XERO_ASSETS_DAGSTER_URL to its webserver."
        )
