// Integration configs ⇄ the configure dialog's form, and the form → `PUT
// /api/observability/config` body. The server validates again (pipelogiq/integrations.py);
// these checks only catch the obvious before a round trip, with the same field names.
import type { IntegrationKind } from './types'

export const ALERT_CHANNELS = ['webhook', 'slack', 'teams'] as const
/** What the server accepts (pipelogiq/integrations.py ALERT_EVENTS), in its order. */
export const ALERT_EVENTS = [
  'pipeline.failed',
  'pipeline.completed',
  'stage.failed',
  'worker.offline',
  'policy.triggered',
  'pipeline.stuck',
  'worker.started',
  'worker.stopped',
  'worker.failed',
  'policy.changed',
  'queue.backlog',
  'message.deadlettered',
] as const
export const DEFAULT_ALERT_EVENTS = ['pipeline.failed', 'worker.offline']
export const PLACEHOLDERS = ['traceId', 'pipelineId', 'applicationId'] as const
/** How the server masks a stored secret (first characters + this). */
export const MASK = '…'

export interface HeaderRow {
  name: string
  value: string
}

export interface OtelForm {
  kind: 'opentelemetry'
  enabled: boolean
  endpoint: string
  serviceName: string
  headers: HeaderRow[]
}

export interface AlertingForm {
  kind: 'alerting'
  enabled: boolean
  webhookUrl: string
  channel: string
  secret: string
  events: string[]
}

export interface GrafanaForm {
  kind: 'grafana'
  enabled: boolean
  baseUrl: string
  dashboardUid: string
  apiToken: string
}

export interface LogsForm {
  kind: 'logs'
  traceLinkTemplate: string
  logsLinkTemplate: string
}

export type IntegrationForm = OtelForm | AlertingForm | GrafanaForm | LogsForm

const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const bool = (v: unknown): boolean => v === true

/** The form for a stored config (null: never saved). Secrets stay masked as the API gave them. */
export function formFromConfig(kind: IntegrationKind, config: Record<string, unknown> | null): IntegrationForm {
  const c = config ?? {}
  switch (kind) {
    case 'opentelemetry': {
      const headers = c.headers && typeof c.headers === 'object' ? (c.headers as Record<string, unknown>) : {}
      return {
        kind,
        enabled: bool(c.enabled),
        endpoint: str(c.endpoint),
        serviceName: str(c.serviceName),
        headers: Object.entries(headers).map(([name, value]) => ({ name, value: str(value) })),
      }
    }
    case 'alerting':
      return {
        kind,
        enabled: bool(c.enabled),
        webhookUrl: str(c.webhookUrl),
        channel: str(c.channel) || 'webhook',
        secret: str(c.secret),
        events: Array.isArray(c.events) ? c.events.filter((e): e is string => typeof e === 'string') : [...DEFAULT_ALERT_EVENTS],
      }
    case 'grafana':
      return {
        kind,
        enabled: bool(c.enabled),
        baseUrl: str(c.baseUrl),
        dashboardUid: str(c.dashboardUid),
        apiToken: str(c.apiToken),
      }
    case 'logs':
      return { kind, traceLinkTemplate: str(c.traceLinkTemplate), logsLinkTemplate: str(c.logsLinkTemplate) }
  }
}

/** Trimmed, or undefined when blank (the server stores a blank as "not set"). */
function opt(v: string): string | undefined {
  const t = v.trim()
  return t === '' ? undefined : t
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}

/** Once each, the known ones in the server's order; a stored one this page does not know is kept. */
export function orderedEvents(events: readonly string[]): string[] {
  const known: readonly string[] = ALERT_EVENTS
  return [...known.filter((e) => events.includes(e)), ...new Set(events.filter((e) => !known.includes(e)))]
}

export interface ConfigBody {
  kind: IntegrationKind
  config: Record<string, unknown>
}

/**
 * The `PUT /api/observability/config` body. Blank fields are left out (a secret left out is
 * removed; one sent back still masked keeps the stored secret); header rows with no name are
 * dropped.
 */
export function formToBody(form: IntegrationForm): ConfigBody {
  switch (form.kind) {
    case 'opentelemetry': {
      const headers: Record<string, string> = {}
      for (const h of form.headers) {
        const name = h.name.trim()
        if (name) headers[name] = h.value.trim()
      }
      return {
        kind: form.kind,
        config: dropUndefined({
          enabled: form.enabled,
          endpoint: opt(form.endpoint),
          serviceName: opt(form.serviceName),
          headers: Object.keys(headers).length ? headers : undefined,
        }),
      }
    }
    case 'alerting':
      return {
        kind: form.kind,
        config: dropUndefined({
          enabled: form.enabled,
          webhookUrl: opt(form.webhookUrl),
          channel: form.channel,
          secret: opt(form.secret),
          events: orderedEvents(form.events),
        }),
      }
    case 'grafana':
      return {
        kind: form.kind,
        config: dropUndefined({
          enabled: form.enabled,
          baseUrl: opt(form.baseUrl),
          dashboardUid: opt(form.dashboardUid),
          apiToken: opt(form.apiToken),
        }),
      }
    case 'logs':
      return {
        kind: form.kind,
        config: dropUndefined({
          traceLinkTemplate: opt(form.traceLinkTemplate),
          logsLinkTemplate: opt(form.logsLinkTemplate),
        }),
      }
  }
}

/** Why `value` is not an http(s) URL the server would take, or null. */
export function urlProblem(value: string): string | null {
  if (/[\s\u0000-\u001f]/.test(value)) return 'must not contain spaces'
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return 'must be an http or https URL'
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) return 'must be an http or https URL'
  if (url.username || url.password) return "must not carry credentials (user:password@); use the secret field"
  return null
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/
const UID = /^[A-Za-z0-9_-]{1,40}$/
const PLACEHOLDER = /\{([^{}]*)\}/g

/** A link template with its placeholders filled in (values URL-encoded), as the server does. */
export function renderTemplate(template: string, values: Record<string, string | number>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) =>
    name in values ? encodeURIComponent(String(values[name])) : whole,
  )
}

export function templateProblem(value: string): string | null {
  const names = [...value.matchAll(PLACEHOLDER)].map((m) => m[1]!)
  const unknown = names.find((n) => !(PLACEHOLDERS as readonly string[]).includes(n))
  if (unknown !== undefined) return `unknown placeholder {${unknown}}; use {traceId}, {pipelineId} or {applicationId}`
  if (!names.includes('traceId') && !names.includes('pipelineId')) return 'must contain {traceId} or {pipelineId}'
  const sample = renderTemplate(value, { traceId: '0'.repeat(32), pipelineId: 1, applicationId: 1 })
  if (sample.includes('{') || sample.includes('}')) return 'has an unbalanced { or }'
  return urlProblem(sample)
}

export type FormErrors = Record<string, string>

/** Field → message for what is clearly wrong; empty when the form may be sent. */
export function validateForm(form: IntegrationForm): FormErrors {
  const errors: FormErrors = {}
  const url = (field: string, value: string, required: boolean) => {
    const v = value.trim()
    if (!v) {
      if (required) errors[field] = 'required when enabled'
      return
    }
    const problem = urlProblem(v)
    if (problem) errors[field] = problem
  }
  switch (form.kind) {
    case 'opentelemetry':
      url('endpoint', form.endpoint, form.enabled)
      form.headers.forEach((h, i) => {
        const name = h.name.trim()
        if (!name && !h.value.trim()) return
        if (!HEADER_NAME.test(name)) errors[`headers.${i}`] = 'the name must be a valid HTTP header name'
        else if (!h.value.trim()) errors[`headers.${i}`] = 'a value is required'
        else if (!/^[\t\x20-\x7e]*$/.test(h.value)) errors[`headers.${i}`] = 'the value must be printable ASCII'
      })
      break
    case 'alerting':
      url('webhookUrl', form.webhookUrl, form.enabled)
      if (!(ALERT_CHANNELS as readonly string[]).includes(form.channel)) errors.channel = 'choose a channel'
      break
    case 'grafana':
      url('baseUrl', form.baseUrl, form.enabled)
      if (form.dashboardUid.trim() && !UID.test(form.dashboardUid.trim()))
        errors.dashboardUid = '1 to 40 letters, digits, - or _'
      break
    case 'logs':
      for (const field of ['traceLinkTemplate', 'logsLinkTemplate'] as const) {
        const v = form[field].trim()
        const problem = v ? templateProblem(v) : null
        if (problem) errors[field] = problem
      }
      break
  }
  return errors
}

/** A stored secret the API shows masked (sending it back unchanged keeps it). */
export function isMasked(value: string): boolean {
  return value.endsWith(MASK)
}
