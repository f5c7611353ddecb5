// Shapes of the internal API (SPEC §4.1, §7). Only the fields the dashboard reads.

export type PipelineStatus = 'NotStarted' | 'Running' | 'Completed' | 'Failed' | 'Cancelled'
export type StageStatus =
  | 'NotStarted'
  | 'Pending'
  | 'Running'
  | 'RetryScheduled'
  | 'Completed'
  | 'Failed'
  | 'Skipped'
  | 'Cancelled'

export const PIPELINE_STATUSES: PipelineStatus[] = [
  'NotStarted',
  'Running',
  'Completed',
  'Failed',
  'Cancelled',
]

export interface StageLog {
  created: string
  logLevel: string
  message: string
}

export interface Stage {
  id: number
  pipelineId: number
  spanId: string
  name: string
  stageHandlerName: string
  description?: string | null
  status: StageStatus
  createdAt: string
  startedAt?: string | null
  finishedAt?: string | null
  input?: string | null
  output?: string | null
  isSkipped?: boolean
  isEvent: boolean
  nextStageId?: number | null
  attempt: number
  waitReason?: string | null
  options?: Record<string, unknown> | null
  logs?: StageLog[] | null
}

export interface ContextItem {
  key: string
  value: string
  valueType?: string
}

export interface Keyword {
  key: string
  value: string
}

export interface Pipeline {
  id: number
  name: string
  traceId: string
  status: PipelineStatus
  createdAt: string
  startedAt?: string | null
  finishedAt?: string | null
  applicationId: number
  stageStatuses: StageStatus[]
  stages: Stage[]
  pipelineContextItems?: ContextItem[] | null
  pipelineKeywords?: Keyword[] | null
  isEvent: boolean
}

export interface Page<T> {
  items: T[]
  totalCount: number
  pageNumber: number
  pageSize: number
}

export interface Me {
  id: number
  email: string
  name: string
  role: string
  applicationIds: number[]
}

export interface Worker {
  id: string
  applicationId: number
  name: string
  instanceId: string
  state: string
  effectiveState: string
  hostName?: string | null
  version?: string | null
  sdkVersion?: string | null
  handlers: string[]
  lastSeen?: string | null
  startedAt?: string | null
  inFlight: number
  processed: number
  failed: number
}

export interface Application {
  id: number
  name: string
  description?: string | null
  createdAt: string
}

export interface ApiKey {
  id: number
  applicationId: number
  name: string
  prefix: string
  createdAt: string
  expiresAt?: string | null
  disabledAt?: string | null
  lastUsedAt?: string | null
  isActive: boolean
}

/** The answer to creating a key: the only time its secret is shown. */
export interface CreatedApiKey extends ApiKey {
  key: string
}

export interface User {
  id: number
  email: string
  name: string
  role: string
  createdAt: string
  disabled: boolean
  disabledAt?: string | null
  applicationIds: number[]
}
