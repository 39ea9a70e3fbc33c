"""Athena and CloudTrail Lake as the lab plays them: the SQL really runs.

moto's Athena only returns canned rows, so the lab answers ``StartQueryExecution`` /
``GetQueryExecution`` / ``GetQueryResults`` / ``StopQueryExecution`` and Lake's
``StartQuery`` / ``DescribeQuery`` / ``GetQueryResults`` / ``CancelQuery`` itself:

1. the query is parsed with sqlglot in the Athena (Trino) dialect, so SQL Athena would
   reject fails (``FAILED`` with a ``SYNTAX_ERROR`` reason);
2. it is transpiled to DuckDB and run over a table built from what the engine would read:
   for Athena, the trail log files the lab delivered whose S3 key lies under the Glue
   table's ``storage.location.template`` (the table itself, its columns, partition keys and
   projection settings, lives in moto's Glue, created by the seed); for Lake, every record
   the lab made (the event data store), with ``requestParameters`` & co. as
   ``map<string,string>`` whose nested values are JSON strings;
3. partition pruning is real: the conjuncts of the ``WHERE`` that name only partition
   columns are evaluated over the partitions present, and ``DataScannedInBytes`` is the
   size of the log files in the partitions kept.

Struct, array and map values come back the way Athena renders them (``{k=v, ...}``),
which is not JSON: a client that wants JSON must ``CAST(... AS JSON)``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from collections.abc import Iterable
from typing import Any, Callable

import duckdb
import sqlglot
from sqlglot import exp

from .common import ACCOUNT_ID, DEFAULT_REGION, Faults, Reply, aws_json_error, json_reply

#: Athena's limit on ``QueryString`` (bytes) and Lake's on ``QueryStatement`` (characters).
ATHENA_QUERY_MAX_BYTES = 262_144
LAKE_QUERY_MAX_CHARS = 10_000
RESULTS_PAGE_MAX = 1000
#: The column of the lab's tables that names each row's partition (``account/region/day``).
PARTITION_COLUMN = "__partition"

#: The lab's event data store (moto has no CloudTrail Lake).
LAKE_EDS_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
LAKE_EDS_ARN = f"arn:aws:cloudtrail:{DEFAULT_REGION}:{ACCOUNT_ID}:eventdatastore/{LAKE_EDS_ID}"

# -- Athena's CloudTrail table (Athena user guide, "Create the table for CloudTrail logs in
# Athena using partition projection"); the seed creates it in moto's Glue ----------------

_SESSION_CONTEXT = (
    "struct<attributes:struct<mfaauthenticated:string,creationdate:string>,"
    "sessionissuer:struct<type:string,principalid:string,arn:string,accountid:string,"
    "username:string>,ec2roledelivery:string,"
    "webidfederationdata:struct<federatedprovider:string,attributes:map<string,string>>>"
)
CLOUDTRAIL_COLUMNS: list[tuple[str, str]] = [
    ("eventversion", "string"),
    ("useridentity", "struct<type:string,principalid:string,arn:string,accountid:string,"
     "invokedby:string,accesskeyid:string,username:string,"
     "onbehalfof:struct<userid:string,identitystorearn:string>,"
     f"sessioncontext:{_SESSION_CONTEXT}>"),
    ("eventtime", "string"),
    ("eventsource", "string"),
    ("eventname", "string"),
    ("awsregion", "string"),
    ("sourceipaddress", "string"),
    ("useragent", "string"),
    ("errorcode", "string"),
    ("errormessage", "string"),
    ("requestparameters", "string"),
    ("responseelements", "string"),
    ("additionaleventdata", "string"),
    ("requestid", "string"),
    ("eventid", "string"),
    ("readonly", "string"),
    ("resources", "array<struct<arn:string,accountid:string,type:string>>"),
    ("eventtype", "string"),
    ("apiversion", "string"),
    ("recipientaccountid", "string"),
    ("serviceeventdetails", "string"),
    ("sharedeventid", "string"),
    ("vpcendpointid", "string"),
    ("vpcendpointaccountid", "string"),
    ("eventcategory", "string"),
    ("addendum", "struct<reason:string,updatedfields:string,originalrequestid:string,"
     "originaleventid:string>"),
    ("sessioncredentialfromconsole", "string"),
    ("edgedevicedetails", "string"),
    ("tlsdetails", "struct<tlsversion:string,ciphersuite:string,"
     "clientprovidedhostheader:string>"),
]


def glue_table_input(name: str, bucket: str, prefix: str, start: str) -> dict[str, Any]:
    """``TableInput`` of the multi-account CloudTrail table with projection on account,
    Region and day, over ``s3://{bucket}/{prefix}/AWSLogs/...``."""
    base = f"s3://{bucket}/{prefix.strip('/')}/AWSLogs" if prefix else f"s3://{bucket}/AWSLogs"
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in CLOUDTRAIL_COLUMNS],
            "Location": f"{base}/",
            "InputFormat": "com.amazon.emr.cloudtrail.CloudTrailInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary":
                          "org.apache.hive.hcatalog.data.JsonSerDe"},
        },
        "PartitionKeys": [{"Name": "account", "Type": "string"},
                          {"Name": "region", "Type": "string"},
                          {"Name": "timestamp", "Type": "string"}],
        "Parameters": {
            "classification": "cloudtrail",
            "projection.enabled": "true",
            "projection.account.type": "enum",
            "projection.account.values": ACCOUNT_ID,
            "projection.region.type": "enum",
            "projection.region.values": "us-east-1,us-west-2,eu-south-1",
            "projection.timestamp.type": "date",
            "projection.timestamp.format": "yyyy/MM/dd",
            "projection.timestamp.interval": "1",
            "projection.timestamp.interval.unit": "DAYS",
            "projection.timestamp.range": f"{start},NOW",
            "storage.location.template":
                f"{base}/${{account}}/CloudTrail/${{region}}/${{timestamp}}",
        },
    }


# -- Hive types -> DuckDB types, and record values -> column values -------------------------


def _split_fields(body: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in body:
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current:
        parts.append(current)
    return [p.strip() for p in parts]


@dataclass(frozen=True)
class HiveType:
    """A parsed Hive/Glue type: ``kind`` string|boolean|struct|array|map."""

    kind: str
    fields: tuple[tuple[str, "HiveType"], ...] = ()
    element: "HiveType | None" = None

    @staticmethod
    def parse(text: str) -> "HiveType":
        text = text.strip()
        lowered = text.lower()
        if lowered.startswith("struct<"):
            fields = []
            for part in _split_fields(text[7:-1]):
                name, kind = part.split(":", 1)
                fields.append((name.strip().lower(), HiveType.parse(kind)))
            return HiveType("struct", tuple(fields))
        if lowered.startswith("array<"):
            return HiveType("array", element=HiveType.parse(text[6:-1]))
        if lowered.startswith("map<"):
            return HiveType("map", element=HiveType.parse(_split_fields(text[4:-1])[1]))
        if lowered in ("boolean", "timestamp"):
            return HiveType(lowered)
        return HiveType("string")

    def duckdb(self) -> str:
        if self.kind == "struct":
            inner = ", ".join(f'"{n}" {t.duckdb()}' for n, t in self.fields)
            return f"STRUCT({inner})"
        if self.kind == "array":
            assert self.element is not None
            return f"{self.element.duckdb()}[]"
        if self.kind == "map":
            assert self.element is not None
            return f"MAP(VARCHAR, {self.element.duckdb()})"
        return {"boolean": "BOOLEAN", "timestamp": "TIMESTAMP"}.get(self.kind, "VARCHAR")

    def value(self, raw: Any) -> Any:
        """What the CloudTrail SerDe makes of a record's value: nested JSON in a string
        column stays JSON text; struct fields are matched case-insensitively."""
        if raw is None:
            return None
        if self.kind == "struct":
            if not isinstance(raw, dict):
                return None
            lowered = {k.lower(): v for k, v in raw.items()}
            return {n: t.value(lowered.get(n)) for n, t in self.fields}
        if self.kind == "array":
            assert self.element is not None
            return [self.element.value(v) for v in raw] if isinstance(raw, list) else None
        if self.kind == "map":
            if not isinstance(raw, dict):
                return None
            return {str(k): _scalar_text(v) for k, v in raw.items()}
        if self.kind == "boolean":
            return raw if isinstance(raw, bool) else str(raw).lower() == "true"
        if self.kind == "timestamp":
            return str(raw).replace("T", " ").rstrip("Z")
        return _scalar_text(raw)


def _scalar_text(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, (dict, list)):
        return json.dumps(raw, separators=(",", ":"))
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


def render(value: Any) -> str | None:
    """A value the way Athena's console/API renders it (structs and maps as ``{k=v}``)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={render(v) if v is not None else 'null'}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) or "null" for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- queries -------------------------------------------------------------------------------


@dataclass
class Query:
    """One query execution (Athena or Lake)."""

    query_id: str
    sql: str
    engine: str  # athena | lake
    state: str = "QUEUED"
    reason: str = ""
    columns: list[tuple[str, str]] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    scanned_bytes: int = 0
    events_scanned: int = 0
    partitions: list[dict[str, str]] = field(default_factory=list)
    submitted: float = field(default_factory=time.time)
    elapsed_ms: int = 0
    polls: int = 0
    #: when a poll first saw it ended (0: not yet): until then the client holds it in flight
    seen_ended: float = 0.0
    output: str = ""
    database: str = ""
    workgroup: str = "primary"


class QueryFailed(Exception):
    """The engine refuses or fails the query; ``reason`` is what Athena/Lake report."""


#: ``logs()`` -> every delivered log file as ``(bucket, key, gzip_size, records)``.
LogSource = Callable[[], list[tuple[str, str, int, list[dict[str, Any]]]]]
#: ``records()`` -> every record the lab made (the event data store).
RecordSource = Callable[[], list[dict[str, Any]]]
#: ``glue_table(database, table, region)`` -> moto Glue ``Table`` dict, or ``None``.
GlueLookup = Callable[[str, str, str], dict[str, Any] | None]
#: ``workgroup_output(name, region)`` -> the workgroup's result location ('' if none),
#: or ``None`` when there is no such workgroup.
WorkgroupLookup = Callable[[str, str], str | None]


def _date_pattern(fmt: str) -> str:
    return re.escape(fmt).replace("yyyy", r"\d{4}").replace("MM", r"\d{2}").replace(
        "dd", r"\d{2}").replace("HH", r"\d{2}")


class Engines:
    """The lab's Athena and Lake engines."""

    def __init__(self, logs: LogSource, records: RecordSource, glue: GlueLookup,
                 workgroup: WorkgroupLookup, faults: Faults) -> None:
        self._logs, self._records, self._glue = logs, records, glue
        self._workgroup, self._faults = workgroup, faults
        self._queries: dict[str, Query] = {}
        self._lock = threading.Lock()
        #: One DuckDB database for every query; each query runs on its own connection
        #: (``cursor()``) over per-query temporary views of the shared tables.
        self._db = duckdb.connect()
        #: what each table is built from (its key), its name and its statistics
        self._tables: dict[tuple[str, ...], tuple[Any, str, dict[str, int]]] = {}
        self._tables_lock = threading.Lock()
        self._serial = 0

    def reset(self) -> None:
        with self._lock:
            self._queries.clear()

    def _table(self, slot: tuple[str, ...], key: Any, columns: list[tuple[str, str]],
               rows: Callable[[], Iterable[dict[str, Any]]]) -> tuple[str, dict[str, int]]:
        """The shared table for ``slot``, built from ``rows()`` (dicts of column values,
        ``columns`` as ``(name, DuckDB type)``) unless it was built for the same ``key``:
        the records are loaded once per lab state, not once per query. Returns its name and
        its statistics: ``events`` and ``bytes`` (of the rows as JSON lines)."""
        with self._tables_lock:
            held = self._tables.get(slot)
            if held is not None and held[0] == key:
                return held[1], held[2]
            self._serial += 1
            name = f"__table_{self._serial}"
            stats = {"events": 0, "bytes": 0}
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
                for row in rows():
                    line = json.dumps(row, default=str) + "\n"
                    out.write(line)
                    stats["events"] += 1
                    stats["bytes"] += len(line)
            connection = self._db.cursor()
            try:
                ddl = ", ".join(f'"{n}" {t}' for n, t in columns)
                connection.execute(f'CREATE TABLE "{name}" ({ddl})')
                if stats["events"]:
                    spec = ", ".join(f"'{n}': '{t}'" for n, t in columns)
                    connection.execute(
                        f'INSERT INTO "{name}" SELECT * FROM read_json(?, '
                        f"format='newline_delimited', columns={{{spec}}})", [out.name])
                if held is not None:
                    connection.execute(f'DROP TABLE IF EXISTS "{held[1]}"')
            finally:
                connection.close()
                os.unlink(out.name)
            self._tables[slot] = (key, name, stats)
            return name, stats

    # -- Athena ------------------------------------------------------------------------

    def athena(self, operation: str, params: dict[str, Any], region: str) -> Reply:
        handlers = {
            "StartQueryExecution": self._athena_start,
            "GetQueryExecution": self._athena_get,
            "GetQueryResults": self._athena_results,
            "StopQueryExecution": self._stop,
        }
        handler = handlers.get(operation)
        if handler is None:
            return aws_json_error("InvalidRequestException", f"lab Athena has no {operation}")
        return handler(params, region)

    def _athena_start(self, params: dict[str, Any], region: str) -> Reply:
        sql = params.get("QueryString") or ""
        if not 1 <= len(sql.encode()) <= ATHENA_QUERY_MAX_BYTES:
            return aws_json_error("InvalidRequestException",
                                  f"QueryString must be 1 to {ATHENA_QUERY_MAX_BYTES} bytes")
        workgroup = params.get("WorkGroup") or "primary"
        configured = self._workgroup(workgroup, region)
        if configured is None:
            return aws_json_error("InvalidRequestException", f"WorkGroup {workgroup} is not found.")
        output = (params.get("ResultConfiguration") or {}).get("OutputLocation") or configured
        if not output:
            return aws_json_error(
                "InvalidRequestException",
                "Unable to verify/create output bucket. No output location provided. An "
                "output location is required either through the Workgroup result "
                "configuration setting or as an API input.")
        context = params.get("QueryExecutionContext") or {}
        query = Query(str(uuid.uuid4()), sql, "athena", output=output,
                      database=context.get("Database") or "default", workgroup=workgroup)
        self._run(query, lambda: self._athena_execute(query, region))
        return json_reply({"QueryExecutionId": query.query_id},
                          content_type="application/x-amz-json-1.1")

    def _athena_get(self, params: dict[str, Any], _region: str) -> Reply:
        query = self._find(params.get("QueryExecutionId"))
        if query is None:
            return aws_json_error("InvalidRequestException", "QueryExecution not found")
        state = self._observed_state(query)
        status: dict[str, Any] = {"State": state, "SubmissionDateTime": query.submitted}
        if state in ("FAILED", "CANCELLED"):
            status["StateChangeReason"] = query.reason
        if state == "SUCCEEDED":
            status["CompletionDateTime"] = query.submitted + query.elapsed_ms / 1000
        body = {"QueryExecution": {
            "QueryExecutionId": query.query_id,
            "Query": query.sql,
            "StatementType": "DML",
            "ResultConfiguration": {"OutputLocation": f"{query.output.rstrip('/')}/"
                                    f"{query.query_id}.csv"},
            "QueryExecutionContext": {"Database": query.database, "Catalog": "AwsDataCatalog"},
            "Status": status,
            "Statistics": {
                "EngineExecutionTimeInMillis": query.elapsed_ms,
                "DataScannedInBytes": query.scanned_bytes,
                "TotalExecutionTimeInMillis": query.elapsed_ms,
            },
            "WorkGroup": query.workgroup,
            "EngineVersion": {"SelectedEngineVersion": "AUTO",
                              "EffectiveEngineVersion": "Athena engine version 3"},
        }}
        return json_reply(body, content_type="application/x-amz-json-1.1")

    def _athena_results(self, params: dict[str, Any], _region: str) -> Reply:
        query = self._find(params.get("QueryExecutionId"))
        if query is None:
            return aws_json_error("InvalidRequestException", "QueryExecution not found")
        state = self._observed_state(query)
        if state != "SUCCEEDED":
            return aws_json_error("InvalidRequestException",
                                  f"Query has not yet finished. Current state: {state}")
        page_size = int(params.get("MaxResults") or RESULTS_PAGE_MAX)
        if not 1 <= page_size <= RESULTS_PAGE_MAX:
            return aws_json_error("InvalidRequestException", "MaxResults must be 1 to 1000")
        offset = _token_offset(params.get("NextToken"), query.query_id)
        if offset is None:
            return aws_json_error("InvalidRequestException", "Invalid NextToken")
        # Athena's first page starts with a header row (the column names).
        table = [tuple(n for n, _ in query.columns)] + [
            tuple(render(v) for v in row) for row in query.rows]
        page = table[offset:offset + page_size]
        body: dict[str, Any] = {
            "UpdateCount": 0,
            "ResultSet": {
                "Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]}
                         for row in page],
                "ResultSetMetadata": {"ColumnInfo": [
                    {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": n,
                     "Label": n, "Type": t, "Precision": 0, "Scale": 0,
                     "Nullable": "UNKNOWN", "CaseSensitive": t == "varchar"}
                    for n, t in query.columns]},
            },
        }
        if offset + len(page) < len(table):
            body["NextToken"] = _token(query.query_id, offset + len(page))
        return json_reply(body, content_type="application/x-amz-json-1.1")

    def _athena_execute(self, query: Query, region: str) -> None:
        tree = self._parse(query.sql)
        tables = list(tree.find_all(exp.Table))
        if not tables:
            raise QueryFailed("SYNTAX_ERROR: the lab engine only answers queries over a table")
        glue_tables: dict[tuple[str, str], dict[str, Any]] = {}
        for table in tables:
            database = (table.db or query.database).lower()
            name = table.name.lower()
            if table.catalog and table.catalog.lower() not in ("awsdatacatalog",):
                raise QueryFailed(f"CATALOG_NOT_FOUND: Catalog '{table.catalog}' not found")
            found = self._glue(database, name, region)
            if found is None:
                raise QueryFailed(
                    f"TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.{database}.{name}' "
                    "does not exist")
            glue_tables[(database, name)] = found
        connection = self._db.cursor()
        try:
            views = {place: self._athena_view(connection, query, tree, place, table)
                     for place, table in glue_tables.items()}
            self._execute(connection, query, tree, views, query.database.lower())
        finally:
            connection.close()

    def _athena_view(self, connection: Any, query: Query, tree: exp.Expression,
                     place: tuple[str, str], table: dict[str, Any]) -> str:
        """A temporary view of the table over the partitions the query keeps (their log
        files' size is what it scans); returns its name."""
        columns = [(c["Name"].lower(), HiveType.parse(c["Type"]))
                   for c in table["StorageDescriptor"]["Columns"]]
        keys = [k["Name"].lower() for k in table.get("PartitionKeys") or []]
        parameters = table.get("Parameters") or {}
        template = parameters.get("storage.location.template") or (
            table["StorageDescriptor"]["Location"].rstrip("/"))
        pattern = re.escape(template)
        for key in keys:
            fmt = parameters.get(f"projection.{key}.format")
            value = _date_pattern(fmt) if fmt else r"[^/]+"
            pattern = pattern.replace(re.escape("${" + key + "}"), f"(?P<{key}>{value})")
        location = re.compile(f"^{pattern}/")
        files: dict[tuple[str, ...], list[tuple[str, int, list[dict[str, Any]]]]] = {}
        for bucket, key, size, records in self._logs():
            match = location.match(f"s3://{bucket}/{key}")
            if match is None:
                continue
            values = tuple(match.group(k) for k in keys)
            if not self._projected(parameters, keys, values):
                continue
            files.setdefault(values, []).append((f"{bucket}/{key}", size, records))
        kept = self._prune(connection, tree, keys, sorted(files))
        query.partitions = [dict(zip(keys, p)) for p in kept]
        query.scanned_bytes += sum(size for p in kept for _, size, _ in files[p])

        def rows() -> Iterable[dict[str, Any]]:
            for partition, logs in sorted(files.items()):
                for _, _, records in logs:
                    for record in records:
                        lowered = {k.lower(): v for k, v in record.items()}
                        row = {n: t.value(lowered.get(n)) for n, t in columns}
                        row.update(zip(keys, partition))
                        row[PARTITION_COLUMN] = "/".join(partition)
                        yield row

        built = tuple(sorted(name for logs in files.values() for name, _, _ in logs))
        schema = ([(n, t.duckdb()) for n, t in columns] + [(k, "VARCHAR") for k in keys]
                  + [(PARTITION_COLUMN, "VARCHAR")])
        name, _ = self._table(("athena", *place), (built, json.dumps(parameters, sort_keys=True)),
                              schema, rows)
        wanted = ", ".join(_literal("/".join(p)) for p in kept) or "NULL"
        view = f"__view_{len(place[0])}_{place[1]}"
        connection.execute(
            f'CREATE TEMP VIEW "{view}" AS SELECT * EXCLUDE ("{PARTITION_COLUMN}") FROM "{name}" '
            f'WHERE "{PARTITION_COLUMN}" IN ({wanted})')
        return view

    @staticmethod
    def _projected(parameters: dict[str, str], keys: list[str], values: tuple[str, ...]) -> bool:
        """Partition projection: only values the projection names exist for Athena."""
        if parameters.get("projection.enabled", "").lower() != "true":
            return True
        for key, value in zip(keys, values):
            kind = parameters.get(f"projection.{key}.type")
            if kind == "enum":
                if value not in parameters.get(f"projection.{key}.values", "").split(","):
                    return False
            elif kind == "date":
                start = parameters.get(f"projection.{key}.range", "").split(",")[0]
                if start and value < start:
                    return False
        return True

    @staticmethod
    def _prune(connection: Any, tree: exp.Expression, keys: list[str],
               partitions: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
        """Keep the partitions the WHERE's partition-only conjuncts allow."""
        where = tree.find(exp.Where)
        if not keys or where is None or not partitions:
            return partitions
        conjuncts = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
        usable = [c for c in conjuncts
                  if {col.name.lower() for col in c.find_all(exp.Column)} <= set(keys)
                  and list(c.find_all(exp.Column))]
        if not usable:
            return partitions
        condition = " AND ".join(
            sqlglot.transpile(c.sql(dialect="athena"), read="athena", write="duckdb")[0]
            for c in usable)
        cols = ", ".join(f'"{k}" VARCHAR' for k in keys)
        connection.execute(f"CREATE TEMP TABLE __partitions ({cols})")
        marks = ", ".join("?" for _ in keys)
        connection.executemany(f"INSERT INTO __partitions VALUES ({marks})", partitions)
        quoted = ", ".join(f'"{k}"' for k in keys)
        kept = connection.execute(
            f"SELECT {quoted} FROM __partitions WHERE {condition}").fetchall()
        connection.execute("DROP TABLE __partitions")
        return sorted(tuple(row) for row in kept)

    # -- Lake --------------------------------------------------------------------------

    def lake(self, operation: str, params: dict[str, Any], _region: str) -> Reply:
        handlers = {
            "StartQuery": self._lake_start,
            "DescribeQuery": self._lake_describe,
            "GetQueryResults": self._lake_results,
            "CancelQuery": self._stop,
        }
        handler = handlers.get(operation)
        if handler is None:
            return aws_json_error("UnsupportedOperationException", f"lab Lake has no {operation}")
        return handler(params, _region)

    def _lake_start(self, params: dict[str, Any], _region: str) -> Reply:
        sql = params.get("QueryStatement") or ""
        if not 1 <= len(sql) <= LAKE_QUERY_MAX_CHARS:
            return aws_json_error("InvalidQueryStatementException",
                                  f"QueryStatement must be 1 to {LAKE_QUERY_MAX_CHARS} characters")
        if LAKE_EDS_ID not in sql:
            return aws_json_error("EventDataStoreNotFoundException",
                                  "The query names no event data store the lab knows "
                                  f"(the lab's is {LAKE_EDS_ID}).")
        query = Query(str(uuid.uuid4()), sql, "lake")
        self._run(query, lambda: self._lake_execute(query))
        return json_reply({"QueryId": query.query_id},
                          content_type="application/x-amz-json-1.1")

    def _lake_state(self, query: Query) -> str:
        state = self._observed_state(query)
        return {"SUCCEEDED": "FINISHED"}.get(state, state)

    def _lake_describe(self, params: dict[str, Any], _region: str) -> Reply:
        query = self._find(params.get("QueryId"))
        if query is None:
            return aws_json_error("QueryIdNotFoundException", "The query ID does not exist")
        body: dict[str, Any] = {
            "QueryId": query.query_id,
            "QueryString": query.sql,
            "QueryStatus": self._lake_state(query),
            "QueryStatistics": {
                "EventsMatched": len(query.rows),
                "EventsScanned": query.events_scanned,
                "BytesScanned": query.scanned_bytes,
                "ExecutionTimeInMillis": query.elapsed_ms,
                "CreationTime": query.submitted,
            },
            "EventDataStoreOwnerAccountId": ACCOUNT_ID,
        }
        if body["QueryStatus"] in ("FAILED", "CANCELLED", "TIMED_OUT"):
            body["ErrorMessage"] = query.reason
        return json_reply(body, content_type="application/x-amz-json-1.1")

    def _lake_results(self, params: dict[str, Any], _region: str) -> Reply:
        query = self._find(params.get("QueryId"))
        if query is None:
            return aws_json_error("QueryIdNotFoundException", "The query ID does not exist")
        state = self._lake_state(query)
        body: dict[str, Any] = {"QueryStatus": state}
        if state in ("FAILED", "CANCELLED", "TIMED_OUT"):
            body["ErrorMessage"] = query.reason
        if state != "FINISHED":
            return json_reply(body, content_type="application/x-amz-json-1.1")
        page_size = int(params.get("MaxQueryResults") or RESULTS_PAGE_MAX)
        if not 1 <= page_size <= RESULTS_PAGE_MAX:
            return aws_json_error("InvalidMaxResultsException", "MaxQueryResults must be 1-1000")
        offset = _token_offset(params.get("NextToken"), query.query_id)
        if offset is None:
            return aws_json_error("InvalidNextTokenException", "Invalid NextToken")
        page = query.rows[offset:offset + page_size]
        body["QueryResultRows"] = [
            [{name: render(v)} for (name, _), v in zip(query.columns, row) if v is not None]
            for row in page]
        body["QueryStatistics"] = {"ResultsCount": len(page), "TotalResultsCount":
                                   len(query.rows), "BytesScanned": query.scanned_bytes}
        if offset + len(page) < len(query.rows):
            body["NextToken"] = _token(query.query_id, offset + len(page))
        return json_reply(body, content_type="application/x-amz-json-1.1")

    def _lake_execute(self, query: Query) -> None:
        text = query.sql.replace(f'"{LAKE_EDS_ID}"', LAKE_EDS_ID).replace(
            LAKE_EDS_ID, f'"{LAKE_EDS_ID}"')
        tree = self._parse(text)
        columns = [(n, HiveType.parse(t)) for n, t in LAKE_COLUMNS]
        records = self._records()

        def rows() -> Iterable[dict[str, Any]]:
            for record in records:
                lowered = {k.lower(): v for k, v in record.items()}
                yield {n: t.value(lowered.get(n.lower())) for n, t in columns}

        key = (len(records), id(records[0]), id(records[-1])) if records else (0,)
        name, built = self._table(("lake",), key, [(n, t.duckdb()) for n, t in columns], rows)
        query.scanned_bytes, query.events_scanned = built["bytes"], built["events"]
        connection = self._db.cursor()
        try:
            connection.execute(f'CREATE TEMP VIEW "__view_lake" AS SELECT * FROM "{name}"')
            self._execute(connection, query, tree, {("", LAKE_EDS_ID.lower()): "__view_lake"},
                          "")
        finally:
            connection.close()

    # -- shared ------------------------------------------------------------------------

    @staticmethod
    def _parse(sql: str) -> exp.Expression:
        try:
            statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
        except sqlglot.errors.SqlglotError as exc:
            raise QueryFailed(f"SYNTAX_ERROR: {str(exc).splitlines()[0]}") from exc
        if len(statements) != 1:
            raise QueryFailed("SYNTAX_ERROR: exactly one statement per query")
        if not isinstance(statements[0], (exp.Select, exp.Union)):
            raise QueryFailed("SYNTAX_ERROR: the lab engine runs SELECT statements only")
        return statements[0]

    def _execute(self, connection: Any, query: Query, tree: exp.Expression,
                 views: dict[tuple[str, str], str], default_schema: str) -> None:
        """Runs the query with each table it names read from its view."""

        def to_view(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Table):
                place = ((node.db or default_schema).lower(), node.name.lower())
                if place in views:
                    return exp.to_table(f'"{views[place]}"')
            return _to_duckdb(node)

        try:
            sql = tree.copy().transform(to_view).sql(dialect="duckdb")
            cursor = connection.execute(sql)
        except duckdb.Error as exc:
            raise QueryFailed(f"SYNTAX_ERROR: {str(exc).splitlines()[0]}") from exc
        query.columns = [(d[0], _trino_type(str(d[1]))) for d in cursor.description]
        query.rows = [tuple(row) for row in cursor.fetchall()]

    def _run(self, query: Query, execute: Callable[[], None]) -> None:
        """Execute now; the state the client sees is set by the ``query_state`` fault."""
        with self._lock:
            self._queries[query.query_id] = query
        fault = self._faults.get("query_state")
        started = time.monotonic()
        try:
            execute()
            query.state = "SUCCEEDED"
        except QueryFailed as exc:
            query.state, query.reason = "FAILED", str(exc)
        query.elapsed_ms = int((time.monotonic() - started) * 1000)
        if fault and query.state == "SUCCEEDED":
            query.state = str(fault.get("state", "FAILED"))
            query.reason = str(fault.get("reason", f"lab fault: query {query.state}"))

    def _observed_state(self, query: Query) -> str:
        """The first poll sees ``RUNNING`` (clients must poll); later polls the outcome."""
        with self._lock:
            query.polls += 1
            if query.polls == 1 and query.state not in ("RUNNING", "QUEUED"):
                return "RUNNING"
            if query.state not in ("RUNNING", "QUEUED") and not query.seen_ended:
                query.seen_ended = time.time()
        return "RUNNING" if query.state == "QUEUED" else query.state

    def _stop(self, params: dict[str, Any], _region: str) -> Reply:
        query = self._find(params.get("QueryExecutionId") or params.get("QueryId"))
        if query is None:
            return aws_json_error("InvalidRequestException", "query not found")
        if query.state in ("RUNNING", "QUEUED"):
            query.state, query.reason = "CANCELLED", "Query cancelled by user"
        body = {} if query.engine == "athena" else {"QueryId": query.query_id,
                                                    "QueryStatus": self._lake_state(query)}
        return json_reply(body, content_type="application/x-amz-json-1.1")

    def _find(self, query_id: Any) -> Query | None:
        with self._lock:
            return self._queries.get(str(query_id))

    def history(self) -> list[dict[str, Any]]:
        """Every query so far, oldest first (control API ``GET /_lab/queries``)."""
        with self._lock:
            queries = list(self._queries.values())
        return [{"QueryId": q.query_id, "Engine": q.engine, "Sql": q.sql, "State": q.state,
                 "Reason": q.reason, "Partitions": q.partitions, "ScannedBytes": q.scanned_bytes,
                 "Rows": len(q.rows), "Submitted": q.submitted, "SeenEnded": q.seen_ended}
                for q in sorted(queries, key=lambda q: q.submitted)]


#: CloudTrail Lake's event schema (the columns the lab's event data store has).
LAKE_COLUMNS: list[tuple[str, str]] = [
    ("eventVersion", "string"),
    ("userIdentity", "struct<type:string,principalid:string,arn:string,accountid:string,"
     "accesskeyid:string,username:string,invokedby:string,"
     f"sessioncontext:{_SESSION_CONTEXT}>"),
    ("eventTime", "timestamp"),
    ("eventSource", "string"),
    ("eventName", "string"),
    ("awsRegion", "string"),
    ("sourceIPAddress", "string"),
    ("userAgent", "string"),
    ("errorCode", "string"),
    ("errorMessage", "string"),
    ("requestParameters", "map<string,string>"),
    ("responseElements", "map<string,string>"),
    ("additionalEventData", "map<string,string>"),
    ("requestId", "string"),
    ("eventId", "string"),
    ("readOnly", "boolean"),
    ("resources", "array<struct<type:string,arn:string,accountid:string>>"),
    ("eventType", "string"),
    ("managementEvent", "boolean"),
    ("recipientAccountId", "string"),
    ("eventCategory", "string"),
    ("sharedEventId", "string"),
    ("vpcEndpointId", "string"),
]


def _to_duckdb(node: exp.Expression) -> exp.Expression:
    """What sqlglot does not translate: the Glue catalog name (DuckDB has one catalog) and
    Trino's ``any_match(array, lambda)``."""
    if isinstance(node, exp.Table) and node.catalog:
        node = node.copy()
        node.set("catalog", None)
        return node
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "any_match":
        array, predicate = node.expressions
        return sqlglot.parse_one(
            f"COALESCE(list_bool_or(list_transform({array.sql('duckdb')}, "
            f"{predicate.sql('duckdb')})), FALSE)", read="duckdb")
    return node


def _trino_type(duck: str) -> str:
    lowered = duck.lower()
    if lowered.startswith("struct"):
        return "row"
    if lowered.endswith("[]"):
        return "array"
    if lowered.startswith("map"):
        return "map"
    return {"varchar": "varchar", "boolean": "boolean", "bigint": "bigint",
            "integer": "integer", "timestamp": "timestamp", "json": "json",
            "double": "double"}.get(lowered, lowered)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _token(query_id: str, offset: int) -> str:
    return base64.b64encode(f"{query_id}:{offset}".encode()).decode()


def _token_offset(token: str | None, query_id: str) -> int | None:
    if not token:
        return 0
    try:
        owner, offset = base64.b64decode(token).decode().rsplit(":", 1)
        return int(offset) if owner == query_id else None
    except ValueError:
        return None
