"""Build the embedded TRBench-BFCL pair set from the BFCL data shipped in the ``bfcl-eval`` package.

Modules, one job each:

* :mod:`.bfcl_source` — check the ``bfcl-eval`` install, load a category's questions and answers
  (which files hold them: :mod:`harness_tasks.bfcl_files`);
* :mod:`.bfcl_runtime` — import BFCL's checkers and back-ends without their heavy dependencies;
* :mod:`.ground_truth` — canonical chosen calls; multi-turn call strings to and from tool calls;
* :mod:`.checkers` — BFCL's verdict (valid, error type) on decoded calls; asked only through the
  one dispatcher, :mod:`harness_tasks.turn_verdicts`;
* :mod:`.multi_turn` — multi-turn conversations replayed from executed ground truth;
* :mod:`.error_operators` — realistic mistakes applied to ground-truth calls (shared with the
  ToolPref data pipeline);
* :mod:`.reject_sampling` — seeded, checker-verified choice of rejected responses;
* :mod:`.build` — which items and turns, the rows, the shipped files;
* :mod:`.verify` — compare a fresh build with the shipped one, by content;
* :mod:`.cli` — ``toolrm-build-trbench``.
"""
