import * as Dialog from '@radix-ui/react-dialog'
import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useMemo, useState, type ReactNode } from 'react'
import { useToast } from '../toast'
import { ApiError, api, errorMessage } from '../../lib/api'
import { useApplications, useMe } from '../../lib/queries'
import { policyKeys, usePolicyTargets } from './hooks'
import {
  BACKOFFS,
  ENV_ALL,
  KEY_BY,
  POLICY_TYPES,
  RULE_FIELDS,
  TYPE_DESCRIPTIONS,
  TYPE_LABELS,
  checkForm,
  emptyForm,
  fieldMessage,
  formFromPolicy,
  requestBody,
  ruleSummary,
  serverErrorPlace,
  stripFieldPath,
  targetsSummary,
  type FieldErrors,
  type Policy,
  type PolicyForm,
  type RuleForms,
  type ServerErrorPlace,
  type TargetList,
  type Targeting,
  type WizardStep,
} from './model'
import { TagInput } from './TagInput'
import { TargetingPreview } from './TargetingPreview'

export type WizardMode = { kind: 'create' } | { kind: 'edit'; policy: Policy }

const STEPS: { step: WizardStep; label: string }[] = [
  { step: 1, label: 'Type' },
  { step: 2, label: 'Rules' },
  { step: 3, label: 'Targeting' },
  { step: 4, label: 'Review' },
]

/** Create (type → rules → targeting → review) or edit a policy, in a dialog. */
export function PolicyWizard({
  mode,
  onClose,
  onSaved,
}: {
  mode: WizardMode | null
  onClose: () => void
  onSaved?: (policy: Policy, created: boolean) => void
}) {
  const key = mode === null ? 'closed' : mode.kind === 'edit' ? `edit-${mode.policy.id}-${mode.policy.version}` : 'create'
  return (
    <Dialog.Root open={mode !== null} onOpenChange={(o) => !o && onClose()}>
      <Dialog.Portal>
        <Dialog.Overlay className="fixed inset-0 z-50 bg-black/40" />
        <Dialog.Content
          data-testid="policy-wizard"
          onInteractOutside={(e) => e.preventDefault()}
          className="fixed left-1/2 top-1/2 z-50 flex max-h-[92vh] w-[60rem] max-w-[96vw] -translate-x-1/2 -translate-y-1/2 flex-col rounded-lg bg-white shadow-xl dark:bg-slate-900"
        >
          {mode && <WizardBody key={key} mode={mode} onClose={onClose} onSaved={onSaved} />}
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  )
}

interface ServerError {
  message: string
  place: ServerErrorPlace
}

function WizardBody({
  mode,
  onClose,
  onSaved,
}: {
  mode: WizardMode
  onClose: () => void
  onSaved?: (policy: Policy, created: boolean) => void
}) {
  const creating = mode.kind === 'create'
  const me = useMe()
  const apps = useApplications()
  const isAdmin = me.data?.role === 'Admin'
  const client = useQueryClient()
  const toast = useToast()

  const [form, setForm] = useState<PolicyForm>(() =>
    mode.kind === 'edit' ? formFromPolicy(mode.policy) : emptyForm(null),
  )
  // a new policy goes to the first application until the user picks another one (or global)
  const [appPicked, setAppPicked] = useState(!creating)
  const firstApp = apps.data?.[0]?.id ?? null
  useEffect(() => {
    if (!appPicked && firstApp !== null) {
      setForm((f) => ({ ...f, applicationId: firstApp }))
      setAppPicked(true)
    }
  }, [appPicked, firstApp])

  const [step, setStep] = useState<WizardStep>(1)
  const [reached, setReached] = useState<WizardStep>(mode.kind === 'edit' ? 4 : 1)
  const [shown, setShown] = useState<Set<number>>(new Set())
  const [serverError, setServerError] = useState<ServerError | null>(null)
  const [startActive, setStartActive] = useState(true)
  const [busy, setBusy] = useState(false)

  const check = useMemo(() => checkForm(form, { creating, isAdmin }), [form, creating, isAdmin])
  const body = requestBody(form, {
    creating,
    version: mode.kind === 'edit' ? mode.policy.version : undefined,
    status: creating ? (startActive ? 'active' : 'disabled') : undefined,
  })

  const update = (change: (f: PolicyForm) => PolicyForm) => {
    setServerError(null)
    setForm(change)
  }
  const setRule = <T extends keyof RuleForms>(type: T, field: keyof RuleForms[T], value: string) =>
    update((f) => ({ ...f, rules: { ...f.rules, [type]: { ...f.rules[type], [field]: value } } }))
  const setTargeting = (change: Partial<Targeting>) => update((f) => ({ ...f, targeting: { ...f.targeting, ...change } }))

  const errorFor = (s: 1 | 2 | 3, field: string): string | undefined => {
    if (serverError && serverError.place.step === s && serverError.place.field === field) {
      return stripFieldPath(serverError.message)
    }
    return shown.has(s) ? check.errors[s][field] : undefined
  }

  const goTo = (s: WizardStep) => {
    setStep(s)
    setReached((r) => (s > r ? s : r))
  }
  const next = () => {
    if (step < 4) {
      const errs = check.errors[step as 1 | 2 | 3]
      if (Object.keys(errs).length) {
        setShown((prev) => new Set(prev).add(step))
        return
      }
      goTo((step + 1) as WizardStep)
    }
  }

  const submit = async () => {
    if (check.firstInvalidStep !== null) {
      setShown(new Set([1, 2, 3]))
      setStep(check.firstInvalidStep)
      return
    }
    setBusy(true)
    setServerError(null)
    try {
      const saved =
        mode.kind === 'edit'
          ? await api<Policy>(`/api/policies/${mode.policy.id}`, { method: 'PUT', body })
          : await api<Policy>('/api/policies', { method: 'POST', body })
      toast({ title: creating ? `Policy "${saved.name}" created` : `Policy "${saved.name}" saved` })
      client.setQueryData(policyKeys.detail(saved.id), saved)
      await client.invalidateQueries({ queryKey: policyKeys.all })
      onSaved?.(saved, creating)
      onClose()
    } catch (err) {
      const message = errorMessage(err)
      const place: ServerErrorPlace =
        err instanceof ApiError && (err.status === 400 || err.status === 404) ? serverErrorPlace(message) : { step: 4, field: null }
      setServerError({ message, place })
      setStep(place.step)
      toast({ title: creating ? 'Could not create the policy' : 'Could not save the policy', description: message, variant: 'error' })
    } finally {
      setBusy(false)
    }
  }

  const appName = (id: number | null) =>
    id === null ? 'Global (every application)' : (apps.data?.find((a) => a.id === id)?.name ?? `application ${id}`)

  return (
    <>
      <div className="border-b border-slate-200 px-5 py-4 dark:border-slate-800">
        <Dialog.Title className="text-base font-semibold">
          {creating ? 'New policy' : `Edit policy "${mode.policy.name}"`}
        </Dialog.Title>
        <Dialog.Description className="mt-1 text-xs text-slate-500">
          {creating
            ? 'Choose what the policy does, its rule, and which stages it applies to.'
            : `Saving a change makes version ${mode.policy.version + 1}; the status stays ${mode.policy.status}.`}
        </Dialog.Description>
        <ol className="mt-3 flex gap-2 text-sm" aria-label="Steps">
          {STEPS.map(({ step: s, label }) => {
            const current = s === step
            const bad = s < 4 && shown.has(s) && Object.keys(check.errors[s as 1 | 2 | 3]).length > 0
            return (
              <li key={s}>
                <button
                  type="button"
                  data-testid={`wizard-step-${s}`}
                  aria-current={current ? 'step' : undefined}
                  disabled={s > reached}
                  onClick={() => goTo(s)}
                  className={`rounded-full px-3 py-1 ${
                    current
                      ? 'bg-blue-600 text-white'
                      : bad
                        ? 'bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-200'
                        : 'bg-slate-100 text-slate-700 disabled:opacity-50 dark:bg-slate-800 dark:text-slate-300'
                  }`}
                >
                  {s}. {label}
                </button>
              </li>
            )
          })}
        </ol>
      </div>

      <div className="min-h-0 flex-1 overflow-y-auto px-5 py-4">
        {serverError && (
          <div
            role="alert"
            data-testid="wizard-server-error"
            className="mb-3 rounded-md border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200"
          >
            The server refused this policy: {serverError.message}
          </div>
        )}
        {step === 1 && (
          <StepType
            form={form}
            creating={creating}
            isAdmin={isAdmin}
            apps={apps.data ?? []}
            appsError={apps.isError ? apps.error : null}
            errorFor={(f) => errorFor(1, f)}
            setName={(name) => update((f) => ({ ...f, name }))}
            setType={(type) => update((f) => ({ ...f, type }))}
            setApp={(applicationId) => {
              setAppPicked(true)
              update((f) => ({ ...f, applicationId }))
            }}
          />
        )}
        {step === 2 && <StepRules form={form} errorFor={(f) => errorFor(2, f)} setRule={setRule} />}
        {step === 3 && (
          <StepTargeting
            form={form}
            errorFor={(f) => errorFor(3, f)}
            setTargeting={setTargeting}
            appName={(id) => appName(id)}
          />
        )}
        {step === 4 && (
          <StepReview
            form={form}
            body={body}
            creating={creating}
            appName={appName(form.applicationId)}
            startActive={startActive}
            setStartActive={setStartActive}
            problems={check.errors}
          />
        )}
      </div>

      <div className="flex items-center justify-between border-t border-slate-200 px-5 py-3 dark:border-slate-800">
        <Dialog.Close asChild>
          <button type="button" className="btn" disabled={busy}>
            Cancel
          </button>
        </Dialog.Close>
        <div className="flex gap-2">
          {step > 1 && (
            <button type="button" className="btn" disabled={busy} onClick={() => setStep((step - 1) as WizardStep)}>
              ‹ Back
            </button>
          )}
          {step < 4 ? (
            <button type="button" className="btn btn-primary" onClick={next} data-testid="wizard-next">
              Next ›
            </button>
          ) : (
            <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void submit()} data-testid="wizard-submit">
              {busy ? 'Saving…' : creating ? 'Create policy' : 'Save changes'}
            </button>
          )}
        </div>
      </div>
    </>
  )
}

// -- fields ----------------------------------------------------------------------------------

function Field({
  label,
  error,
  help,
  children,
  htmlFor,
}: {
  label: string
  error?: string
  help?: string
  children: ReactNode
  htmlFor?: string
}) {
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={htmlFor} className="text-xs font-medium text-slate-600 dark:text-slate-300">
        {label}
      </label>
      {children}
      {error ? (
        <p className="text-xs text-red-600 dark:text-red-400" role="alert" data-testid="field-error">
          {fieldMessage(label, error)}
        </p>
      ) : help ? (
        <p className="text-xs text-slate-500">{help}</p>
      ) : null}
    </div>
  )
}

function NumberField({
  name,
  label,
  unit,
  value,
  error,
  help,
  onChange,
  placeholder,
}: {
  name: string
  label: string
  unit?: string
  value: string
  error?: string
  help?: string
  onChange: (v: string) => void
  placeholder?: string
}) {
  const id = `rule-${name}`
  return (
    <Field label={label} error={error} help={help} htmlFor={id}>
      <div className="flex items-center gap-1.5">
        <input
          id={id}
          name={name}
          inputMode="numeric"
          value={value}
          placeholder={placeholder}
          aria-invalid={error ? true : undefined}
          onChange={(e) => onChange(e.target.value)}
          className={`input w-40 ${error ? 'border-red-500' : ''}`}
        />
        {unit && <span className="text-xs text-slate-500">{unit}</span>}
      </div>
    </Field>
  )
}

function SelectField<T extends string>({
  name,
  label,
  value,
  options,
  onChange,
  help,
  error,
}: {
  name: string
  label: string
  value: T
  options: readonly T[]
  onChange: (v: T) => void
  help?: string
  error?: string
}) {
  const id = `rule-${name}`
  return (
    <Field label={label} help={help} error={error} htmlFor={id}>
      <select id={id} name={name} value={value} onChange={(e) => onChange(e.target.value as T)} className="input w-48">
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </Field>
  )
}

// -- step 1 ----------------------------------------------------------------------------------

function StepType({
  form,
  creating,
  isAdmin,
  apps,
  appsError,
  errorFor,
  setName,
  setType,
  setApp,
}: {
  form: PolicyForm
  creating: boolean
  isAdmin: boolean
  apps: { id: number; name: string }[]
  appsError: unknown
  errorFor: (field: string) => string | undefined
  setName: (v: string) => void
  setType: (v: PolicyForm['type']) => void
  setApp: (v: number | null) => void
}) {
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap gap-4">
        <Field label="Name" error={errorFor('name')} htmlFor="policy-name">
          <input
            id="policy-name"
            name="policyName"
            value={form.name}
            maxLength={200}
            autoFocus
            onChange={(e) => setName(e.target.value)}
            className={`input w-80 ${errorFor('name') ? 'border-red-500' : ''}`}
            placeholder="e.g. fetch rate limit"
          />
        </Field>
        <Field
          label="Application"
          error={errorFor('applicationId') ?? (appsError ? errorMessage(appsError) : undefined)}
          help={creating ? 'The pipelines it applies to. It cannot be changed later.' : 'Fixed once created.'}
          htmlFor="policy-application"
        >
          <select
            id="policy-application"
            name="policyApplication"
            value={form.applicationId === null ? '' : String(form.applicationId)}
            disabled={!creating}
            onChange={(e) => setApp(e.target.value === '' ? null : Number(e.target.value))}
            className="input w-64"
          >
            {(isAdmin || form.applicationId === null) && <option value="">Global (every application)</option>}
            {apps.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <fieldset>
        <legend className="mb-2 text-xs font-medium text-slate-600 dark:text-slate-300">Type</legend>
        <div className="grid grid-cols-2 gap-3" role="radiogroup">
          {POLICY_TYPES.map((t) => (
            <label
              key={t}
              data-testid={`policy-type-${t}`}
              className={`cursor-pointer rounded-lg border p-3 ${
                form.type === t
                  ? 'border-blue-500 bg-blue-50 ring-1 ring-blue-500 dark:bg-blue-950/40'
                  : 'border-slate-200 hover:border-slate-400 dark:border-slate-700'
              }`}
            >
              <div className="flex items-center gap-2">
                <input type="radio" name="policyType" value={t} checked={form.type === t} onChange={() => setType(t)} />
                <span className="font-medium">{TYPE_LABELS[t]}</span>
              </div>
              <p className="mt-1 text-xs text-slate-500">{TYPE_DESCRIPTIONS[t]}</p>
            </label>
          ))}
        </div>
      </fieldset>
    </div>
  )
}

// -- step 2 ----------------------------------------------------------------------------------

function help(type: keyof RuleForms, key: string): string | undefined {
  return RULE_FIELDS[type].find((f) => f.key === key)?.help
}

function StepRules({
  form,
  errorFor,
  setRule,
}: {
  form: PolicyForm
  errorFor: (field: string) => string | undefined
  setRule: <T extends keyof RuleForms>(type: T, field: keyof RuleForms[T], value: string) => void
}) {
  const t = form.type
  return (
    <div className="space-y-4" data-testid="rule-form" data-type={t}>
      <p className="text-sm text-slate-600 dark:text-slate-300">
        <strong>{TYPE_LABELS[t]}</strong>: {TYPE_DESCRIPTIONS[t]}
      </p>
      {t === 'rate_limit' && (
        <div className="grid grid-cols-2 gap-4">
          <NumberField name="limit" label="Limit" value={form.rules.rate_limit.limit} error={errorFor('limit')} help={help(t, 'limit')} onChange={(v) => setRule('rate_limit', 'limit', v)} />
          <NumberField name="windowSeconds" label="Window" unit="seconds" value={form.rules.rate_limit.windowSeconds} error={errorFor('windowSeconds')} help={help(t, 'windowSeconds')} onChange={(v) => setRule('rate_limit', 'windowSeconds', v)} />
          <SelectField name="keyBy" label="Key by" value={form.rules.rate_limit.keyBy} options={KEY_BY} error={errorFor('keyBy')} help={help(t, 'keyBy')} onChange={(v) => setRule('rate_limit', 'keyBy', v)} />
          {form.rules.rate_limit.keyBy === 'custom' ? (
            <Field label="Key field" error={errorFor('keyField')} help={help(t, 'keyField')} htmlFor="rule-keyField">
              <input id="rule-keyField" name="keyField" value={form.rules.rate_limit.keyField} onChange={(e) => setRule('rate_limit', 'keyField', e.target.value)} className={`input w-64 ${errorFor('keyField') ? 'border-red-500' : ''}`} placeholder="context item, e.g. customer" />
            </Field>
          ) : (
            <div />
          )}
          <NumberField name="burst" label="Burst" value={form.rules.rate_limit.burst} error={errorFor('burst')} help={help(t, 'burst')} placeholder="optional" onChange={(v) => setRule('rate_limit', 'burst', v)} />
        </div>
      )}
      {t === 'retry' && (
        <div className="grid grid-cols-2 gap-4">
          <NumberField name="maxAttempts" label="Max attempts" value={form.rules.retry.maxAttempts} error={errorFor('maxAttempts')} help={help(t, 'maxAttempts')} onChange={(v) => setRule('retry', 'maxAttempts', v)} />
          <SelectField name="backoff" label="Backoff" value={form.rules.retry.backoff} options={BACKOFFS} error={errorFor('backoff')} help={help(t, 'backoff')} onChange={(v) => setRule('retry', 'backoff', v)} />
          <NumberField name="baseDelayMs" label="Base delay" unit="ms" value={form.rules.retry.baseDelayMs} error={errorFor('baseDelayMs')} help={help(t, 'baseDelayMs')} onChange={(v) => setRule('retry', 'baseDelayMs', v)} />
          <NumberField name="maxDelayMs" label="Max delay" unit="ms" value={form.rules.retry.maxDelayMs} error={errorFor('maxDelayMs')} help={help(t, 'maxDelayMs')} placeholder="optional" onChange={(v) => setRule('retry', 'maxDelayMs', v)} />
          <Field label="Jitter" error={errorFor('jitter')} help={help(t, 'jitter')} htmlFor="rule-jitter">
            <div className="flex items-center gap-2">
              <select id="rule-jitter" name="jitter" value={form.rules.retry.jitter} onChange={(e) => setRule('retry', 'jitter', e.target.value)} className="input w-40">
                <option value="default">not set</option>
                <option value="on">on</option>
                <option value="off">off</option>
                <option value="ratio">ratio…</option>
              </select>
              {form.rules.retry.jitter === 'ratio' && (
                <input name="jitterRatio" aria-label="Jitter ratio" inputMode="decimal" value={form.rules.retry.jitterRatio} onChange={(e) => setRule('retry', 'jitterRatio', e.target.value)} className={`input w-24 ${errorFor('jitter') ? 'border-red-500' : ''}`} placeholder="0.2" />
              )}
            </div>
          </Field>
          <Field label="Retry on error codes" error={errorFor('errorCodes')} help={`${help(t, 'retryOn') ?? ''} Comma-separated; empty retries every failure.`} htmlFor="rule-errorCodes">
            <input id="rule-errorCodes" name="errorCodes" value={form.rules.retry.errorCodes} onChange={(e) => setRule('retry', 'errorCodes', e.target.value)} className="input w-72" placeholder="e.g. TIMEOUT, UPSTREAM_503" />
          </Field>
        </div>
      )}
      {t === 'timeout' && (
        <div className="grid grid-cols-2 gap-4">
          <NumberField name="timeoutMs" label="Timeout" unit="ms" value={form.rules.timeout.timeoutMs} error={errorFor('timeoutMs')} help={help(t, 'timeoutMs')} onChange={(v) => setRule('timeout', 'timeoutMs', v)} />
          <SelectField name="appliesTo" label="Applies to" value={form.rules.timeout.appliesTo} options={['step'] as const} error={errorFor('appliesTo')} help={help(t, 'appliesTo')} onChange={(v) => setRule('timeout', 'appliesTo', v)} />
        </div>
      )}
      {t === 'circuit_breaker' && (
        <div className="grid grid-cols-2 gap-4">
          <NumberField name="failureThreshold" label="Failure threshold" value={form.rules.circuit_breaker.failureThreshold} error={errorFor('failureThreshold')} help={help(t, 'failureThreshold')} onChange={(v) => setRule('circuit_breaker', 'failureThreshold', v)} />
          <NumberField name="windowSeconds" label="Window" unit="seconds" value={form.rules.circuit_breaker.windowSeconds} error={errorFor('windowSeconds')} help={help(t, 'windowSeconds')} onChange={(v) => setRule('circuit_breaker', 'windowSeconds', v)} />
          <NumberField name="openSeconds" label="Open for" unit="seconds" value={form.rules.circuit_breaker.openSeconds} error={errorFor('openSeconds')} help={help(t, 'openSeconds')} onChange={(v) => setRule('circuit_breaker', 'openSeconds', v)} />
          <NumberField name="halfOpenMaxCalls" label="Half-open calls" value={form.rules.circuit_breaker.halfOpenMaxCalls} error={errorFor('halfOpenMaxCalls')} help={help(t, 'halfOpenMaxCalls')} onChange={(v) => setRule('circuit_breaker', 'halfOpenMaxCalls', v)} />
        </div>
      )}
      {errorFor('rule') && (
        <p role="alert" className="text-sm text-red-600 dark:text-red-400">
          {errorFor('rule')}
        </p>
      )}
    </div>
  )
}

// -- step 3 ----------------------------------------------------------------------------------

const TARGET_FIELDS: { key: TargetList; label: string; help: string; from: 'pipelines' | 'stages' | 'handlers' | 'tags' }[] = [
  { key: 'handlers', label: 'Handlers', help: 'Stage handlers, e.g. demo.fetch.', from: 'handlers' },
  { key: 'stages', label: 'Stages', help: 'Stage names.', from: 'stages' },
  { key: 'pipelines', label: 'Pipelines', help: 'Pipeline names.', from: 'pipelines' },
  { key: 'tagsInclude', label: 'Tags (all required)', help: 'Keyword values a pipeline must all have.', from: 'tags' },
  { key: 'tagsExclude', label: 'Tags (excluded)', help: 'Keyword values a pipeline must not have.', from: 'tags' },
]

function StepTargeting({
  form,
  errorFor,
  setTargeting,
  appName,
}: {
  form: PolicyForm
  errorFor: (field: string) => string | undefined
  setTargeting: (change: Partial<Targeting>) => void
  appName: (id: number) => string
}) {
  const targets = usePolicyTargets(form.applicationId)
  const t = form.targeting
  return (
    <div className="grid grid-cols-[1fr_1fr] gap-5">
      <div className="space-y-3" data-testid="targeting-form">
        <p className="text-xs text-slate-500">
          Every filled list narrows what the policy applies to; leave them all empty to apply to every stage
          {form.applicationId === null ? ' of every application' : ' of the application'}. Names compare ignoring case.
        </p>
        {targets.isError && (
          <p className="text-xs text-amber-700 dark:text-amber-400">Suggestions unavailable: {errorMessage(targets.error)}</p>
        )}
        {TARGET_FIELDS.map((f) => (
          <TagInput
            key={f.key}
            name={f.key}
            label={f.label}
            help={f.help}
            values={t[f.key]}
            suggestions={targets.data?.[f.from]}
            error={errorFor(f.key) && fieldMessage(f.label, errorFor(f.key)!)}
            placeholder="type and press Enter"
            onChange={(values) => setTargeting({ [f.key]: values })}
          />
        ))}
        <Field label="Environment" error={errorFor('environment')} help={`"${ENV_ALL}" matches every pipeline; otherwise the pipeline's environment (or env) context item.`} htmlFor="policy-environment">
          <input
            id="policy-environment"
            name="environment"
            list="policy-environments"
            value={t.environment}
            onChange={(e) => setTargeting({ environment: e.target.value })}
            className={`input w-64 ${errorFor('environment') ? 'border-red-500' : ''}`}
          />
          <datalist id="policy-environments">
            {(targets.data?.environments ?? [ENV_ALL]).map((env) => (
              <option key={env} value={env} />
            ))}
          </datalist>
        </Field>
      </div>
      <TargetingPreview targeting={t} applicationId={form.applicationId} appName={appName} />
    </div>
  )
}

// -- step 4 ----------------------------------------------------------------------------------

function StepReview({
  form,
  body,
  creating,
  appName,
  startActive,
  setStartActive,
  problems,
}: {
  form: PolicyForm
  body: unknown
  creating: boolean
  appName: string
  startActive: boolean
  setStartActive: (v: boolean) => void
  problems: Record<1 | 2 | 3, FieldErrors>
}) {
  const rule = (body as { rule: Record<string, unknown> }).rule
  const invalid = ([1, 2, 3] as const).filter((s) => Object.keys(problems[s]).length > 0)
  return (
    <div className="grid grid-cols-[1fr_1fr] gap-5" data-testid="policy-review">
      <div>
        <dl className="grid grid-cols-[8rem_1fr] gap-x-3 gap-y-2 text-sm">
          <dt className="text-slate-500">Name</dt>
          <dd className="font-medium" data-testid="review-name">{form.name.trim() || '—'}</dd>
          <dt className="text-slate-500">Application</dt>
          <dd>{appName}</dd>
          <dt className="text-slate-500">Type</dt>
          <dd>{TYPE_LABELS[form.type]}</dd>
          <dt className="text-slate-500">Rule</dt>
          <dd>{ruleSummary(form.type, rule)}</dd>
          <dt className="text-slate-500">Applies to</dt>
          <dd>{targetsSummary(form.targeting)}</dd>
        </dl>
        {creating && (
          <label className="mt-4 flex items-center gap-2 text-sm">
            <input type="checkbox" name="startActive" checked={startActive} onChange={(e) => setStartActive(e.target.checked)} />
            Start active (otherwise it is created disabled)
          </label>
        )}
        {invalid.length > 0 && (
          <p role="alert" className="mt-3 text-sm text-red-600 dark:text-red-400">
            Fix step {invalid.join(' and ')} before saving.
          </p>
        )}
      </div>
      <div>
        <div className="mb-1 text-xs font-medium text-slate-500">Request</div>
        <pre
          data-testid="policy-review-json"
          className="max-h-80 overflow-auto rounded-md border border-slate-200 bg-slate-50 p-3 font-mono text-xs dark:border-slate-800 dark:bg-slate-950"
        >
          {JSON.stringify(body, null, 2)}
        </pre>
      </div>
    </div>
  )
}
