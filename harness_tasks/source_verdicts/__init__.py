"""Golden verdicts of the original checkers: ACEBench's ``eval_main.py``, BFCL's handler + AST checker."""
