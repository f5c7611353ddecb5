// What the Dashboard's KPI cards show, derived from `/api/stats/summary` only.
import type { StatsSummary } from './types'

export interface WorkerGroups {
  /** starting, ready or draining: alive and taking (or finishing) work */
  online: number
  /** degraded or error: alive but reporting trouble */
  degraded: number
  /** offline (not seen within the offline window) or stopped */
  offline: number
  total: number
}

const ONLINE = ['starting', 'ready', 'draining']
const DEGRADED = ['degraded', 'error']
const OFFLINE = ['offline', 'stopped']

const sum = (counts: Record<string, number>, names: string[]) =>
  names.reduce((n, name) => n + (counts[name] ?? 0), 0)

/** Worker states folded into online / degraded / offline; an unknown state counts as degraded. */
export function workerGroups(byState: Record<string, number>): WorkerGroups {
  const known = new Set([...ONLINE, ...DEGRADED, ...OFFLINE])
  const unknown = Object.entries(byState)
    .filter(([name]) => !known.has(name))
    .reduce((n, [, v]) => n + v, 0)
  const online = sum(byState, ONLINE)
  const degraded = sum(byState, DEGRADED) + unknown
  const offline = sum(byState, OFFLINE)
  return { online, degraded, offline, total: online + degraded + offline }
}

export interface Kpis {
  created: number
  running: number
  completed: number
  failed: number
  cancelled: number
  notStarted: number
  finished: number
  finishedFailed: number
  /** 0..1 of the pipelines finished in the range, or null when none finished */
  failureRate: number | null
  workers: WorkerGroups
  inFlight: number
  stagesCompleted: number
  throughputPerMinute: number
}

export function deriveKpis(s: StatsSummary): Kpis {
  const by = s.pipelinesByStatus
  return {
    created: s.pipelinesCreated,
    running: by.Running ?? 0,
    completed: by.Completed ?? 0,
    failed: by.Failed ?? 0,
    cancelled: by.Cancelled ?? 0,
    notStarted: by.NotStarted ?? 0,
    finished: s.pipelinesFinished,
    finishedFailed: s.pipelinesFailed,
    failureRate: s.pipelinesFinished > 0 ? s.failureRate : null,
    workers: workerGroups(s.workersByState),
    inFlight: s.inFlightStages,
    stagesCompleted: s.stagesCompleted,
    throughputPerMinute: s.throughputPerMinute,
  }
}

function trim(n: number): string {
  const digits = n >= 100 ? 0 : n >= 10 ? 1 : 2
  return String(Number(n.toFixed(digits)))
}

/** Stages per minute, or per hour when under 0.1 a minute ("0 /min" only when nothing ran). */
export function formatThroughput(perMinute: number): string {
  if (!Number.isFinite(perMinute) || perMinute <= 0) return '0 /min'
  if (perMinute >= 0.1) return `${trim(perMinute)} /min`
  const perHour = perMinute * 60
  return perHour >= 0.01 ? `${trim(perHour)} /h` : '< 0.01 /h'
}

export function formatPercent(rate: number | null): string {
  if (rate === null || !Number.isFinite(rate)) return '—'
  const pct = rate * 100
  if (pct > 0 && pct < 0.1) return '< 0.1%'
  return `${Number(pct.toFixed(pct < 10 ? 1 : 0))}%`
}
