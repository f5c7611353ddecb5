// Shapes of the stats and worker-detail routes (SPEC §7). Only what the pages read.

export type StatsRange = '1h' | '24h' | '7d' | '30d'
export const STATS_RANGES: StatsRange[] = ['1h', '24h', '7d', '30d']

/** `GET /api/stats/summary?range=` */
export interface StatsSummary {
  range: StatsRange
  from: string
  to: string
  /** pipelines created in the range, by their current status */
  pipelinesByStatus: Record<string, number>
  pipelinesCreated: number
  /** stages completed in the range */
  stagesCompleted: number
  throughputPerMinute: number
  /** pipelines finished (Completed, Failed, Cancelled) in the range */
  pipelinesFinished: number
  pipelinesFailed: number
  /** Failed / finished, 0 when none finished */
  failureRate: number
  /** current, by effective state */
  workersByState: Record<string, number>
  /** current: stages Pending or Running */
  inFlightStages: number
}

/** One bucket of `GET /api/stats/executions?range=&bucket=` */
export interface ExecutionBucket {
  start: string
  created: number
  completed: number
  failed: number
}

/** `GET /api/workers/{id}` */
export interface WorkerDetail {
  id: string
  applicationId: number
  name: string
  instanceId: string
  state: string
  effectiveState: string
  hostName?: string
  pid?: number
  environment?: string
  version?: string
  sdkVersion?: string
  handlers: string[]
  capabilities?: Record<string, unknown>
  metadata?: Record<string, unknown>
  lastSeen?: string
  startedAt?: string
  sessionExpiresAt?: string
  inFlight: number
  processed: number
  failed: number
  lastError?: string
}

/** `GET /api/workers/{id}/events` (newest first) */
export interface WorkerEvent {
  id: number
  workerId: string
  created: string
  level: string
  eventType: string
  message?: string
  details?: Record<string, unknown>
}

/** `GET /api/workers/{id}/heartbeats` (newest first) */
export interface WorkerHeartbeat {
  id: number
  workerId: string
  created: string
  state: string
  inFlight?: number
  processed?: number
  failed?: number
  cpuPercent?: number
  memoryMb?: number
  details?: Record<string, unknown>
}
