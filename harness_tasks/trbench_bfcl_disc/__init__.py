"""TRBench-BFCL for scalar (discriminative) reward models: task YAMLs, hooks and metrics."""
