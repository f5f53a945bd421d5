"""What the tests (and the benchmarks in ``bench/``) share: real files and servers to run
against, deliberately broken engines, and one way to wait for something to happen."""
