import { describe, expect, it } from 'vitest'
import {
  formFromConfig,
  formToBody,
  orderedEvents,
  renderTemplate,
  templateProblem,
  urlProblem,
  validateForm,
  type AlertingForm,
  type LogsForm,
  type OtelForm,
} from './forms'

describe('alerting form → PUT body', () => {
  it('a new config: URL trimmed, default events, blank secret left out', () => {
    const form = formFromConfig('alerting', null) as AlertingForm
    expect(form).toEqual({ kind: 'alerting', enabled: false, webhookUrl: '', channel: 'webhook', secret: '', events: ['pipeline.failed', 'worker.offline'] })
    const body = formToBody({ ...form, enabled: true, webhookUrl: '  https://hooks.example.com/x  ' })
    expect(body).toEqual({
      kind: 'alerting',
      config: { enabled: true, webhookUrl: 'https://hooks.example.com/x', channel: 'webhook', events: ['pipeline.failed', 'worker.offline'] },
    })
  })

  it('a stored masked secret goes back as given (the server keeps the stored one)', () => {
    const stored = { enabled: true, webhookUrl: 'https://h.example/x', channel: 'slack', secret: 'abcd…', events: ['stage.failed'] }
    const form = formFromConfig('alerting', stored)
    expect(formToBody(form).config).toEqual(stored)
    // cleared: the secret is removed
    expect(formToBody({ ...(form as AlertingForm), secret: '' }).config).not.toHaveProperty('secret')
  })

  it('events go in the server order, once each, and unknown stored ones are kept', () => {
    expect(orderedEvents(['worker.offline', 'pipeline.failed', 'worker.offline'])).toEqual(['pipeline.failed', 'worker.offline'])
    expect(orderedEvents(['future.event', 'stage.failed'])).toEqual(['stage.failed', 'future.event'])
    const form = formFromConfig('alerting', { events: ['future.event'] }) as AlertingForm
    expect(formToBody({ ...form, events: [...form.events, 'pipeline.completed'] }).config.events).toEqual([
      'pipeline.completed',
      'future.event',
    ])
  })

  it('requires a URL when enabled, and an http(s) one', () => {
    const base = formFromConfig('alerting', null) as AlertingForm
    expect(validateForm({ ...base, enabled: false })).toEqual({})
    expect(validateForm({ ...base, enabled: true })).toEqual({ webhookUrl: 'required when enabled' })
    expect(validateForm({ ...base, enabled: true, webhookUrl: 'ftp://x' })).toEqual({ webhookUrl: 'must be an http or https URL' })
    expect(validateForm({ ...base, enabled: true, webhookUrl: 'http://127.0.0.1:9000/hook' })).toEqual({})
  })
})

describe('OpenTelemetry form', () => {
  it('headers become an object; empty rows are dropped', () => {
    const form: OtelForm = {
      kind: 'opentelemetry',
      enabled: true,
      endpoint: 'http://collector:4318',
      serviceName: ' ',
      headers: [
        { name: 'x-api-key', value: 'abcd…' },
        { name: '', value: '' },
      ],
    }
    expect(formToBody(form)).toEqual({
      kind: 'opentelemetry',
      config: { enabled: true, endpoint: 'http://collector:4318', headers: { 'x-api-key': 'abcd…' } },
    })
    expect(formToBody({ ...form, headers: [] }).config).not.toHaveProperty('headers')
    expect(formFromConfig('opentelemetry', { headers: { a: 'b' } })).toMatchObject({ headers: [{ name: 'a', value: 'b' }] })
  })

  it('checks header names and values', () => {
    const form = formFromConfig('opentelemetry', null) as OtelForm
    expect(validateForm({ ...form, headers: [{ name: 'bad name', value: 'x' }] })).toEqual({ 'headers.0': 'the name must be a valid HTTP header name' })
    expect(validateForm({ ...form, headers: [{ name: 'x-key', value: '' }] })).toEqual({ 'headers.0': 'a value is required' })
    expect(validateForm({ ...form, headers: [{ name: 'x-key', value: 'é' }] })).toEqual({ 'headers.0': 'the value must be printable ASCII' })
  })
})

describe('Grafana form', () => {
  it('maps fields and checks the dashboard UID', () => {
    const form = formFromConfig('grafana', { enabled: true, baseUrl: 'https://g.example', dashboardUid: 'abc', apiToken: 'glsa…' })
    expect(formToBody(form).config).toEqual({ enabled: true, baseUrl: 'https://g.example', dashboardUid: 'abc', apiToken: 'glsa…' })
    expect(validateForm({ ...form, dashboardUid: 'no spaces' } as typeof form)).toEqual({ dashboardUid: '1 to 40 letters, digits, - or _' })
  })
})

describe('link templates', () => {
  it('render their placeholders URL-encoded', () => {
    expect(renderTemplate('https://j.example/trace/{traceId}?p={pipelineId}&x={other}', { traceId: 'a b', pipelineId: 3 })).toBe(
      'https://j.example/trace/a%20b?p=3&x={other}',
    )
  })

  it('are checked as the server does', () => {
    expect(templateProblem('https://j.example/trace/{traceId}')).toBeNull()
    expect(templateProblem('https://j.example/p/{pipelineId}?app={applicationId}')).toBeNull()
    expect(templateProblem('https://j.example/{spanId}/{traceId}')).toMatch(/unknown placeholder \{spanId\}/)
    expect(templateProblem('https://j.example/{applicationId}')).toBe('must contain {traceId} or {pipelineId}')
    expect(templateProblem('https://j.example/{traceId}}')).toBe('has an unbalanced { or }')
    expect(templateProblem('jaeger/{traceId}')).toBe('must be an http or https URL')
  })

  it('a blank template is left out; a bad one is reported on its field', () => {
    const form: LogsForm = { kind: 'logs', traceLinkTemplate: 'https://j.example/{traceId}', logsLinkTemplate: '  ' }
    expect(formToBody(form)).toEqual({ kind: 'logs', config: { traceLinkTemplate: 'https://j.example/{traceId}' } })
    expect(validateForm({ ...form, logsLinkTemplate: 'https://l.example/' })).toEqual({ logsLinkTemplate: 'must contain {traceId} or {pipelineId}' })
  })
})

describe('urlProblem', () => {
  it('refuses credentials and spaces', () => {
    expect(urlProblem('https://user:pw@h.example/')).toMatch(/credentials/)
    expect(urlProblem('https://h.example/a b')).toBe('must not contain spaces')
    expect(urlProblem('https://h.example:8443/x?y=1')).toBeNull()
  })
})
