"""The audit's reports: JSON (``pyhost.audit/1``), SARIF 2.1.0, a table, and JUnit XML for
merged reports (a single run's JUnit is pytest's own ``--junitxml``).

``pyhost.audit/1`` (held by a contract test; adding keys is compatible):

    {"schema": "pyhost.audit/1", "pyhost_version", "started", "duration_s", "shard",
     "inventory", "checks": {id: {id, title, severity, rationale, remediation}},
     "hosts": [{"host", "status": ok|unreachable|failed, "error", "docker_version",
                "containers"}],
     "results": [{"check", "host", "container", "result": pass|fail|warn|skip|error,
                  "message", "evidence": [...], "waived": null|{reason, expires}, "nodeid"}],
     "summary": {"pass", "fail", "warn", "skip", "error", "waived"},
     "exit_status", "timings": {"gather_s", "checks_s"}}
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from pyhost.audit.model import RESULTS, CheckMeta, Result
from pyhost.errors import ExitStatus, UsageError

SCHEMA = "pyhost.audit/1"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFO_URI = "https://www.cisecurity.org/benchmark/docker"
SEVERITY_SCORE = {"high": "8.0", "medium": "5.0", "low": "3.0", "info": "0.0"}


def exit_status(results: Iterable[Result], hosts: Iterable[dict[str, Any]]) -> int:
    """1 for a failure or an error on a host that answered (not waived); else 4 when a host
    could not be reached; else 0."""
    hosts = list(hosts)
    down = {h["host"] for h in hosts if h["status"] == "unreachable"}
    if any(r.counts and r.host not in down for r in results):
        return ExitStatus.FAILURE
    if any(h["status"] == "failed" for h in hosts):
        return ExitStatus.FAILURE
    if down:
        return ExitStatus.UNREACHABLE
    return ExitStatus.OK


def summary(results: Iterable[Result]) -> dict[str, int]:
    results = list(results)
    counts = Counter(r.result for r in results)
    out = {name: counts.get(name, 0) for name in RESULTS}
    out["waived"] = sum(1 for r in results if r.waived)
    return out


def document(
    *,
    results: Sequence[Result],
    checks: dict[str, CheckMeta],
    hosts: list[dict[str, Any]],
    started: str,
    duration: float,
    inventory: str | None,
    shard: str | None,
) -> dict[str, Any]:
    from pyhost import __version__

    return {
        "schema": SCHEMA,
        "pyhost_version": __version__,
        "started": started,
        "duration_s": round(duration, 3),
        "shard": shard,
        "inventory": inventory,
        "checks": {k: checks[k].as_dict() for k in sorted(checks, key=_id_key)},
        "hosts": hosts,
        "results": [r.as_dict() for r in results],
        "summary": summary(results),
        "exit_status": int(exit_status(results, hosts)),
        "timings": {"gather_s": None, "checks_s": None},
    }


def _id_key(check_id: str) -> tuple[Any, ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in check_id.split("."))


def results_of(doc: dict[str, Any]) -> list[Result]:
    return [Result(**r) for r in doc["results"]]


# ----------------------------------------------------------------------------- merge


def merge(docs: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Several shards' ``pyhost.audit/1`` documents as one (hosts in the order given)."""
    if not docs:
        raise UsageError("audit merge needs at least one report")
    checks: dict[str, Any] = {}
    hosts: list[dict[str, Any]] = []
    results: list[Result] = []
    seen: dict[str, str] = {}
    for path, doc in docs:
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise UsageError(f"{path}: not a {SCHEMA} report", hint="write it with --format json")
        for h in doc["hosts"]:
            if h["host"] in seen:
                raise UsageError(
                    f"{path}: host {h['host']} is in {seen[h['host']]} too",
                    hint="merge the reports of different shards",
                )
            seen[h["host"]] = path
            hosts.append(h)
        checks.update(doc["checks"])
        results += results_of(doc)
    merged = {
        "schema": SCHEMA,
        "pyhost_version": docs[0][1].get("pyhost_version"),
        "started": min(d.get("started") or "" for _, d in docs),
        "duration_s": max(float(d.get("duration_s") or 0) for _, d in docs),
        "shard": None,
        "inventory": docs[0][1].get("inventory"),
        "checks": {k: checks[k] for k in sorted(checks, key=_id_key)},
        "hosts": hosts,
        "results": [r.as_dict() for r in results],
        "summary": summary(results),
        "exit_status": int(exit_status(results, hosts)),
        "timings": {"gather_s": None, "checks_s": None},
    }
    return merged


# ----------------------------------------------------------------------------- SARIF


def _where(r: dict[str, Any]) -> str:
    return r["host"] if not r["container"] else f"{r['host']}/{r['container']}"


def sarif(doc: dict[str, Any]) -> dict[str, Any]:
    """SARIF 2.1.0: one rule per check, one result per failure or warning (waived ones
    carry an external suppression). Locations point at the inventory file (or the host
    name) with the host and container as logical locations."""
    ids = list(doc["checks"])
    rules = []
    for check_id in ids:
        c = doc["checks"][check_id]
        rules.append(
            {
                "id": check_id,
                "name": "CIS" + check_id.replace(".", "_"),
                "shortDescription": {"text": c["title"]},
                "fullDescription": {"text": c["rationale"] or c["title"]},
                "help": {"text": c["remediation"] or c["title"]},
                "helpUri": INFO_URI,
                "defaultConfiguration": {
                    "level": "error" if c["severity"] in ("high", "medium") else "warning"
                },
                "properties": {
                    "security-severity": SEVERITY_SCORE.get(c["severity"], "5.0"),
                    "tags": ["security", "docker", "cis-docker-benchmark"],
                    "severity": c["severity"],
                },
            }
        )
    results = []
    for r in doc["results"]:
        if r["result"] not in ("fail", "warn", "error"):
            continue
        c = doc["checks"].get(r["check"], {})
        level = (
            "warning"
            if r["result"] == "warn" or c.get("severity") in ("low", "info")
            else ("error")
        )
        where = _where(r)
        text = f"{where}: {r['message'] or c.get('title', r['check'])}"
        if r["evidence"]:
            text += " (evidence: " + "; ".join(r["evidence"]) + ")"
        entry: dict[str, Any] = {
            "ruleId": r["check"],
            "ruleIndex": ids.index(r["check"]) if r["check"] in ids else 0,
            "level": level,
            "kind": "fail",
            "message": {"text": text},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": doc.get("inventory") or "inventory.yml"},
                        "region": {"startLine": 1},
                    },
                    "logicalLocations": [
                        {
                            "name": where,
                            "fullyQualifiedName": where,
                            "kind": "resource",
                        }
                    ],
                }
            ],
            "partialFingerprints": {
                "pyhostAudit/v1": hashlib.sha256(
                    f"{r['check']}|{r['host']}|{r['container'] or ''}".encode()
                ).hexdigest()
            },
            "properties": {
                "host": r["host"],
                "container": r["container"],
                "result": r["result"],
                "evidence": r["evidence"],
            },
        }
        if r["waived"]:
            entry["suppressions"] = [
                {
                    "kind": "external",
                    "justification": f"{r['waived']['reason']} (until {r['waived']['expires']})",
                }
            ]
        results.append(entry)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pyhost audit",
                        "version": str(doc.get("pyhost_version") or "0"),
                        "informationUri": INFO_URI,
                        "rules": rules,
                    }
                },
                "results": results,
                "invocations": [
                    {
                        "executionSuccessful": doc["exit_status"] in (0, 1),
                        "exitCode": doc["exit_status"],
                        "toolExecutionNotifications": [
                            {
                                "level": "error",
                                "message": {"text": h["error"] or h["status"]},
                                "locations": [
                                    {"logicalLocations": [{"name": h["host"], "kind": "resource"}]}
                                ],
                            }
                            for h in doc["hosts"]
                            if h["status"] != "ok"
                        ],
                    }
                ],
                "columnKind": "utf16CodeUnits",
            }
        ],
    }


# ----------------------------------------------------------------------------- JUnit


def junit(doc: dict[str, Any]) -> str:
    """JUnit XML (testsuites > testsuite > testcase, with failure/error/skipped), for merged
    reports; one testcase per result, named as pytest names them."""
    import xml.etree.ElementTree as ET

    counts = doc["summary"]
    suites = ET.Element("testsuites", name="pyhost audit")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="pyhost audit",
        tests=str(len(doc["results"])),
        failures=str(counts["fail"] - sum(1 for r in doc["results"] if r["waived"])),
        errors=str(counts["error"]),
        skipped=str(counts["skip"] + counts["waived"]),
        time=f"{float(doc.get('duration_s') or 0):.3f}",
        timestamp=str(doc.get("started") or ""),
    )
    for r in doc["results"]:
        node = r["nodeid"] or f"{r['check']}[{_where(r)}]"
        path, _, name = node.rpartition("::")
        case = ET.SubElement(
            suite,
            "testcase",
            classname=path.replace("/", ".").removesuffix(".py") or "pyhost.audit",
            name=name or node,
            time="0.000",
        )
        props = ET.SubElement(case, "properties")
        for key, value in (
            ("check", r["check"]),
            ("host", r["host"]),
            ("container", r["container"] or ""),
            ("result", r["result"]),
            ("evidence", " | ".join(r["evidence"])),
        ):
            ET.SubElement(props, "property", name=key, value=str(value))
        if r["waived"]:
            ET.SubElement(case, "skipped", message=f"waived: {r['waived']['reason']}")
        elif r["result"] == "fail":
            ET.SubElement(case, "failure", message=r["message"]).text = "\n".join(r["evidence"])
        elif r["result"] == "error":
            ET.SubElement(case, "error", message=r["message"])
        elif r["result"] == "skip":
            ET.SubElement(case, "skipped", message=r["message"])
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


# ----------------------------------------------------------------------------- table


def print_table(doc: dict[str, Any], *, show_passed: bool = False, console: Any = None) -> None:
    """Findings first (fail, error, warn), one row each; then a summary line."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console(highlight=False)
    style = {"fail": "red", "error": "magenta", "warn": "yellow", "pass": "green", "skip": "dim"}
    order = {"fail": 0, "error": 1, "warn": 2, "skip": 3, "pass": 4}
    shown = [
        r
        for r in doc["results"]
        if show_passed or r["result"] in ("fail", "error", "warn") or r["waived"]
    ]
    shown.sort(key=lambda r: (order[r["result"]], _id_key(r["check"]), r["host"]))
    if shown:
        table = Table(show_edge=False, pad_edge=False, box=None)
        for col in ("RESULT", "CHECK", "SEV", "WHERE", "WHAT"):
            table.add_column(col, overflow="fold")
        for r in shown:
            c = doc["checks"].get(r["check"], {})
            label = r["result"].upper() + (" (waived)" if r["waived"] else "")
            table.add_row(
                f"[{style[r['result']]}]{label}[/]",
                escape(r["check"]),
                c.get("severity", ""),
                escape(_where(r)),
                escape(r["message"] or c.get("title", "")),
            )
        console.print(table)
    for h in doc["hosts"]:
        if h["status"] != "ok":
            console.print(
                f"[magenta]{escape(h['host'])}: {h['status']}[/]: {escape(h['error'] or '')}"
            )
    s = doc["summary"]
    console.print(
        f"{len(doc['hosts'])} host(s), {len(doc['results'])} results: "
        f"[green]{s['pass']} pass[/], [red]{s['fail']} fail[/] ({s['waived']} waived), "
        f"[yellow]{s['warn']} warn[/], {s['skip']} skip, [magenta]{s['error']} error[/]"
    )


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"
