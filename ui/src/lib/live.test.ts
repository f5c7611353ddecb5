import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'
import { EMPTY_FILTERS } from './filters'
import { applyPipeline, backoff, mergeDetail, parseFrame } from './live'
import { keys } from './queries'
import type { Page, Pipeline } from './types'

function pipeline(id: number, status: Pipeline['status'] = 'Running'): Pipeline {
  return {
    id,
    name: `p-${id}`,
    traceId: 'a'.repeat(32),
    status,
    createdAt: '2026-01-01T00:00:00Z',
    applicationId: 1,
    stageStatuses: [status === 'Completed' ? 'Completed' : 'Running'],
    stages: [],
    isEvent: false,
  }
}

function page(items: Pipeline[], pageNumber = 1): Page<Pipeline> {
  return { items, totalCount: 100, pageNumber, pageSize: items.length }
}

describe('WebSocket frames → query cache', () => {
  it('a frame patches the row in every cached list holding it, and the detail', () => {
    const client = new QueryClient()
    const first = { ...EMPTY_FILTERS }
    const failed = { ...EMPTY_FILTERS, statuses: ['Running' as const] }
    const other = { ...EMPTY_FILTERS, page: 2 }
    client.setQueryData(keys.pipelineList(first), page([pipeline(3), pipeline(2), pipeline(1)]))
    client.setQueryData(keys.pipelineList(failed), page([pipeline(2)]))
    client.setQueryData(keys.pipelineList(other), page([pipeline(9)], 2))
    client.setQueryData(keys.pipeline(2), pipeline(2))

    const done = { ...pipeline(2, 'Completed'), finishedAt: '2026-01-01T00:00:05Z' }
    expect(applyPipeline(client, done)).toEqual({ listed: true, detailed: true })

    const a = client.getQueryData<Page<Pipeline>>(keys.pipelineList(first))!
    expect(a.items.map((p) => [p.id, p.status])).toEqual([
      [3, 'Running'],
      [2, 'Completed'],
      [1, 'Running'],
    ])
    expect(a.totalCount).toBe(100) // the page keeps its place
    expect(client.getQueryData<Page<Pipeline>>(keys.pipelineList(failed))!.items[0]!.status).toBe('Completed')
    expect(client.getQueryData<Page<Pipeline>>(keys.pipelineList(other))!.items[0]!.id).toBe(9)
    expect(client.getQueryData<Pipeline>(keys.pipeline(2))!.finishedAt).toBe('2026-01-01T00:00:05Z')
  })

  it('a pipeline no list holds is reported as new and creates no detail entry', () => {
    const client = new QueryClient()
    client.setQueryData(keys.pipelineList(EMPTY_FILTERS), page([pipeline(1)]))
    expect(applyPipeline(client, pipeline(77))).toEqual({ listed: false, detailed: false })
    expect(client.getQueryData(keys.pipeline(77))).toBeUndefined()
    expect(client.getQueryData<Page<Pipeline>>(keys.pipelineList(EMPTY_FILTERS))!.items).toHaveLength(1)
  })

  it('a frame without logs keeps the logs the detail shows', () => {
    const stage = (logs?: Pipeline['stages'][number]['logs']) => ({
      id: 10, pipelineId: 2, spanId: 'b'.repeat(16), name: 's', stageHandlerName: 'h',
      status: 'Running' as const, createdAt: '2026-01-01T00:00:00Z', isEvent: false, attempt: 1,
      ...(logs ? { logs } : {}),
    })
    const line = { created: '2026-01-01T00:00:01Z', logLevel: 'Information', message: 'started' }
    const old = { ...pipeline(2), stages: [stage([line])] }
    const next = { ...pipeline(2, 'Completed'), stages: [{ ...stage(), status: 'Completed' as const }] }
    const merged = mergeDetail(old, next)
    expect(merged.status).toBe('Completed')
    expect(merged.stages[0]!.status).toBe('Completed')
    expect(merged.stages[0]!.logs).toEqual([line])
    const client = new QueryClient()
    client.setQueryData(keys.pipeline(2), old)
    applyPipeline(client, next)
    expect(client.getQueryData<Pipeline>(keys.pipeline(2))!.stages[0]!.logs).toEqual([line])
  })

  it('parses only pipeline frames', () => {
    expect(parseFrame(JSON.stringify({ type: 'pipeline', pipeline: pipeline(5) }))?.pipeline.id).toBe(5)
    expect(parseFrame('not json')).toBeNull()
    expect(parseFrame(JSON.stringify({ type: 'ping' }))).toBeNull()
    expect(parseFrame(new ArrayBuffer(2))).toBeNull()
  })

  it('reconnects with a growing, capped backoff that resets', () => {
    const b = backoff(500, 4000, () => 0.5)
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([500, 1000, 2000, 4000, 4000])
    b.reset()
    expect(b.next()).toBe(500)
  })
})
