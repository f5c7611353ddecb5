import type { IntegrationKind } from './types'

export const INTEGRATION_INFO: Record<IntegrationKind, { title: string; description: string }> = {
  opentelemetry: {
    title: 'OpenTelemetry',
    description: 'Export traces to an OTLP/HTTP collector; each pipeline is a trace and each stage a span.',
  },
  alerting: {
    title: 'Alerting',
    description: 'Send alerts (failed pipelines, offline workers, …) to a webhook, Slack or Teams.',
  },
  grafana: {
    title: 'Grafana',
    description: 'Link to a Grafana dashboard and check that Grafana answers.',
  },
  logs: {
    title: 'Trace & log links',
    description: 'URL templates that turn a pipeline into links to your tracing and log tools.',
  },
}
