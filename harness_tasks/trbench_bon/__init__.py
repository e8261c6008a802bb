"""Best-of-N selection with a judge or a reward model (tasks ``trbench_bon_*``); see README.md."""
