# One image for both roles on Dataflow:
#  - custom SDK container for the workers (--sdk_container_image; ENTRYPOINT is Beam's boot), and
#  - Flex Template launcher (gcloud dataflow flex-template build --image ...).
# Keep the Beam and Python versions in the tag equal to the installed apache-beam and the
# interpreter that submits the job (tests/pipelines/test_dataflow_dryrun.py checks this).
ARG LAUNCHER_IMAGE=gcr.io/dataflow-templates-base/python311-template-launcher-base:latest
FROM ${LAUNCHER_IMAGE} AS launcher

FROM apache/beam_python3.11_sdk:2.77.0

COPY --from=launcher /opt/google/dataflow/python_template_launcher /opt/google/dataflow/python_template_launcher

WORKDIR /template
COPY pyproject.toml README.md ./
COPY pipelines pipelines
COPY transforms transforms
COPY schemas schemas
COPY configs configs
# The import compiles the token pass (numba) into the installed package's cache, so workers
# load it instead of compiling it at start-up (-I: the installed package, not ./transforms).
RUN pip install --no-cache-dir . && pip check \
    && python -I -c "from transforms.dedup.textmatch import token_hashes; token_hashes(['warm'])"

# The Flex Template launcher runs this file with the template's parameters as flags.
# Dependencies are already installed in this image, so no requirements or setup file is staged.
ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/template/pipelines/batch.py

ENTRYPOINT ["/opt/apache/beam/boot"]
