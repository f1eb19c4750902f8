"""Summarise one cosmic-ray session: a table row (stdout) and the surviving mutants with
their diffs (a file). Used by ``tools/mutation.sh``; works on a partial session too.

cosmic-ray runs pending mutants in random order, so when a time budget stops a session
early the judged mutants are a random sample of all of them: the kill rate is then reported
with a 95 % Wilson interval, and the pending count is printed -- never counted as killed.

A run can also judge an explicit sample: ``--sample SESSION N SEED`` keeps N pending
mutants drawn with ``random.Random(SEED)`` (a reproducible simple random sample without
replacement) and marks the others "not sampled"; those are reported in their own column,
never as killed, and the interval is the sample's.

Usage: mutation_report.py SESSION.sqlite NAME MODULE SECONDS SURVIVORS_FILE
       mutation_report.py --skip-annotations SESSION.sqlite MODULE
       mutation_report.py --sample SESSION.sqlite N SEED
"""

from __future__ import annotations

import ast
import math
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

ANNOTATION = "equivalent: mutates a type annotation"
NOT_SAMPLED = "not in the random sample of this run"

HEADER = (
    "| module | mutants | not sampled | judged | pending | incompetent | killed | survived "
    "| killed % (95% CI) | wall time |\n|---|---|---|---|---|---|---|---|---|---|"
)


def annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) of the type annotations of a module that are never evaluated (1-based
    lines, 0-based columns): those of function parameters and returns and of local
    variables. NOT class-body annotations: pydantic evaluates a model's field annotations
    when the class is built (a mutant there breaks the model), dataclasses read them too."""
    spans = []
    tree = ast.parse(path.read_text())
    in_class_body = {
        id(stmt)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for stmt in node.body
        if isinstance(stmt, ast.AnnAssign)
    }
    for node in ast.walk(tree):
        notes: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            notes.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            notes.append(node.returns)
        elif isinstance(node, ast.AnnAssign) and id(node) not in in_class_body:
            notes.append(node.annotation)
        for a in notes:
            if a is not None and a.end_lineno is not None and a.end_col_offset is not None:
                spans.append(((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)))
    return spans


def in_annotation(
    pos: tuple[int, int], spans: list[tuple[tuple[int, int], tuple[int, int]]]
) -> bool:
    return any(lo <= tuple(pos) < hi for lo, hi in spans)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return 100 * (mid - half), 100 * (mid + half)


def skip_annotations(session: str, module: str) -> int:
    """Mark the mutants of type annotations as skipped before the run (equivalent: with
    ``from __future__ import annotations`` an annotation is never evaluated)."""
    spans = annotation_spans(Path(module))
    n = 0
    with use_db(session, WorkDB.Mode.open) as db:
        for item in db.pending_work_items:
            if in_annotation(item.mutations[0].start_pos, spans):
                db.set_result(
                    item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=ANNOTATION)
                )
                n += 1
    print(f"{module}: {n} mutants of type annotations marked equivalent, not run")
    return 0


def _identity(item: Any) -> tuple[str, str, int]:
    m = item.mutations[0]
    return (str(m.module_path), m.operator_name, int(m.occurrence))


def sample(session: str, n: int, seed: int) -> int:
    """Keep a simple random sample of ``n`` pending mutants (reproducible: ``seed``), mark
    the rest "not sampled" so that ``cosmic-ray exec`` judges only the sample."""
    with use_db(session, WorkDB.Mode.open) as db:
        # ordered by what each mutant IS (file, operator, occurrence), not by its job id:
        # cosmic-ray's job ids are random (uuid4) at every ``init``, so sorting them made
        # the "reproducible" sample a different one at every run, whatever the seed
        items = sorted(db.pending_work_items, key=_identity)
        ids = [item.job_id for item in items]
        keep = set(random.Random(seed).sample(ids, min(n, len(ids))))
        for job_id in ids:
            if job_id not in keep:
                db.set_result(
                    job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=NOT_SAMPLED)
                )
    print(f"{session}: {len(keep)} of {len(ids)} mutants sampled (seed {seed})")
    return 0


def main() -> int:
    if sys.argv[1] == "--skip-annotations":
        return skip_annotations(sys.argv[2], sys.argv[3])
    if sys.argv[1] == "--sample":
        return sample(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    session, name, module, seconds, survivors_path = sys.argv[1:6]
    counts: Counter[str] = Counter()
    survivors = []
    spans = annotation_spans(Path(module))
    with use_db(session, WorkDB.Mode.open) as db:
        total = db.num_work_items
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED and result.output == ANNOTATION:
                if in_annotation(item.mutations[0].start_pos, spans):
                    counts["equivalent (annotation)"] += 1
                # else: skipped by an older rule that also covered class-body annotations:
                # not judged, so it stays in "pending"
            elif result.worker_outcome == WorkerOutcome.SKIPPED and result.output == NOT_SAMPLED:
                counts["not sampled"] += 1
            elif result.worker_outcome == WorkerOutcome.SKIPPED:
                counts["excluded"] += 1  # filtered out by the operator set
            elif result.worker_outcome != WorkerOutcome.NORMAL:
                counts["killed"] += 1  # a timeout or a crashed worker: detected
            elif result.test_outcome == TestOutcome.SURVIVED and in_annotation(
                item.mutations[0].start_pos, spans
            ):
                # ``from __future__ import annotations``: an annotation is a string that is
                # never evaluated at run time, so changing it cannot change behaviour
                counts["equivalent (annotation)"] += 1
            elif result.test_outcome == TestOutcome.SURVIVED:
                counts["survived"] += 1
                m = item.mutations[0]
                survivors.append(
                    f"### {item.job_id}  {m.operator_name}  line {m.start_pos[0]}"
                    f" ({m.definition_name or ''})\n{result.diff}\n"
                )
            elif result.test_outcome == TestOutcome.KILLED:
                counts["killed"] += 1
            else:
                counts["incompetent"] += 1  # the mutant does not even import: not counted
    total -= counts["excluded"] + counts["equivalent (annotation)"]
    judged = counts["killed"] + counts["survived"]
    pending = total - judged - counts["incompetent"] - counts["not sampled"]
    lo, hi = wilson(counts["killed"], judged)
    pct = 100.0 * counts["killed"] / judged if judged else float("nan")
    survivors.sort(key=lambda s: int(s.split(" line ")[1].split()[0]))
    Path(survivors_path).write_text(
        f"# {module}: {counts['survived']} surviving mutants of {judged} judged"
        f" ({pending} pending, {counts['not sampled']} not sampled;"
        f" {counts['equivalent (annotation)']} mutants of type annotations"
        " left out as equivalent)\n\n" + "\n".join(survivors)
    )
    print(
        f"| {module} | {total} | {counts['not sampled']} | {judged} | {pending} | "
        f"{counts['incompetent']} | "
        f"{counts['killed']} | {counts['survived']} | {pct:.1f}% ({lo:.1f}-{hi:.1f}) | "
        f"{int(seconds) // 60} min |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
