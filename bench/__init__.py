"""The benchmark and the soak: ``python bench/run.py`` and ``python bench/soak.py``
(see docs/development.md, "Benchmarks")."""
