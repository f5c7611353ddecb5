import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { act, cleanup, renderHook, screen, waitFor } from '@testing-library/react'
import type { ReactNode } from 'react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ToastProvider } from '../toast'
import type { Page } from '../../lib/types'
import { fetchPolicyKpis, kpisFrom, policyKeys, previewBody, useDebounced, usePolicyActions, usePolicyPreview } from './hooks'
import { EMPTY_TARGETING, type Policy } from './model'

function policy(over: Partial<Policy> = {}): Policy {
  return {
    id: 7,
    applicationId: 2,
    name: 'fetch limit',
    type: 'rate_limit',
    status: 'active',
    rule: { limit: 10, windowSeconds: 60, keyBy: 'handler' },
    targeting: { ...EMPTY_TARGETING, handlers: ['demo.fetch'] },
    version: 1,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    createdBy: 'a@example.com',
    updatedBy: 'a@example.com',
    triggers24h: 0,
    lastTriggeredAt: null,
    ...over,
  }
}

function page(items: Policy[], totalCount = items.length): Page<Policy> {
  return { items, totalCount, pageNumber: 1, pageSize: 200 }
}

function json(body: unknown, status = 200): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

type Route = (url: string, init: RequestInit) => Response
let fetchMock: ReturnType<typeof vi.fn>

function mockFetch(route: Route) {
  fetchMock = vi.fn((input: RequestInfo | URL, init?: RequestInit) => Promise.resolve(route(String(input), init ?? {})))
  vi.stubGlobal('fetch', fetchMock)
}

function wrapper(client: QueryClient) {
  return ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>
      <ToastProvider>{children}</ToastProvider>
    </QueryClientProvider>
  )
}

beforeEach(() => {
  vi.useRealTimers()
})

afterEach(() => {
  cleanup()
  vi.unstubAllGlobals()
})

describe('KPIs', () => {
  it('sums triggers and picks the most triggered policy', () => {
    const k = kpisFrom(
      page([policy({ id: 1, name: 'a', triggers24h: 3 }), policy({ id: 2, name: 'b', triggers24h: 9 }), policy({ id: 3, name: 'c' })], 250),
      { active: 200, paused: 30, disabled: 20 },
    )
    expect(k).toEqual({
      total: 250,
      byStatus: { active: 200, paused: 30, disabled: 20 },
      triggers24h: 12,
      triggeredPolicies: 2,
      top: { id: 2, name: 'b', triggers24h: 9 },
      covered: 3,
    })
    expect(kpisFrom(page([policy()]), { active: 1, paused: 0, disabled: 0 }).top).toBeNull()
  })

  it('reads one list page and one count per status', async () => {
    mockFetch((url) => {
      const q = new URL(url, 'http://x').searchParams
      const status = q.get('status')
      if (status) return json(page([], { active: 4, paused: 1, disabled: 2 }[status] ?? 0))
      return json(page([policy({ triggers24h: 5 })], 7))
    })
    const k = await fetchPolicyKpis()
    expect(fetchMock.mock.calls.map((c) => String(c[0])).sort()).toEqual([
      '/api/policies?pageSize=200',
      '/api/policies?status=active&pageSize=1',
      '/api/policies?status=disabled&pageSize=1',
      '/api/policies?status=paused&pageSize=1',
    ])
    expect(k).toMatchObject({ total: 7, byStatus: { active: 4, paused: 1, disabled: 2 }, triggers24h: 5, triggeredPolicies: 1 })
  })
})

describe('usePolicyActions', () => {
  it('pauses: POSTs, toasts, updates the detail and refreshes the lists', async () => {
    const paused = policy({ status: 'paused', version: 2 })
    mockFetch(() => json(paused))
    const client = new QueryClient()
    client.setQueryData(policyKeys.detail(7), policy())
    client.setQueryData([...policyKeys.lists, { page: 1 }], page([policy()]))
    const { result } = renderHook(() => usePolicyActions(), { wrapper: wrapper(client) })

    let outcome: Awaited<ReturnType<typeof result.current>> | undefined
    await act(async () => {
      outcome = await result.current('pause', policy())
    })
    expect(outcome).toEqual({ ok: true, policy: paused })
    expect(fetchMock).toHaveBeenCalledWith('/api/policies/7/pause', expect.objectContaining({ method: 'POST' }))
    expect(client.getQueryData<Policy>(policyKeys.detail(7))?.status).toBe('paused')
    expect(client.getQueryState([...policyKeys.lists, { page: 1 }])?.isInvalidated).toBe(true)
    expect(await screen.findByText('Policy "fetch limit" paused')).toBeTruthy()
  })

  it('deletes with DELETE and drops the detail', async () => {
    mockFetch(() => json(null, 204))
    const client = new QueryClient()
    client.setQueryData(policyKeys.detail(7), policy())
    const { result } = renderHook(() => usePolicyActions(), { wrapper: wrapper(client) })
    await act(async () => {
      expect(await result.current('delete', policy())).toEqual({ ok: true, policy: null })
    })
    expect(fetchMock).toHaveBeenCalledWith('/api/policies/7', expect.objectContaining({ method: 'DELETE' }))
    expect(client.getQueryData(policyKeys.detail(7))).toBeUndefined()
    expect(await screen.findByText('Policy "fetch limit" deleted')).toBeTruthy()
  })

  it('a refusal is reported with the server’s message and changes nothing', async () => {
    mockFetch(() => json({ error: { code: 'conflict', message: 'policy is already paused' } }, 409))
    const client = new QueryClient()
    client.setQueryData(policyKeys.detail(7), policy())
    const { result } = renderHook(() => usePolicyActions(), { wrapper: wrapper(client) })
    await act(async () => {
      const r = await result.current('pause', policy())
      expect(r.ok).toBe(false)
    })
    expect(client.getQueryData<Policy>(policyKeys.detail(7))?.status).toBe('active')
    expect(await screen.findByText('Could not pause policy "fetch limit"')).toBeTruthy()
    expect(await screen.findByText('policy is already paused')).toBeTruthy()
  })

  it('duplicate names the copy', async () => {
    mockFetch(() => json(policy({ id: 8, name: 'fetch limit (copy)', status: 'disabled' }), 201))
    const client = new QueryClient()
    const { result } = renderHook(() => usePolicyActions(), { wrapper: wrapper(client) })
    await act(async () => {
      const r = await result.current('duplicate', policy())
      expect(r).toMatchObject({ ok: true, policy: { id: 8 } })
    })
    expect(fetchMock).toHaveBeenCalledWith('/api/policies/7/duplicate', expect.objectContaining({ method: 'POST' }))
    expect(await screen.findByText('Created "fetch limit (copy)" (disabled).')).toBeTruthy()
  })
})

describe('debounced preview', () => {
  it('useDebounced settles after the delay', () => {
    vi.useFakeTimers()
    const { result, rerender } = renderHook(({ v }) => useDebounced(v, 400), { initialProps: { v: 'a' } })
    rerender({ v: 'b' })
    rerender({ v: 'c' })
    expect(result.current).toBe('a')
    act(() => {
      vi.advanceTimersByTime(399)
    })
    expect(result.current).toBe('a')
    act(() => {
      vi.advanceTimersByTime(1)
    })
    expect(result.current).toBe('c')
    vi.useRealTimers()
  })

  it('previewBody sends the cleaned targeting and the application when one is chosen', () => {
    expect(previewBody({ ...EMPTY_TARGETING, handlers: [' h ', 'H'] }, 2)).toEqual({
      targeting: { ...EMPTY_TARGETING, handlers: ['h'] },
      applicationId: 2,
    })
    expect('applicationId' in previewBody(EMPTY_TARGETING, null)).toBe(false)
  })

  it('asks once the targeting stops changing, and says when the answer is current', async () => {
    const bodies: unknown[] = []
    mockFetch((_url, init) => {
      const body = JSON.parse(String(init.body)) as { targeting: { handlers: string[] } }
      bodies.push(body)
      return json({
        targeting: body.targeting,
        scannedPipelines: 3,
        matchedPipelines: body.targeting.handlers.length ? 1 : 3,
        matchedStages: 1,
        handlers: body.targeting.handlers,
        pipelines: [],
      })
    })
    const client = new QueryClient()
    const { result, rerender } = renderHook(({ t }) => usePolicyPreview(t, 2), {
      wrapper: wrapper(client),
      initialProps: { t: EMPTY_TARGETING },
    })
    await waitFor(() => expect(result.current.current).toBe(true))
    expect(result.current.preview.data?.matchedPipelines).toBe(3)

    rerender({ t: { ...EMPTY_TARGETING, handlers: ['demo'] } })
    rerender({ t: { ...EMPTY_TARGETING, handlers: ['demo.fetch'] } })
    // the earlier answer stays, marked as not current
    expect(result.current.current).toBe(false)
    expect(result.current.preview.data?.matchedPipelines).toBe(3)
    await waitFor(() => expect(result.current.current).toBe(true))
    expect(result.current.preview.data?.matchedPipelines).toBe(1)
    expect(bodies).toEqual([
      { targeting: EMPTY_TARGETING, applicationId: 2 },
      { targeting: { ...EMPTY_TARGETING, handlers: ['demo.fetch'] }, applicationId: 2 },
    ])
  })
})
