import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ToastProvider } from '../toast'
import { ConfigureDialog } from './ConfigureDialog'
import type { IntegrationConfig } from './types'

afterEach(() => {
  cleanup()
  vi.unstubAllGlobals()
})

function setup(integration: IntegrationConfig, answer: () => Response) {
  const fetch = vi.fn(async () => answer())
  vi.stubGlobal('fetch', fetch)
  const onSaved = vi.fn()
  render(
    <QueryClientProvider client={new QueryClient()}>
      <ToastProvider>
        <ConfigureDialog integration={integration} trigger={<button>Configure</button>} onSaved={onSaved} />
      </ToastProvider>
    </QueryClientProvider>,
  )
  fireEvent.click(screen.getByText('Configure'))
  return { fetch, onSaved }
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })

describe('the configure dialog', () => {
  it('sends the alerting form as the PUT body', async () => {
    const { fetch, onSaved } = setup({ kind: 'alerting', configured: false, config: null, updatedAt: null }, () =>
      json(200, { kind: 'alerting', configured: true, config: {}, updatedAt: '2026-01-01T00:00:00Z' }),
    )
    fireEvent.click(screen.getByLabelText('Enabled'))
    fireEvent.change(screen.getByRole('textbox', { name: /Webhook URL/ }), { target: { value: 'http://127.0.0.1:9/hook' } })
    fireEvent.click(screen.getByLabelText('stage.failed'))
    fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    await waitFor(() => expect(onSaved).toHaveBeenCalled())
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/observability/config')
    expect(init.method).toBe('PUT')
    expect(JSON.parse(init.body as string)).toEqual({
      kind: 'alerting',
      config: {
        enabled: true,
        webhookUrl: 'http://127.0.0.1:9/hook',
        channel: 'webhook',
        events: ['pipeline.failed', 'stage.failed', 'worker.offline'],
      },
    })
  })

  it('stops on a client check without calling the server', () => {
    const { fetch } = setup({ kind: 'alerting', configured: false, config: null, updatedAt: null }, () => json(200, {}))
    fireEvent.click(screen.getByLabelText('Enabled'))
    fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    expect(screen.getByTestId('field-error').textContent).toBe('required when enabled')
    expect(fetch).not.toHaveBeenCalled()
  })

  it("shows the server's refusal in the dialog", async () => {
    const { onSaved } = setup(
      { kind: 'logs', configured: false, config: null, updatedAt: null },
      () => json(400, { error: { code: 'bad_request', message: 'logs.traceLinkTemplate: nope' } }),
    )
    fireEvent.change(screen.getByRole('textbox', { name: /Trace link template/ }), { target: { value: 'https://j.example/{traceId}' } })
    fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    expect((await screen.findByRole('alert')).textContent).toBe('logs.traceLinkTemplate: nope')
    expect(onSaved).not.toHaveBeenCalled()
  })
})
