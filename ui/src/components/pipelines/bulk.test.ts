import { describe, expect, it } from 'vitest'
import type { Pipeline, Stage, StageStatus } from '../../lib/types'
import {
  bulkOutcome,
  outcomeToast,
  pageSelection,
  planBulk,
  planSummary,
  toggleAllOnPage,
  toggleOne,
} from './bulk'

function stage(id: number, status: StageStatus, name = `s${id}`): Stage {
  return {
    id,
    pipelineId: 0,
    spanId: 'x',
    name,
    stageHandlerName: 'h',
    status,
    createdAt: '2026-01-01T00:00:00Z',
    isEvent: false,
    attempt: 1,
  }
}

function pipeline(id: number, status: Pipeline['status'], stages: Stage[] = []): Pipeline {
  return {
    id,
    name: `p-${id}`,
    traceId: 't',
    status,
    createdAt: '2026-01-01T00:00:00Z',
    applicationId: 1,
    stageStatuses: stages.map((s) => s.status),
    stages,
    isEvent: false,
  }
}

describe('selection', () => {
  it('the header checkbox reflects the page and selects or clears all of it', () => {
    const page = [3, 2, 1]
    expect(pageSelection(new Set(), page)).toBe('none')
    expect(pageSelection(new Set([2, 99]), page)).toBe('some')
    expect(pageSelection(new Set([1, 2, 3]), page)).toBe('all')
    expect(pageSelection(new Set([1]), [])).toBe('none')
    // selecting the page keeps what was selected elsewhere
    expect([...toggleAllOnPage(new Set([2, 99]), page)].sort((a, b) => a - b)).toEqual([1, 2, 3, 99])
    expect([...toggleAllOnPage(new Set([1, 2, 3, 99]), page)]).toEqual([99])
  })

  it('toggles one row without touching the set it was given', () => {
    const s = new Set([1])
    expect([...toggleOne(s, 2)]).toEqual([1, 2])
    expect([...toggleOne(s, 1)]).toEqual([])
    expect([...s]).toEqual([1])
  })
})

describe('bulk plans', () => {
  const running = pipeline(5, 'Running', [stage(51, 'Completed'), stage(52, 'Running')])
  const waiting = pipeline(6, 'NotStarted', [stage(61, 'NotStarted')])
  const done = pipeline(4, 'Completed', [stage(41, 'Completed')])
  const failed = pipeline(7, 'Failed', [stage(71, 'Completed'), stage(72, 'Failed', 'charge'), stage(73, 'NotStarted')])
  const cancelled = pipeline(8, 'Cancelled', [stage(81, 'Failed', 'load'), stage(82, 'Cancelled')])

  it('cancel: only unfinished pipelines, in id order; the rest are left with a reason', () => {
    const plan = planBulk('cancel', [running, done, waiting, failed])
    expect(plan.targets).toEqual([
      { pipelineId: 5, id: 5, what: 'cancel "p-5"' },
      { pipelineId: 6, id: 6, what: 'cancel "p-6"' },
    ])
    expect(plan.skipped).toEqual([
      { pipelineId: 4, reason: 'already completed' },
      { pipelineId: 7, reason: 'already failed' },
    ])
    expect(planSummary(plan)).toBe('2 pipelines will be cancelled. 2 selected pipelines are left as they are.')
  })

  it('rerun failed stage: the failed stage of each pipeline that has one and nothing running', () => {
    const plan = planBulk('rerunFailed', [failed, done, cancelled, running])
    expect(plan.targets).toEqual([
      { pipelineId: 7, id: 72, what: 'rerun stage "charge"' },
      { pipelineId: 8, id: 81, what: 'rerun stage "load"' },
    ])
    expect(plan.skipped).toEqual([
      { pipelineId: 4, reason: 'no failed stage' },
      { pipelineId: 5, reason: 'no failed stage' },
    ])
    const busy = pipeline(9, 'Running', [stage(91, 'Failed'), stage(92, 'Pending')])
    expect(planBulk('rerunFailed', [busy]).skipped).toEqual([{ pipelineId: 9, reason: 'a stage is still running' }])
    expect(planSummary(planBulk('rerunFailed', [failed]))).toBe('The failed stage of 1 pipeline will run again.')
    expect(planSummary(planBulk('rerunFailed', [failed, done]))).toBe(
      'The failed stage of 1 pipeline will run again. 1 selected pipeline is left as it is.',
    )
  })
})

describe('bulk results → toast', () => {
  it('all succeeded', () => {
    const plan = planBulk('cancel', [pipeline(1, 'Running'), pipeline(2, 'Running')])
    const outcome = bulkOutcome(plan, [
      { id: 1, status: 200 },
      { id: 2, status: 200 },
    ])
    expect(outcome.succeeded).toEqual([1, 2])
    expect(outcomeToast('cancel', outcome)).toEqual({ title: 'Cancelled 2 pipelines', description: undefined, variant: 'success' })
  })

  it('counts failures with their reasons, matched back through the stage ids sent', () => {
    const plan = planBulk('rerunFailed', [
      pipeline(7, 'Failed', [stage(72, 'Failed')]),
      pipeline(8, 'Failed', [stage(81, 'Failed')]),
      pipeline(9, 'Failed', [stage(91, 'Failed')]),
      pipeline(3, 'Completed'),
    ])
    const outcome = bulkOutcome(plan, [
      { id: 72, status: 200 },
      { id: 81, status: 409, message: 'stage is Pending; only a finished stage can be rerun' },
    ])
    expect(outcome).toEqual({
      succeeded: [7],
      failed: [
        { pipelineId: 8, reason: 'stage is Pending; only a finished stage can be rerun' },
        { pipelineId: 9, reason: 'no answer' },
      ],
      skipped: [{ pipelineId: 3, reason: 'no failed stage' }],
    })
    expect(outcomeToast('rerunFailed', outcome)).toEqual({
      title: 'Rerun 1 of 3 failed stages; 2 failed',
      description:
        '#8: stage is Pending; only a finished stage can be rerun · #9: no answer · 1 pipeline not sent (1 no failed stage)',
      variant: 'error',
    })
  })

  it('a failure without a message shows its status', () => {
    const plan = planBulk('cancel', [pipeline(1, 'Running')])
    const toast = outcomeToast('cancel', bulkOutcome(plan, [{ id: 1, status: 404 }]))
    expect(toast).toEqual({ title: 'Cancelled 0 of 1 pipeline; 1 failed', description: '#1: HTTP 404', variant: 'error' })
  })
})
