import * as Dialog from '@radix-ui/react-dialog'
import { useQueryClient } from '@tanstack/react-query'
import { useState, type FormEvent, type ReactNode } from 'react'
import { api, errorMessage } from '../../lib/api'
import { useToast } from '../toast'
import {
  ALERT_CHANNELS,
  ALERT_EVENTS,
  formFromConfig,
  formToBody,
  isMasked,
  orderedEvents,
  renderTemplate,
  validateForm,
  type FormErrors,
  type IntegrationForm,
} from './forms'
import { INTEGRATION_INFO } from './info'
import { obsKeys } from './queries'
import type { IntegrationConfig } from './types'

interface Props {
  integration: IntegrationConfig
  trigger: ReactNode
  /** after a successful save */
  onSaved?: () => void
}

/** The configure dialog of one integration: its form, client checks, save with the server's answer. */
export function ConfigureDialog({ integration, trigger, onSaved }: Props) {
  const [open, setOpen] = useState(false)
  return (
    <Dialog.Root open={open} onOpenChange={setOpen}>
      <Dialog.Trigger asChild>{trigger}</Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="fixed inset-0 z-40 bg-black/40" />
        <Dialog.Content
          className="fixed left-1/2 top-1/2 z-50 max-h-[90vh] w-[34rem] max-w-[95vw] -translate-x-1/2 -translate-y-1/2 overflow-y-auto rounded-lg bg-white p-5 shadow-xl dark:bg-slate-900"
          data-testid="configure-dialog"
          data-kind={integration.kind}
        >
          <Dialog.Title className="text-base font-semibold">Configure {INTEGRATION_INFO[integration.kind].title}</Dialog.Title>
          <Dialog.Description className="mt-1 text-sm text-slate-600 dark:text-slate-300">
            {INTEGRATION_INFO[integration.kind].description}
          </Dialog.Description>
          {open && (
            <ConfigForm
              integration={integration}
              onDone={() => {
                setOpen(false)
                onSaved?.()
              }}
            />
          )}
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  )
}

function Field({ label, error, hint, children }: { label: string; error?: string; hint?: ReactNode; children: ReactNode }) {
  return (
    <label className="block">
      <span className="text-sm font-medium">{label}</span>
      <div className="mt-1">{children}</div>
      {error ? (
        <span className="mt-1 block text-xs text-red-600 dark:text-red-400" data-testid="field-error">
          {error}
        </span>
      ) : (
        hint && <span className="mt-1 block text-xs text-slate-500">{hint}</span>
      )}
    </label>
  )
}

function Toggle({ checked, onChange, label }: { checked: boolean; onChange: (v: boolean) => void; label: string }) {
  return (
    <label className="flex items-center gap-2 text-sm">
      <input type="checkbox" name="enabled" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      {label}
    </label>
  )
}

const SECRET_HINT = 'Shown masked. Leave it as is to keep the stored value; clear it to remove it.'

function ConfigForm({ integration, onDone }: { integration: IntegrationConfig; onDone: () => void }) {
  const [form, setForm] = useState<IntegrationForm>(() => formFromConfig(integration.kind, integration.config))
  const [errors, setErrors] = useState<FormErrors>({})
  const [serverError, setServerError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const client = useQueryClient()
  const toast = useToast()
  const title = INTEGRATION_INFO[integration.kind].title

  // one setter for every field of the current kind
  const set = <F extends IntegrationForm>(change: Partial<F>) => setForm((f) => ({ ...f, ...change }) as IntegrationForm)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const found = validateForm(form)
    setErrors(found)
    setServerError(null)
    if (Object.keys(found).length) return
    setBusy(true)
    try {
      await api('/api/observability/config', { method: 'PUT', body: formToBody(form) })
      await client.invalidateQueries({ queryKey: obsKeys.all })
      toast({ title: `${title} saved` })
      onDone()
    } catch (err) {
      setServerError(errorMessage(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <form onSubmit={(e) => void submit(e)} className="mt-4 space-y-4" noValidate>
      {form.kind === 'opentelemetry' && (
        <>
          <Toggle checked={form.enabled} onChange={(enabled) => set({ enabled })} label="Enabled" />
          <Field label="OTLP/HTTP endpoint" error={errors.endpoint} hint="e.g. http://otel-collector:4318 (the test posts an empty export to /v1/traces)">
            <input name="endpoint" className="input w-full" value={form.endpoint} onChange={(e) => set({ endpoint: e.target.value })} placeholder="http://otel-collector:4318" />
          </Field>
          <Field label="Service name" hint="optional">
            <input name="serviceName" className="input w-full" value={form.serviceName} onChange={(e) => set({ serviceName: e.target.value })} placeholder="pipelogiq" />
          </Field>
          <div>
            <span className="text-sm font-medium">Headers</span>
            <p className="text-xs text-slate-500">Sent with every export (e.g. an API key). {SECRET_HINT}</p>
            <div className="mt-1 space-y-2">
              {form.headers.map((h, i) => (
                <div key={i}>
                  <div className="flex gap-2">
                    <input
                      aria-label={`Header ${i + 1} name`}
                      className="input w-40"
                      value={h.name}
                      placeholder="Authorization"
                      onChange={(e) => set({ headers: form.headers.map((x, j) => (j === i ? { ...x, name: e.target.value } : x)) })}
                    />
                    <input
                      aria-label={`Header ${i + 1} value`}
                      className="input min-w-0 flex-1"
                      value={h.value}
                      onChange={(e) => set({ headers: form.headers.map((x, j) => (j === i ? { ...x, value: e.target.value } : x)) })}
                    />
                    <button type="button" className="btn btn-sm" aria-label={`Remove header ${i + 1}`} onClick={() => set({ headers: form.headers.filter((_, j) => j !== i) })}>
                      ✕
                    </button>
                  </div>
                  {errors[`headers.${i}`] && <span className="text-xs text-red-600 dark:text-red-400">{errors[`headers.${i}`]}</span>}
                </div>
              ))}
              <button type="button" className="btn btn-sm" onClick={() => set({ headers: [...form.headers, { name: '', value: '' }] })}>
                + Add header
              </button>
            </div>
          </div>
        </>
      )}

      {form.kind === 'alerting' && (
        <>
          <Toggle checked={form.enabled} onChange={(enabled) => set({ enabled })} label="Enabled" />
          <Field label="Webhook URL" error={errors.webhookUrl} hint="Alerts are POSTed here as JSON.">
            <input name="webhookUrl" className="input w-full" value={form.webhookUrl} onChange={(e) => set({ webhookUrl: e.target.value })} placeholder="https://hooks.example.com/pipelogiq" />
          </Field>
          <Field label="Channel" error={errors.channel} hint="The body's shape: plain webhook JSON, or Slack / Teams text.">
            <select name="channel" className="input" value={form.channel} onChange={(e) => set({ channel: e.target.value })}>
              {ALERT_CHANNELS.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </Field>
          <Field
            label="Signing secret"
            hint={
              isMasked(form.secret)
                ? SECRET_HINT
                : 'Optional. When set, each alert carries X-Pipelogiq-Signature: sha256=<HMAC of the body>.'
            }
          >
            <input name="secret" className="input w-full" autoComplete="off" value={form.secret} onChange={(e) => set({ secret: e.target.value })} />
          </Field>
          <fieldset>
            <legend className="text-sm font-medium">Events</legend>
            <div className="mt-1 grid grid-cols-2 gap-1" data-testid="alert-events">
              {orderedEvents([...ALERT_EVENTS, ...form.events]).map((ev) => (
                <label key={ev} className="flex items-center gap-2 text-sm">
                  <input
                    type="checkbox"
                    checked={form.events.includes(ev)}
                    onChange={(e) => set({ events: e.target.checked ? [...form.events, ev] : form.events.filter((x) => x !== ev) })}
                  />
                  <code className="text-xs">{ev}</code>
                </label>
              ))}
            </div>
          </fieldset>
        </>
      )}

      {form.kind === 'grafana' && (
        <>
          <Toggle checked={form.enabled} onChange={(enabled) => set({ enabled })} label="Enabled" />
          <Field label="Grafana URL" error={errors.baseUrl} hint="The test asks its /api/health.">
            <input name="baseUrl" className="input w-full" value={form.baseUrl} onChange={(e) => set({ baseUrl: e.target.value })} placeholder="https://grafana.example.com" />
          </Field>
          <Field label="Dashboard UID" error={errors.dashboardUid} hint="optional: the dashboard the card links to">
            <input name="dashboardUid" className="input w-full" value={form.dashboardUid} onChange={(e) => set({ dashboardUid: e.target.value })} />
          </Field>
          <Field label="API token" hint={isMasked(form.apiToken) ? SECRET_HINT : 'optional: sent as a Bearer token'}>
            <input name="apiToken" className="input w-full" autoComplete="off" value={form.apiToken} onChange={(e) => set({ apiToken: e.target.value })} />
          </Field>
        </>
      )}

      {form.kind === 'logs' && (
        <>
          <p className="text-xs text-slate-500">
            Placeholders: <code>{'{traceId}'}</code>, <code>{'{pipelineId}'}</code>, <code>{'{applicationId}'}</code>. Each
            template needs <code>{'{traceId}'}</code> or <code>{'{pipelineId}'}</code>.
          </p>
          {(['traceLinkTemplate', 'logsLinkTemplate'] as const).map((field) => (
            <Field
              key={field}
              label={field === 'traceLinkTemplate' ? 'Trace link template' : 'Logs link template'}
              error={errors[field]}
              hint={
                form[field].trim() ? (
                  <>
                    e.g.{' '}
                    <span className="break-all">
                      {renderTemplate(form[field].trim(), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', pipelineId: 42, applicationId: 1 })}
                    </span>
                  </>
                ) : field === 'traceLinkTemplate' ? (
                  'e.g. https://jaeger.example.com/trace/{traceId}'
                ) : (
                  'e.g. https://logs.example.com/search?q=trace_id:{traceId}'
                )
              }
            >
              <input name={field} className="input w-full" value={form[field]} onChange={(e) => set({ [field]: e.target.value })} />
            </Field>
          ))}
        </>
      )}

      {serverError && (
        <p role="alert" className="rounded border border-red-300 bg-red-50 p-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
          {serverError}
        </p>
      )}
      <div className="flex justify-end gap-2 pt-2">
        <Dialog.Close asChild>
          <button type="button" className="btn" disabled={busy}>
            Cancel
          </button>
        </Dialog.Close>
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save'}
        </button>
      </div>
    </form>
  )
}
