"""Benchmarks for aimusic_async: ``python -m benchmarks [--quick] [--out FILE.json]``.

See ``benchmarks/README.md`` for what each scenario measures and the latest results.
"""
