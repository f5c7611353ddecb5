import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ToastProvider } from '../toast'
import { EMPTY_TARGETING } from './model'
import { PolicyWizard } from './PolicyWizard'

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

/** The server as the wizard sees it; `create` answers the POST. */
function mockServer(create: (body: Record<string, unknown>) => Response) {
  const posted: Record<string, unknown>[] = []
  const fetchMock = vi.fn((input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input)
    if (url === '/api/auth/me') return Promise.resolve(json({ id: 1, email: 'a@x', name: 'A', role: 'Admin', applicationIds: [2] }))
    if (url === '/api/applications') return Promise.resolve(json([{ id: 2, name: 'demo', createdAt: '2026-01-01T00:00:00Z' }]))
    if (url.startsWith('/api/policies/targets')) {
      return Promise.resolve(json({ pipelines: ['p'], stages: ['fetch'], handlers: ['demo.fetch'], tags: [], environments: ['all'] }))
    }
    if (url === '/api/policies/preview') {
      const body = JSON.parse(String(init?.body)) as { targeting: unknown }
      return Promise.resolve(
        json({ targeting: body.targeting, scannedPipelines: 1, matchedPipelines: 1, matchedStages: 1, handlers: ['demo.fetch'], pipelines: [] }),
      )
    }
    if (url === '/api/policies' && init?.method === 'POST') {
      const body = JSON.parse(String(init.body)) as Record<string, unknown>
      posted.push(body)
      return Promise.resolve(create(body))
    }
    return Promise.resolve(json({ error: { code: 'not_found', message: `unexpected ${url}` } }, 404))
  })
  vi.stubGlobal('fetch', fetchMock)
  return posted
}

function renderWizard(onClose = vi.fn()) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } })
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter>
        <ToastProvider>
          <PolicyWizard mode={{ kind: 'create' }} onClose={onClose} />
        </ToastProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  )
  return onClose
}

const input = (name: string) => document.querySelector<HTMLInputElement>(`[data-testid="policy-wizard"] [name="${name}"]`)!
const next = () => fireEvent.click(screen.getByTestId('wizard-next'))
const onStep = (n: number) => waitFor(() => expect(screen.getByTestId(`wizard-step-${n}`).getAttribute('aria-current')).toBe('step'))

async function fillToReview() {
  await waitFor(() => expect(input('policyApplication').value).toBe('2'))
  fireEvent.change(input('policyName'), { target: { value: ' fetch limit ' } })
  next()
  await onStep(2)
  fireEvent.change(input('limit'), { target: { value: '10' } })
  fireEvent.change(input('windowSeconds'), { target: { value: '0' } })
  next()
  // checked before leaving the step, in the server's words
  expect(await screen.findByText('Window: must be greater than 0')).toBeTruthy()
  await onStep(2)
  fireEvent.change(input('windowSeconds'), { target: { value: '60' } })
  fireEvent.change(input('keyBy'), { target: { value: 'handler' } })
  next()
  await onStep(3)
  fireEvent.change(input('handlers'), { target: { value: 'demo.fetch' } })
  fireEvent.keyDown(input('handlers'), { key: 'Enter' })
  await screen.findByText('demo.fetch', { selector: '[data-testid="tag-chip"]' })
  await waitFor(() => expect(screen.getByTestId('targeting-preview').getAttribute('data-current')).toBe('true'))
  next()
  await onStep(4)
}

afterEach(() => {
  cleanup()
  vi.unstubAllGlobals()
})

describe('the policy wizard', () => {
  it('creates a rate_limit policy from the steps', async () => {
    const posted = mockServer((body) => json({ id: 5, ...body, status: 'active', version: 1, targeting: body.targeting }, 201))
    const onClose = renderWizard()
    await fillToReview()
    expect(screen.getByTestId('policy-review-json').textContent).toContain('"demo.fetch"')
    fireEvent.click(screen.getByTestId('wizard-submit'))
    await waitFor(() => expect(onClose).toHaveBeenCalled())
    expect(posted).toEqual([
      {
        name: 'fetch limit',
        type: 'rate_limit',
        rule: { limit: 10, windowSeconds: 60, keyBy: 'handler' },
        targeting: { ...EMPTY_TARGETING, handlers: ['demo.fetch'] },
        applicationId: 2,
        status: 'active',
      },
    ])
    expect(await screen.findByText('Policy "fetch limit" created')).toBeTruthy()
  })

  it('shows a 400 on the field it names, on that step', async () => {
    mockServer(() => json({ error: { code: 'bad_request', message: 'rule.limit: must be greater than 0' } }, 400))
    const onClose = renderWizard()
    await fillToReview()
    fireEvent.click(screen.getByTestId('wizard-submit'))
    await onStep(2)
    expect(await screen.findByText('Limit: must be greater than 0')).toBeTruthy()
    expect(screen.getByTestId('wizard-server-error').textContent).toContain('rule.limit: must be greater than 0')
    expect(await screen.findByText('Could not create the policy')).toBeTruthy()
    expect(onClose).not.toHaveBeenCalled()
    // editing the field clears the server's complaint
    fireEvent.change(input('limit'), { target: { value: '11' } })
    expect(screen.queryByText('Limit: must be greater than 0')).toBeNull()
  })
})
