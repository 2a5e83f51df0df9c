"""Run batch jobs on a ``dask.distributed`` cluster: ``--runner=pipelines.runners.dask_runner.DaskRunner
--dask_client_address=tcp://scheduler:8786``.

Beam 2.77's experimental ``DaskRunner`` mistranslates this project's job; fixed here:

- a multi-output ParDo's outputs all reach every consumer (failures flow into the articles
  branch); here each consumer gets only its own tag;
- outputs emitted in ``finish_bundle`` are dropped (the extractor emits its last in-flight pages
  there); here they are kept;
- only the graph behind the last transform is computed, so the other sinks never run; here
  every leaf is computed;
- Reshuffle is ignored, so all files of one glob land in one partition; here it shuffles them
  over ``--dask_npartitions`` partitions;
- Flatten adds up partition counts, which over this job's many Flattens and CoGroupByKeys made
  a task graph of ~150,000 tasks; here Flatten and GroupByKey stay within ``--dask_npartitions``;
- ``result.metrics()`` raises NotImplementedError; here counters are collected per bundle and
  sent to the scheduler as Dask events (attempted values only: a retried task counts twice).

Still unsupported: side inputs, state and timers, windows other than the global one.  Dask
workers are daemonic by default, and daemonic processes cannot start the extractor's child
processes: start workers with ``distributed.worker.daemon: False``
(``DASK_DISTRIBUTED__WORKER__DAEMON=False``).
"""

import dataclasses
import operator
import random
import uuid
from collections import Counter

import dask.bag as db
from apache_beam import DoFn, TaggedOutput, pvalue
from apache_beam.metrics.execution import MetricKey, MetricResult, MetricsContainer
from apache_beam.metrics.metric import MetricResults
from apache_beam.metrics.metricbase import MetricName
from apache_beam.pipeline import PipelineVisitor
from apache_beam.runners.common import (
    DoFnContext,
    DoFnInvoker,
    DoFnSignature,
    _OutputHandler,
)
from apache_beam.runners.dask import dask_runner, overrides, transform_evaluator
from apache_beam.runners.dask.transform_evaluator import OneReceiver, get_windowed_value
from apache_beam.runners.worker import statesampler
from apache_beam.utils.counters import CounterFactory
from distributed import get_worker


def without_window(value):
    """Bags carry plain elements between transforms (global window only), like Beam's DaskRunner."""
    if isinstance(value, TaggedOutput):
        return TaggedOutput(value.tag, value.value.value)
    return value.value


def run_bundle(elements, do_fn, label, args, kwargs, window_fn, metrics_topic) -> list:
    """One Dask partition as one Beam bundle, ``finish_bundle`` outputs included; its counters
    go to the scheduler as a ``metrics_topic`` event."""
    receivers = OneReceiver()
    handler = _OutputHandler(
        window_fn=window_fn,
        main_receivers=receivers[None],
        tagged_receivers=receivers,
        per_element_output_counter=None,
        output_batch_converter=None,
        process_yields_batches=False,
        process_batch_yields_elements=False,
    )
    invoker = DoFnInvoker.create_invoker(
        DoFnSignature(do_fn),
        handler,
        context=DoFnContext(label, state=None),
        side_inputs=None,
        input_args=list(args),
        input_kwargs=kwargs,
        user_state_context=None,
        bundle_finalizer_param=DoFn.BundleFinalizerParam(),
    )
    metrics = MetricsContainer(label)
    sampler = statesampler.StateSampler(label, CounterFactory())
    statesampler.set_current_tracker(sampler)  # Metrics.counter(...) finds its container through it
    try:
        with sampler.scoped_state(label, "process", metrics_container=metrics):
            invoker.invoke_setup()
            invoker.invoke_start_bundle()
            for element in elements:
                invoker.invoke_process(element)
            invoker.invoke_finish_bundle()
            invoker.invoke_teardown()
    finally:
        statesampler.set_current_tracker(None)
    counters = [[k.metric.namespace, k.metric.name, v] for k, v in metrics.get_cumulative().counters.items()]
    if counters:
        get_worker().log_event(metrics_topic, [label, counters])
    return [without_window(value) for value in receivers.values]


@dataclasses.dataclass
class ParDo(transform_evaluator.DaskBagOp):
    """A ParDo without side inputs; main outputs plain, the others as TaggedOutputs."""

    metrics_topic: str = ""

    def apply(self, input_bag, side_inputs=None):
        transform = self.transform
        if side_inputs:
            raise NotImplementedError(f"{transform.label}: side inputs are not supported on Dask")
        window_fn = next(iter(self.applied.main_inputs.values())).windowing.windowfn
        bundle_args = (transform.fn, self.applied.full_label, transform.args, transform.kwargs, window_fn)
        return input_bag.map(get_windowed_value, window_fn).map_partitions(run_bundle, *bundle_args, self.metrics_topic)


def random_key(value):
    return random.getrandbits(32), value


def group_values(group) -> list:
    return [value for _, value in group[1]]


class Reshuffle(transform_evaluator.DaskBagOp):
    """Spreads elements evenly over ``--dask_npartitions`` partitions (Beam's DaskRunner ignores
    Reshuffle, so all files matched by one glob would be extracted in one partition)."""

    def apply(self, input_bag, side_inputs=None):
        npartitions = self.bag_kwargs.get("npartitions") or input_bag.npartitions
        # Dask's task-based shuffle never yields more partitions than it gets: split first.
        keyed = input_bag.repartition(npartitions).map(random_key)
        groups = keyed.groupby(operator.itemgetter(0), npartitions=npartitions)
        return groups.map(group_values).flatten()


def at_most(bag, npartitions):
    """``bag`` with no more than ``npartitions`` partitions (None: unchanged)."""
    return bag.repartition(npartitions) if npartitions and bag.npartitions > npartitions else bag


class Flatten(transform_evaluator.Flatten):
    """Concatenation adds up partition counts; over a job's many Flattens and CoGroupByKeys the
    task graph would grow to ~10^5 tasks, so the result is cut back to ``--dask_npartitions``."""

    def apply(self, input_bag, side_inputs=None):
        return at_most(super().apply(input_bag, side_inputs), self.bag_kwargs.get("npartitions"))


class GroupByKey(transform_evaluator.GroupByKey):
    """A task shuffle over at most ``--dask_npartitions`` partitions."""

    def apply(self, input_bag, side_inputs=None):
        return super().apply(at_most(input_bag, self.bag_kwargs.get("npartitions")), side_inputs)


TRANSLATIONS = {
    **transform_evaluator.TRANSLATIONS,
    transform_evaluator.apache_beam.ParDo: ParDo,
    overrides._Flatten: Flatten,
    overrides._GroupByKeyOnly: GroupByKey,
    overrides._Reshuffle: Reshuffle,
}


def only_tag(values, tag):
    """The elements of one output of a multi-output ParDo (tag None = the main output)."""
    return [
        value.value if isinstance(value, TaggedOutput) else value
        for value in values
        if (value.tag if isinstance(value, TaggedOutput) else None) == tag
    ]


class DaskBagVisitor(PipelineVisitor):
    """Translates leaf transforms to Dask bags.  After the walk, ``bags`` ends with one bag that
    depends on every unconsumed output, which is what ``DaskRunner.run_pipeline`` computes."""

    def __init__(self, bag_kwargs: dict, metrics_topic: str):
        self.bags = {}
        self._bag_kwargs = bag_kwargs
        self._metrics_topic = metrics_topic
        self._unconsumed = {}

    def output_bag(self, pcoll):
        producer = pcoll.producer
        self._unconsumed.pop(producer, None)
        bag = self.bags[producer]
        return bag.map_partitions(only_tag, pcoll.tag) if len(producer.outputs) > 1 else bag

    def translate(self, node) -> transform_evaluator.DaskBagOp:
        op = TRANSLATIONS.get(type(node.transform), transform_evaluator.NoOp)
        if op is ParDo:
            return ParDo(node, bag_kwargs=self._bag_kwargs, metrics_topic=self._metrics_topic)
        return op(node, bag_kwargs=self._bag_kwargs)

    def visit_transform(self, node):
        op = self.translate(node)
        inputs = [self.output_bag(p) for p in node.inputs if not isinstance(p, pvalue.PBegin)]
        if isinstance(op, transform_evaluator.Flatten):
            bag = op.apply(inputs)
        else:
            bag = op.apply(inputs[0] if inputs else None, side_inputs=list(node.side_inputs) or None)
        self.bags[node] = self._unconsumed[node] = bag

    def leave_composite_transform(self, node):
        if node.parent is None:  # the root: the walk is over
            self.bags[node] = db.concat([bag for bag in self._unconsumed.values() if bag is not None])


class DaskMetrics(MetricResults):
    """Counters summed over the bundles' events (attempted only)."""

    def __init__(self, events):
        totals = Counter()
        for _, (step, counters) in events:
            for namespace, name, value in counters:
                totals[(step, namespace, name)] += value
        self._counters = [
            MetricResult(MetricKey(step, MetricName(namespace, name)), None, value)
            for (step, namespace, name), value in totals.items()
        ]

    def query(self, filter=None):
        other_kinds = (self.DISTRIBUTIONS, self.GAUGES, self.STRINGSETS, self.BOUNDED_TRIES, self.HISTOGRAMS)
        return {
            self.COUNTERS: [result for result in self._counters if self.matches(filter, result.key)],
            **{kind: [] for kind in other_kinds},
        }


@dataclasses.dataclass
class DaskRunnerResult(dask_runner.DaskRunnerResult):
    """Collects the metrics events once the job is done, then closes the client."""

    metrics_topic: str = ""
    _metrics: DaskMetrics = dataclasses.field(default=None, init=False)

    def wait_until_finish(self, duration=None):
        try:
            return super().wait_until_finish(duration)
        finally:
            self._metrics = DaskMetrics(self.client.get_events(self.metrics_topic))
            self.client.close()

    def metrics(self):
        return self._metrics


class DaskRunner(dask_runner.DaskRunner):
    """Beam's DaskRunner with the fixes listed in the module docstring."""

    def to_dask_bag_visitor(self, bag_kwargs=None):
        return DaskBagVisitor(bag_kwargs or {}, self._metrics_topic)

    def run_pipeline(self, pipeline, options):
        self._metrics_topic = f"beam-metrics-{uuid.uuid4().hex}"
        result = super().run_pipeline(pipeline, options)
        return DaskRunnerResult(result.client, result.futures, self._metrics_topic)
