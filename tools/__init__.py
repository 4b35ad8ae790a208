"""Developer tools: benchmarks, fuzzers, code generation (not part of the installed package)."""
