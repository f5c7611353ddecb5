import { describe, expect, it } from 'vitest'
import type { Pipeline, Stage, StageStatus } from '../../lib/types'
import { EMPTY_ACTIVITY, describeChange, isNotable, pushFrame, type ActivityState } from './activity'

function stage(id: number, name: string, status: StageStatus, attempt = 1, waitReason?: string): Stage {
  return {
    id,
    pipelineId: 7,
    spanId: 'b'.repeat(16),
    name,
    stageHandlerName: `demo.${name}`,
    status,
    createdAt: '2026-01-01T00:00:00Z',
    isEvent: false,
    attempt,
    waitReason,
  }
}

function pipeline(status: Pipeline['status'], stages: Stage[]): Pipeline {
  return {
    id: 7,
    name: 'demo-order-7',
    traceId: 'a'.repeat(32),
    status,
    createdAt: '2026-01-01T00:00:00Z',
    applicationId: 1,
    stageStatuses: stages.map((s) => s.status),
    stages,
    isEvent: false,
  }
}

// the frames /ws sends for one demo pipeline, in order
const created = pipeline('NotStarted', [stage(1, 'fetch', 'NotStarted'), stage(2, 'notify', 'NotStarted')])
const dispatched = pipeline('Running', [stage(1, 'fetch', 'Pending'), stage(2, 'notify', 'NotStarted')])
const running = pipeline('Running', [stage(1, 'fetch', 'Running'), stage(2, 'notify', 'NotStarted')])
const retry = pipeline('Running', [stage(1, 'fetch', 'RetryScheduled', 1), stage(2, 'notify', 'NotStarted')])
const again = pipeline('Running', [stage(1, 'fetch', 'Running', 2), stage(2, 'notify', 'NotStarted')])
const next = pipeline('Running', [stage(1, 'fetch', 'Completed', 2), stage(2, 'notify', 'Pending')])
const waiting = pipeline('Running', [stage(1, 'fetch', 'Completed', 2), stage(2, 'notify', 'Pending', 1, 'rate limited')])
const done = pipeline('Completed', [stage(1, 'fetch', 'Completed', 2), stage(2, 'notify', 'Completed')])

describe('describeChange', () => {
  it('tells each step of a pipeline', () => {
    expect(describeChange(undefined, created)).toEqual({ scope: 'pipeline', status: 'NotStarted', text: 'pipeline started (2 stages)' })
    expect(describeChange(created, dispatched)).toEqual({ scope: 'stage', status: 'Pending', text: 'stage fetch: Pending' })
    expect(describeChange(dispatched, running)?.text).toBe('stage fetch: Running')
    expect(describeChange(running, retry)).toMatchObject({ status: 'RetryScheduled', text: 'stage fetch: Retry scheduled' })
    expect(describeChange(retry, again)?.text).toBe('stage fetch: Running (attempt 2)')
    // one completes and the next is dispatched in one frame: the furthest along
    expect(describeChange(again, next)?.text).toBe('stage notify: Pending')
    expect(describeChange(next, waiting)?.text).toBe('stage notify: Pending — rate limited')
    expect(describeChange(waiting, done)).toEqual({ scope: 'pipeline', status: 'Completed', text: 'pipeline completed' })
  })

  it('a repeated frame says nothing', () => {
    expect(describeChange(running, { ...running })).toBeNull()
  })

  it('the first frame seen of a pipeline already under way names its current stage', () => {
    expect(describeChange(undefined, running)?.text).toBe('stage fetch: Running')
    expect(describeChange(undefined, dispatched)?.text).toBe('pipeline started (2 stages)')
    expect(describeChange(undefined, done)?.text).toBe('pipeline completed')
    expect(describeChange(undefined, pipeline('Failed', [stage(1, 'fetch', 'Failed')]))?.status).toBe('Failed')
  })
})

describe('the feed', () => {
  it('keeps the newest first, skips repeats and is bounded', () => {
    let s: ActivityState = EMPTY_ACTIVITY
    for (const [i, f] of [created, dispatched, dispatched, running, done].entries()) s = pushFrame(s, f, 1000 + i)
    expect(s.items.map((i) => i.text)).toEqual([
      'pipeline completed',
      'stage fetch: Running',
      'stage fetch: Pending',
      'pipeline started (2 stages)',
    ])
    expect(s.items[0]).toMatchObject({ pipelineId: 7, pipelineName: 'demo-order-7', tone: 'success', at: 1004 })
    expect(new Set(s.items.map((i) => i.key)).size).toBe(4)

    let many = EMPTY_ACTIVITY
    for (let i = 0; i < 30; i++) many = pushFrame(many, { ...created, id: i }, i, 10)
    expect(many.items).toHaveLength(10)
    expect(many.items[0]!.pipelineId).toBe(29)
  })

  it('does not mutate the previous state', () => {
    const before = pushFrame(EMPTY_ACTIVITY, created, 1)
    const after = pushFrame(before, dispatched, 2)
    expect(before.items).toHaveLength(1)
    expect(before.last.get(7)).toBe(created)
    expect(after.last.get(7)).toBe(dispatched)
    expect(EMPTY_ACTIVITY.items).toHaveLength(0)
  })

  it('"notable" keeps pipeline lines and stage trouble', () => {
    expect(isNotable({ scope: 'pipeline', status: 'Completed' })).toBe(true)
    expect(isNotable({ scope: 'stage', status: 'Failed' })).toBe(true)
    expect(isNotable({ scope: 'stage', status: 'RetryScheduled' })).toBe(true)
    expect(isNotable({ scope: 'stage', status: 'Running' })).toBe(false)
  })
})
