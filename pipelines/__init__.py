"""Pipeline wiring: the batch job, its configuration and the command line."""
