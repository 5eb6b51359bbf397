"""Run every topic of :mod:`equations` and render the derivation documents.

Topics run in parallel processes, in two groups of topics that share derived
results (the averaged objective and its gradients; the posteriors), so that
each group's caches serve all its topics; each worker returns plain data (the
rendered Markdown, records), never SymPy objects.
"""

from __future__ import annotations

import difflib
from pathlib import Path

#: Topics run in one process each, by what they share: the objective and its gradients (the stationary point
#: solves them), and the posteriors (the inference errors use them). Measured CPU seconds per group are close.
TOPIC_GROUPS = (("stationary", "gradients", "objective"), ("inference_errors", "posteriors", "propositions"))

#: Every topic, in the order the groups submit them.
SUBMISSION_ORDER = tuple(topic for group in TOPIC_GROUPS for topic in group)

#: Lines of unified diff shown per stale file.
DIFF_LINES = 40


def render_topic_text(topic: str) -> tuple[str, str, list[tuple[str, str, str, str, str]]]:
    """Derive one topic; returns ``(file name, Markdown, [(eq, title, status, condition, diagnosis), ...])``."""
    from betavae_sym.symbolic import equations
    from betavae_sym.symbolic.document import TOPIC_TITLES, render_topic

    checks = equations.topic_checks(topic)
    stem, _ = TOPIC_TITLES[topic]
    return f"{stem}.md", render_topic(topic, checks), [(c.eq, c.title, c.status, c.condition, c.diagnosis) for c in checks]


def render_identities():
    """The moment identities, proved by integration (for the index)."""
    from betavae_sym.symbolic.gaussian import verify_moment_identities

    return [(c.name, c.dimension, c.holds) for c in verify_moment_identities()]


def _run_group(worker, topics: tuple[str, ...]) -> list[tuple[str, object]]:
    """``worker(topic)`` for each topic of a group, in one process: ``[(topic, result), ...]``."""
    return [(topic, worker(topic)) for topic in topics]


def run_topics(jobs: int = 2, progress: bool = True, topics=SUBMISSION_ORDER, worker=render_topic_text):
    """Derive ``topics`` (in ``jobs`` processes, one task per group of :data:`TOPIC_GROUPS`) and prove the
    moment identities.

    ``worker(topic)`` runs in a worker process and returns plain data (default:
    :func:`render_topic_text`). Returns ``(results, identities)``:
    ``results[topic] = worker(topic)``, ``identities`` as from :func:`render_identities`.
    """
    from tqdm import tqdm

    wanted = set(topics)
    groups = [tuple(t for t in group if t in wanted) for group in TOPIC_GROUPS]
    groups = [group for group in groups if group]
    results, identities = {}, None
    bar = tqdm(total=len(wanted) + 1, desc="derive", unit="topic", disable=not progress)
    if jobs == 1 or len(wanted) <= 1:
        for topic in (t for group in groups for t in group):
            results[topic] = worker(topic)
            bar.update()
        identities = render_identities()
        bar.update()
    else:
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from betavae_sym.processes import exit_with_parent

        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
            futures = {pool.submit(_run_group, worker, group): group for group in groups}
            futures[pool.submit(render_identities)] = None
            for future in as_completed(futures):
                if futures[future] is None:
                    identities = future.result()
                    bar.update()
                    continue
                for topic, result in future.result():
                    results[topic] = result
                    bar.update()
    bar.close()
    return results, identities


def render_all(jobs: int = 2, progress: bool = True) -> dict[str, str]:
    """Every document: ``{file name: Markdown}``, the index ``README.md`` first, then the topics in paper order."""
    from betavae_sym.symbolic.document import TOPIC_TITLES, render_index

    results, identities = run_topics(jobs, progress)
    summary = {topic: [row[:3] for row in results[topic][2]] for topic in TOPIC_TITLES}
    documents = {"README.md": render_index(summary, identities)}
    documents.update({results[topic][0]: results[topic][1] for topic in TOPIC_TITLES})
    return documents


def stale_files(folder: Path, documents: dict[str, str]) -> str:
    """A readable report of every file in ``folder`` that differs from ``documents`` ("" when none)."""
    report = []
    for name, text in documents.items():
        path = folder / name
        if not path.is_file():
            report.append(f"missing: {path}\n")
            continue
        current = path.read_text(encoding="utf-8")
        if current == text:
            continue
        diff = list(difflib.unified_diff(current.splitlines(), text.splitlines(),
                                         fromfile=f"{path} (committed)", tofile=f"{path} (fresh)", lineterm=""))
        shown = diff[:DIFF_LINES] + ([f"... {len(diff) - DIFF_LINES} more diff lines"] if len(diff) > DIFF_LINES else [])
        report.append(f"stale: {path}\n" + "\n".join(shown) + "\n")
    return "".join(report)
