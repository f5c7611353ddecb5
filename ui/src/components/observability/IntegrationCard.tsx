import { useQueryClient } from '@tanstack/react-query'
import { useState, type ReactNode } from 'react'
import { api, errorMessage } from '../../lib/api'
import { relative, formatTime } from '../../lib/format'
import { useToast } from '../toast'
import { ConfigureDialog } from './ConfigureDialog'
import { INTEGRATION_INFO } from './info'
import { obsKeys } from './queries'
import type { IntegrationConfig, IntegrationStatus, TestResult } from './types'

interface Props {
  integration: IntegrationConfig
  status: IntegrationStatus | undefined
  isAdmin: boolean
}

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="flex gap-2 text-xs">
      <span className="w-20 shrink-0 text-slate-500">{label}</span>
      <span className="min-w-0 break-all">{children}</span>
    </div>
  )
}

const s = (v: unknown) => (typeof v === 'string' && v ? v : undefined)

function Summary({ integration }: { integration: IntegrationConfig }) {
  const c = integration.config
  if (!c) return <p className="text-xs text-slate-500">Not configured yet.</p>
  switch (integration.kind) {
    case 'opentelemetry': {
      const headers = c.headers && typeof c.headers === 'object' ? Object.keys(c.headers) : []
      return (
        <>
          <Row label="Endpoint">{s(c.endpoint) ?? '—'}</Row>
          {s(c.serviceName) && <Row label="Service">{s(c.serviceName)}</Row>}
          {headers.length > 0 && <Row label="Headers">{headers.join(', ')}</Row>}
        </>
      )
    }
    case 'alerting':
      return (
        <>
          <Row label="Webhook">{s(c.webhookUrl) ?? '—'}</Row>
          <Row label="Channel">{s(c.channel) ?? 'webhook'}</Row>
          <Row label="Events">{Array.isArray(c.events) && c.events.length ? c.events.join(', ') : 'none'}</Row>
          <Row label="Signed">{s(c.secret) ? 'yes (secret set)' : 'no'}</Row>
        </>
      )
    case 'grafana': {
      const base = s(c.baseUrl)
      const uid = s(c.dashboardUid)
      return (
        <>
          <Row label="URL">{base ?? '—'}</Row>
          {uid && (
            <Row label="Dashboard">
              {base ? (
                <a href={`${base.replace(/\/$/, '')}/d/${encodeURIComponent(uid)}`} target="_blank" rel="noreferrer" className="text-blue-600 hover:underline dark:text-blue-400">
                  {uid} ↗
                </a>
              ) : (
                uid
              )}
            </Row>
          )}
          <Row label="Token">{s(c.apiToken) ? 'set' : 'none'}</Row>
        </>
      )
    }
    case 'logs':
      return (
        <>
          <Row label="Trace link">{s(c.traceLinkTemplate) ?? '—'}</Row>
          <Row label="Logs link">{s(c.logsLinkTemplate) ?? '—'}</Row>
        </>
      )
  }
}

export function TestResultLine({ result }: { result: TestResult }) {
  return (
    <div
      data-testid="test-result"
      data-ok={result.ok}
      className={`rounded px-2 py-1 text-xs ${
        result.ok
          ? 'bg-green-50 text-green-800 dark:bg-green-950 dark:text-green-200'
          : 'bg-red-50 text-red-800 dark:bg-red-950 dark:text-red-200'
      }`}
    >
      <span className="font-semibold">{result.ok ? '✓ Connection OK' : '✗ Connection failed'}</span>
      {result.status !== undefined && result.ok && <span> · HTTP {result.status}</span>}
      {result.error && <span> · {result.error}</span>}
      <span> · {result.elapsedMs} ms</span>
      {result.testedAt && (
        <span className="opacity-75" title={formatTime(result.testedAt)}>
          {' '}
          · {relative(result.testedAt)}
        </span>
      )}
    </div>
  )
}

function statePill(integration: IntegrationConfig, status: IntegrationStatus | undefined): [string, string] {
  if (!integration.configured) return ['Not configured', 'bg-slate-100 text-slate-600 dark:bg-slate-800 dark:text-slate-300']
  if (status?.enabled) return [integration.kind === 'logs' ? 'Active' : 'Enabled', 'bg-green-100 text-green-800 dark:bg-green-950 dark:text-green-300']
  return ['Disabled', 'bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300']
}

export function IntegrationCard({ integration, status, isAdmin }: Props) {
  const info = INTEGRATION_INFO[integration.kind]
  const client = useQueryClient()
  const toast = useToast()
  const [testing, setTesting] = useState(false)
  const [pill, pillClass] = statePill(integration, status)
  const testable = status?.testable ?? integration.kind !== 'logs'

  const runTest = async () => {
    setTesting(true)
    try {
      const result = await api<TestResult>('/api/observability/test', { method: 'POST', body: { kind: integration.kind } })
      toast(
        result.ok
          ? { title: `${info.title}: connection OK`, description: `Answered${result.status ? ` HTTP ${result.status}` : ''} in ${result.elapsedMs} ms.` }
          : { title: `${info.title}: connection failed`, description: result.error ?? 'no answer', variant: 'error' },
      )
    } catch (err) {
      toast({ title: `Could not test ${info.title}`, description: errorMessage(err), variant: 'error' })
    } finally {
      setTesting(false)
      await client.invalidateQueries({ queryKey: obsKeys.status })
    }
  }

  return (
    <div className="card flex flex-col gap-3" data-testid="integration-card" data-kind={integration.kind} data-configured={integration.configured}>
      <div className="flex items-start gap-2">
        <div className="min-w-0">
          <h3 className="font-semibold">{info.title}</h3>
          <p className="text-xs text-slate-500">{info.description}</p>
        </div>
        <span className={`ml-auto shrink-0 rounded-full px-2 py-0.5 text-xs font-medium ${pillClass}`} data-testid="integration-state">
          {pill}
        </span>
      </div>
      <div className="space-y-1">
        <Summary integration={integration} />
        {integration.updatedAt && (
          <Row label="Saved">
            <span title={formatTime(integration.updatedAt)}>{relative(integration.updatedAt)}</span>
          </Row>
        )}
      </div>
      {testable && status?.lastTest && <TestResultLine result={status.lastTest} />}
      <div className="mt-auto flex flex-wrap gap-2">
        {isAdmin ? (
          <>
            <ConfigureDialog
              integration={integration}
              trigger={
                <button className="btn btn-sm" data-testid="configure">
                  Configure
                </button>
              }
            />
            {testable && (
              <button
                className="btn btn-sm"
                data-testid="test-connection"
                disabled={!integration.configured || testing}
                title={integration.configured ? 'Send one real request to the integration' : 'Save a config first'}
                onClick={() => void runTest()}
              >
                {testing ? 'Testing…' : 'Test connection'}
              </button>
            )}
          </>
        ) : (
          <span className="text-xs text-slate-500">Only an Admin can change or test integrations.</span>
        )}
      </div>
    </div>
  )
}
