import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { useLiveUpdates } from '../../lib/live'
import type { Pipeline } from '../../lib/types'
import { ActivityFeed } from './ActivityFeed'

class FakeSocket {
  static last: FakeSocket | null = null
  onopen: (() => void) | null = null
  onmessage: ((e: { data: string }) => void) | null = null
  onclose: ((e: { code: number }) => void) | null = null
  constructor(readonly url: string) {
    FakeSocket.last = this
  }
  close() {}
  send(pipeline: Pipeline) {
    this.onmessage?.({ data: JSON.stringify({ type: 'pipeline', pipeline }) })
  }
}

function Live() {
  useLiveUpdates()
  return <ActivityFeed />
}

const frame = (status: Pipeline['status'], stage: Pipeline['stages'][number]['status']): Pipeline => ({
  id: 9,
  name: 'demo-order-9',
  traceId: 'a'.repeat(32),
  status,
  createdAt: '2026-01-01T00:00:00Z',
  applicationId: 1,
  stageStatuses: [stage],
  stages: [
    { id: 1, pipelineId: 9, spanId: 'b'.repeat(16), name: 'fetch', stageHandlerName: 'demo.fetch', status: stage, createdAt: '2026-01-01T00:00:00Z', isEvent: false, attempt: 1 },
  ],
  isEvent: false,
})

beforeEach(() => vi.stubGlobal('WebSocket', FakeSocket))
afterEach(() => {
  cleanup()
  vi.unstubAllGlobals()
})

describe('the live activity feed', () => {
  it('shows what each /ws frame changed, newest first, and filters to notable lines', () => {
    render(
      <QueryClientProvider client={new QueryClient()}>
        <MemoryRouter>
          <Live />
        </MemoryRouter>
      </QueryClientProvider>,
    )
    expect(screen.getByTestId('activity-empty')).toBeTruthy()
    const socket = FakeSocket.last!
    act(() => {
      socket.send(frame('NotStarted', 'NotStarted'))
      socket.send(frame('Running', 'Pending'))
      socket.send(frame('Running', 'Pending')) // a repeat says nothing
      socket.send(frame('Failed', 'Failed'))
    })
    const lines = () => screen.getAllByTestId('activity-item').map((li) => li.textContent)
    expect(lines()).toEqual([
      expect.stringContaining('demo-order-9 — pipeline failed'),
      expect.stringContaining('stage fetch: Pending'),
      expect.stringContaining('pipeline started (1 stage)'),
    ])
    expect(screen.getAllByRole('link')[0]!.getAttribute('href')).toBe('/pipelines/9')

    fireEvent.click(screen.getByRole('radio', { name: 'Notable' }))
    expect(screen.getAllByTestId('activity-item')).toHaveLength(2)
    fireEvent.click(screen.getByRole('button', { name: 'Clear' }))
    expect(screen.getByTestId('activity-empty')).toBeTruthy()
  })
})
