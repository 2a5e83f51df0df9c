"""Dataflow dry runs: ``--runner=DataflowRunner --dry_run=True`` translates the whole job offline
(option validation, pickling of every DoFn, coders, the sdist built from ``--setup_file``) and
submits nothing.  These helpers report what would have been submitted."""

from apache_beam.options.pipeline_options import TestOptions
from apache_beam.portability.api import beam_runner_api_pb2


def dry_run_job(result, options):
    """The translated, unsubmitted Dataflow job of a dry run, else None."""
    return getattr(result, "job", None) if options.view_as(TestOptions).dry_run else None


def dry_run_summary(job) -> dict:
    """Top-level steps, staged files and pipeline size of a translated job."""
    proto = job.proto_pipeline
    transforms = proto.components.transforms
    steps = [transforms[t].unique_name for root in proto.root_transform_ids for t in transforms[root].subtransforms]
    staged = sorted(
        beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(dep.role_payload).staged_name
        for env in proto.components.environments.values()
        for dep in env.dependencies
    )
    return {"dry_run": True, "steps": steps, "staged": staged, "pipeline_bytes": proto.ByteSize()}


def format_dry_run(summary: dict) -> str:
    return (
        f"dry run {summary['run_id']}: translated for Dataflow, nothing submitted\n"
        f"  steps: {', '.join(summary['steps'])}\n"
        f"  staged: {', '.join(summary['staged'])}; pipeline {summary['pipeline_bytes'] / 1024:.0f} KiB"
    )
