import { CloudWatchClient, PutMetricDataCommand, type MetricDatum, type StandardUnit } from '@aws-sdk/client-cloudwatch';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describeError } from '../core/errors.ts';
import { DEFAULT_NAMESPACE, type Telemetry } from '../runner/telemetry.ts';

/**
 * Metrics from an ECS task. The Lambda writes EMF documents to stdout and Lambda's log delivery extracts them.
 * For ECS, CloudWatch's EMF guide describes ingestion through the CloudWatch agent as a sidecar and promises
 * nothing for the awslogs driver (which sends no `x-amzn-logs-format: json/emf` header). So the container
 * publishes the same metrics (same names, units and dimensions, built by the same Powertools code) with
 * PutMetricData, and writes no EMF to stdout: a log group that did extract EMF would otherwise count runs twice.
 *
 * The task role needs cloudwatch:PutMetricData, which has no resource ARN; scope it with the condition
 * `StringEquals cloudwatch:namespace = <namespace>`.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** What the metrics are sent with; a parameter so tests can capture them without CloudWatch. */
export type MetricSink = (namespace: string, data: readonly MetricDatum[]) => Promise<void>;

type EmfMetric = { Name: string; Unit?: string; StorageResolution?: number };
type EmfDocument = {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: EmfMetric[] }[] };
  [key: string]: unknown;
};

/** EMF document → PutMetricData datums (one per metric and dimension set). */
export function emfToDatums(emf: EmfDocument): MetricDatum[] {
  const out: MetricDatum[] = [];
  for (const directive of emf._aws.CloudWatchMetrics) {
    for (const dims of directive.Dimensions.length > 0 ? directive.Dimensions : [[]]) {
      const dimensions = dims.map((name) => ({ Name: name, Value: String(emf[name]) }));
      for (const m of directive.Metrics) {
        const raw = emf[m.Name];
        const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is number => typeof v === 'number');
        if (values.length === 0) continue;
        out.push({
          MetricName: m.Name,
          Dimensions: dimensions,
          Timestamp: new Date(emf._aws.Timestamp),
          ...(m.Unit ? { Unit: m.Unit as StandardUnit } : {}),
          ...(m.StorageResolution ? { StorageResolution: m.StorageResolution } : {}),
          ...(values.length === 1 ? { Value: values[0]! } : { Values: values }),
        });
      }
    }
  }
  return out;
}

/** Powertools Metrics whose flush queues datums for PutMetricData instead of printing EMF. */
class QueuedMetrics extends Metrics {
  readonly #queue: MetricDatum[];
  constructor(options: ConstructorParameters<typeof Metrics>[0], queue: MetricDatum[]) {
    super(options);
    this.#queue = queue;
  }
  override publishStoredMetrics(): this {
    try {
      if (this.hasStoredMetrics()) this.#queue.push(...emfToDatums(this.serializeMetrics() as unknown as EmfDocument));
    } finally {
      this.clearMetrics();
      this.clearDimensions();
      this.clearMetadata();
    }
    return this;
  }
}

const sdkMetricSink = (region: string | undefined): MetricSink => {
  let client: CloudWatchClient | undefined;
  return async (namespace, data) => {
    client ??= new CloudWatchClient(region ? { region } : {});
    // PutMetricData takes at most 1000 datums per call.
    for (let i = 0; i < data.length; i += 1000) {
      await client.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data.slice(i, i + 1000) }), {
        abortSignal: AbortSignal.timeout(10_000),
      });
    }
  };
};

export type ContainerTelemetry = Telemetry & {
  /** Sends what was queued; never throws (a metrics outage must not turn a good backup into a failed task). */
  flush(): Promise<void>;
};

export function createContainerTelemetry(env: Env, sink?: MetricSink): ContainerTelemetry {
  const service = env.POWERTOOLS_SERVICE_NAME || 'rds-s3-backup';
  const namespace = env.POWERTOOLS_METRICS_NAMESPACE || DEFAULT_NAMESPACE;
  const queue: MetricDatum[] = [];
  const logger = new Logger({ serviceName: service });
  const send = sink ?? sdkMetricSink(env.AWS_REGION || env.AWS_DEFAULT_REGION);
  const disabled = env.POWERTOOLS_METRICS_DISABLED === 'true';
  return {
    logger,
    run: new QueuedMetrics({ namespace, serviceName: service }, queue),
    database: new QueuedMetrics({ namespace, serviceName: service }, queue),
    service,
    namespace,
    async flush() {
      const data = queue.splice(0);
      if (disabled || data.length === 0) return;
      try {
        await send(namespace, data);
        logger.debug('metrics published', { namespace, count: data.length });
      } catch (err) {
        logger.warn('publishing metrics with cloudwatch:PutMetricData failed', {
          namespace,
          metrics: [...new Set(data.map((d) => d.MetricName))],
          error: describeError(err),
          hint: `the task role needs cloudwatch:PutMetricData with the condition cloudwatch:namespace = ${namespace}, and a network path to the CloudWatch API (VPC endpoint or NAT)`,
        });
      }
    },
  };
}
