"""Jobs the DataflowRunner only translates, never runs here:

- ``--dry_run=True`` translates the whole job offline (option validation, pickling of every DoFn,
  coders, the sdist built from ``--setup_file``) and submits nothing; it reads no gs:// path while
  it builds the job (inputs, state, story index: ``reads_at_build``), so it needs no network;
- ``--template_location`` (what the Flex Template launcher passes) writes the job for the
  Dataflow service to start: there is no job here to wait for or to read metrics from.
"""

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import GoogleCloudOptions, TestOptions
from apache_beam.portability.api import beam_runner_api_pb2


def translated_only(options) -> bool:
    return bool(options.view_as(TestOptions).dry_run or options.view_as(GoogleCloudOptions).template_location)


def reads_at_build(options, path: str) -> bool:
    """Whether building the job may read ``path`` (list it, read its state): always, but a remote
    path (gs://...) in a dry run, which translates offline."""
    return not (options.view_as(TestOptions).dry_run and FileSystems.get_scheme(path))


def translation_summary(runner, options) -> dict:
    """Top-level steps, staged files and pipeline size of the job ``runner`` translated."""
    proto = runner.job.proto_pipeline
    transforms = proto.components.transforms
    steps = [transforms[t].unique_name for root in proto.root_transform_ids for t in transforms[root].subtransforms]
    staged = sorted(
        beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(dep.role_payload).staged_name
        for env in proto.components.environments.values()
        for dep in env.dependencies
    )
    template = options.view_as(GoogleCloudOptions).template_location
    return {
        "translated_only": template or "dry run",
        "steps": steps,
        "staged": staged,
        "pipeline_bytes": proto.ByteSize(),
    }


def format_translation(summary: dict) -> str:
    return (
        f"{summary['run_id']}: translated for Dataflow, not run here ({summary['translated_only']})\n"
        f"  steps: {', '.join(summary['steps'])}\n"
        f"  staged: {', '.join(summary['staged'])}; pipeline {summary['pipeline_bytes'] / 1024:.0f} KiB"
    )
