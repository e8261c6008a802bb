"""ToolPref-style preference data: from tool-use trajectories to GenRM and DiscRM training sets.

One module per step (read, normalise, validate, segment, sample, filter, pair, balance, export);
:mod:`toolrm_train.toolpref.pipeline` runs them in order and :mod:`toolrm_train.toolpref.cli` is
``toolrm-data``. The rule-based scorer they rely on is :mod:`harness_tasks.tool_call_score`,
shared with the benchmark and the trainers. See ``toolrm_train/README.md``.
"""
