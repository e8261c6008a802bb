"""Golden verdicts of the original checkers (ACEBench ``eval_main.py``, BFCL's Qwen FC handler + AST checker)."""
