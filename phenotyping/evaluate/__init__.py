"""Evaluation harness of the relapse-risk engine (issue 10).

``surrogates``  a person's own real days: complete days, weekly block bootstrap;
``scenarios``   relapse patterns and negative controls injected at the minute level;
``runner``      minute series -> cached daily feature rows -> the risk engine;
``harness``     tuning/reporting split, seeds, figures with 95% intervals, report tables;
``metrics``     detection, false-alarm rates, exact and t intervals, PPV, caseload.

``benchmarks/evaluate_risk.py`` runs it; ``docs/evaluation.md`` reports it.
"""
