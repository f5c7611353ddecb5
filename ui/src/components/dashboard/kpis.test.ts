import { describe, expect, it } from 'vitest'
import { deriveKpis, formatPercent, formatThroughput, workerGroups } from './kpis'
import type { StatsSummary } from './types'

// the answer of GET /api/stats/summary, as the demo gives it
const summary: StatsSummary = {
  range: '24h',
  from: '2026-11-28T02:05:51.943Z',
  to: '2026-11-29T02:05:51.943Z',
  pipelinesByStatus: { NotStarted: 1, Running: 2, Completed: 17, Failed: 3, Cancelled: 1 },
  pipelinesCreated: 24,
  stagesCompleted: 60,
  throughputPerMinute: 60 / 1440,
  pipelinesFinished: 20,
  pipelinesFailed: 3,
  failureRate: 0.15,
  workersByState: { starting: 1, ready: 2, degraded: 1, draining: 1, stopped: 1, error: 1, offline: 2 },
  inFlightStages: 4,
}

describe('KPIs from /api/stats/summary', () => {
  it('takes the pipeline counts, in-flight jobs and throughput as given', () => {
    const k = deriveKpis(summary)
    expect(k).toMatchObject({
      created: 24,
      running: 2,
      completed: 17,
      failed: 3,
      cancelled: 1,
      notStarted: 1,
      finished: 20,
      finishedFailed: 3,
      failureRate: 0.15,
      inFlight: 4,
      stagesCompleted: 60,
    })
  })

  it('has no failure rate when nothing finished (not a misleading 0%)', () => {
    const k = deriveKpis({ ...summary, pipelinesFinished: 0, pipelinesFailed: 0, failureRate: 0 })
    expect(k.failureRate).toBeNull()
    expect(formatPercent(k.failureRate)).toBe('—')
  })

  it('a status missing from the answer counts 0', () => {
    const k = deriveKpis({ ...summary, pipelinesByStatus: { Completed: 1 } })
    expect([k.running, k.failed, k.completed]).toEqual([0, 0, 1])
  })

  it('folds worker states into online / degraded / offline', () => {
    expect(workerGroups(summary.workersByState)).toEqual({ online: 4, degraded: 2, offline: 3, total: 9 })
    expect(workerGroups({})).toEqual({ online: 0, degraded: 0, offline: 0, total: 0 })
    // a state this page does not know is not hidden: it counts as degraded
    expect(workerGroups({ ready: 1, confused: 2 })).toEqual({ online: 1, degraded: 2, offline: 0, total: 3 })
  })
})

describe('formatting', () => {
  it('throughput per minute, or per hour when slow', () => {
    expect(formatThroughput(0)).toBe('0 /min')
    expect(formatThroughput(12.345)).toBe('12.3 /min')
    expect(formatThroughput(250.4)).toBe('250 /min')
    expect(formatThroughput(0.25)).toBe('0.25 /min')
    expect(formatThroughput(60 / 1440)).toBe('2.5 /h')
    expect(formatThroughput(0.0001)).toBe('< 0.01 /h')
    expect(formatThroughput(Number.NaN)).toBe('0 /min')
  })

  it('percentages', () => {
    expect(formatPercent(0)).toBe('0%')
    expect(formatPercent(0.15)).toBe('15%')
    expect(formatPercent(0.0123)).toBe('1.2%')
    expect(formatPercent(0.0004)).toBe('< 0.1%')
    expect(formatPercent(1)).toBe('100%')
  })
})
