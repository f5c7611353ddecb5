// Shapes of the observability routes (SPEC §8; pipelogiq/http/internal_observability.py).

export type IntegrationKind = 'opentelemetry' | 'alerting' | 'grafana' | 'logs'
export const INTEGRATION_KINDS: IntegrationKind[] = ['opentelemetry', 'alerting', 'grafana', 'logs']

/** One entry of `GET /api/observability/config` (secrets masked). */
export interface IntegrationConfig {
  kind: IntegrationKind
  configured: boolean
  config: Record<string, unknown> | null
  updatedAt: string | null
}

/** `POST /api/observability/test`, and `lastTest` of the status. */
export interface TestResult {
  ok: boolean
  status?: number
  error?: string
  elapsedMs: number
  testedAt?: string
}

/** One entry of `GET /api/observability/status`. */
export interface IntegrationStatus {
  kind: IntegrationKind
  configured: boolean
  enabled: boolean
  testable: boolean
  lastTest: TestResult | null
}

/** One item of `GET /api/observability/traces`. */
export interface Trace {
  pipelineId: number
  executionId: number
  name: string
  applicationId: number
  traceId: string
  status: string
  createdAt: string
  finishedAt: string | null
  durationMs: number
  spansCount: number
  /** from the logs integration's link templates, when set */
  traceUrl?: string
  logsUrl?: string
}

export interface SlowStage {
  stageName: string
  handler: string
  count: number
  avgMs: number
  p50Ms: number
  p95Ms: number
  maxMs: number
}

export interface ErrorHotspot {
  handler: string
  failed: number
  total: number
  failureRate: number
  topErrorCode: string | null
}

export interface ThroughputHour {
  hour: string
  started: number
  completed: number
  failed: number
}

/** `GET /api/observability/insights?range=` */
export interface Insights {
  from: string
  to: string
  slowestStages: SlowStage[]
  errorHotspots: ErrorHotspot[]
  throughput: ThroughputHour[]
  summary: {
    stagesFinished: number
    stagesFailed: number
    pipelinesStarted: number
    pipelinesCompleted: number
    pipelinesFailed: number
    successRate: number | null
  }
}
