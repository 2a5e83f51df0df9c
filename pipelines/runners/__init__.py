"""Runner shims: glibc memory settings for in-process runs, Dataflow translation-only runs, and a
Dask runner that runs this project's batch job correctly."""
