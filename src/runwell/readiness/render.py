"""The report as text (for people at a terminal), JSON, Markdown (for a PR comment) or JUnit XML
(for CI test reporters: one test case per item, a failure per failing item)."""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree as ET

import orjson

from runwell.readiness.items import SECTIONS, Report

__all__ = ["FORMATS", "render"]

FORMATS = ("text", "json", "markdown", "junit")
_MARK = {"pass": "ok", "fail": "FAIL", "n/a": "n/a"}


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _headline(report: Report) -> str:
    verdict = "ready" if not report.failed_required else f"{len(report.failed_required)} required items fail"
    return (
        f"{report.feature}: maturity level {report.level}, score {report.score:.0%} "
        f"(weakest: {SECTIONS.get(report.weakest or '', '-')}); {verdict}"
    )


def _text(report: Report) -> str:
    lines = [
        f"Readiness of {report.feature} ({report.mode}, {_when(report.at)}; spec {report.spec_version})",
        "",
    ]
    for section, title in SECTIONS.items():
        s = report.sections[section]
        lines.append(f"{title}: {s['points']:g}/{s['possible']:g} points ({s['share']:.0%})")
        for item in (i for i in report.items if i.section == section):
            how = "auto" if item.automated else "manual"
            lines.append(f"  [{_MARK[item.status]:>4}] {item.id} {item.title} ({how})")
            lines.append(f"         {item.evidence}")
            if item.status == "fail" and item.fix:
                lines.append(f"         fix: {item.fix}")
        lines.append("")
    lines.append("Maturity")
    for level in report.levels:
        lines.append(f"  level {level.level} ({level.name}): {'reached' if level.met else 'not reached'}")
        for criterion, ok, evidence in level.criteria:
            lines.append(f"    [{'ok' if ok else 'no'}] {criterion}: {evidence}")
    lines += ["", _headline(report)]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(report: Report) -> str:
    out = [
        f"## Readiness: {report.feature}",
        "",
        f"**Maturity level {report.level}**, score **{report.score:.0%}** "
        f"({report.mode}, {_when(report.at)}, spec `{report.spec_version}`)",
        "",
    ]
    for section, title in SECTIONS.items():
        s = report.sections[section]
        out += [
            f"### {title} ({s['points']:g}/{s['possible']:g})",
            "",
            "| item | status | evidence | fix |",
            "|---|---|---|---|",
        ]
        for item in (i for i in report.items if i.section == section):
            fix = item.fix if item.status == "fail" else ""
            out.append(
                f"| `{item.id}` {_cell(item.title)} | {item.status} | {_cell(item.evidence)} | {_cell(fix)} |"
            )
        out.append("")
    out.append("### Maturity")
    out.append("")
    for level in report.levels:
        out.append(f"- level {level.level} ({level.name}): {'reached' if level.met else 'not reached'}")
        for criterion, ok, evidence in level.criteria:
            out.append(f"  - {'✅' if ok else '❌'} {criterion}: {_cell(evidence)}")
    return "\n".join(out) + "\n"


def _junit(report: Report) -> str:
    failures = sum(1 for i in report.items if i.status == "fail")
    skipped = sum(1 for i in report.items if i.status == "n/a")
    suites = ET.Element(
        "testsuites",
        name=f"runwell readiness {report.feature}",
        tests=str(len(report.items)),
        failures=str(failures),
    )
    for section, title in SECTIONS.items():
        mine = [i for i in report.items if i.section == section]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{report.feature}.{section}",
            tests=str(len(mine)),
            failures=str(sum(1 for i in mine if i.status == "fail")),
            skipped=str(sum(1 for i in mine if i.status == "n/a")),
        )
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="section", value=title)
        for item in mine:
            case = ET.SubElement(suite, "testcase", classname=f"{report.feature}.{section}", name=item.id)
            if item.status == "fail":
                node = ET.SubElement(case, "failure", message=item.fix or item.title, type="readiness")
                node.text = item.evidence
            elif item.status == "n/a":
                ET.SubElement(case, "skipped", message=item.evidence)
            ET.SubElement(case, "system-out").text = f"{item.title}: {item.evidence}"
    suites.set("skipped", str(skipped))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def render(report: Report, fmt: str) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode()
    if fmt == "markdown":
        return _markdown(report)
    if fmt == "junit":
        return _junit(report)
    return _text(report)
