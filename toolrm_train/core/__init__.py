"""Shared trainer machinery: config, distributed set-up (torchrun + FSDP2), optimiser, checkpoints,
RNG, data order, metrics and the ``toolrm-train`` command. The GRPO and Bradley-Terry trainers
build their step loops from these pieces (interface: shared CONTRACTS.md section A)."""
