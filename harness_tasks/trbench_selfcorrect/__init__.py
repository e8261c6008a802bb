"""Self-correction with a critic, as lm-eval tasks (``trbench_selfcorrect_*``).

Modules, one job each:

* :mod:`.splits` — which BFCL ids self-correction may use (disjoint from TRBench-BFCL and Best-of-N);
* :mod:`.items` — the item schema, reading and validating the shipped item file;
* :mod:`.build` — the seeded item build (``python -m harness_tasks.trbench_selfcorrect.build``);
* :mod:`.dataset` — the lm-eval ``custom_dataset`` loader;
* :mod:`.checking` — the checker's verdict on an assistant turn, per source (BFCL, ACEBench);
* :mod:`.prompts` — critique, revision, single-model and re-check prompts from ``templates/``;
* :mod:`.parsing` — a critique's verdict, a revision's Hermes turn (linear-time scans);
* :mod:`.protocols` — the two-round driver over lm-eval model objects;
* :mod:`.metrics` — accuracy after correction, fixed/broken rates, verdict accuracy, parse rates, tokens;
* :mod:`.lm_task` — the lm-eval task class that hands each item to the driver;
* :mod:`.acebench_source` — ACEBench ``normal`` items and the ACEBench checker on a Hermes turn;
* :mod:`.report` — per checker error type, from an lm-eval sample log.
"""
