// Action policies (SPEC §6): the API's shapes, the wizard's form ↔ request body mapping with
// client-side checks that mirror the server's (pipelogiq/policies.py), the list filters ↔ URL,
// and small presentation helpers. No React here.

export const POLICY_TYPES = ['rate_limit', 'retry', 'timeout', 'circuit_breaker'] as const
export type PolicyType = (typeof POLICY_TYPES)[number]
export const POLICY_STATUSES = ['active', 'paused', 'disabled'] as const
export type PolicyStatus = (typeof POLICY_STATUSES)[number]
export const KEY_BY = ['global', 'tenant', 'handler', 'pipeline', 'custom'] as const
export type KeyBy = (typeof KEY_BY)[number]
export const BACKOFFS = ['fixed', 'exponential'] as const
export type Backoff = (typeof BACKOFFS)[number]
export const ENV_ALL = 'all'

/** What the server allows (pipelogiq/policies.py). */
export const LIMITS = { name: 200, items: 500, itemLength: 200, maxInt: 2 ** 53, maxAttempts: 100 }

export interface Targeting {
  pipelines: string[]
  stages: string[]
  handlers: string[]
  tagsInclude: string[]
  tagsExclude: string[]
  environment: string
}

export const TARGET_LISTS = ['pipelines', 'stages', 'handlers', 'tagsInclude', 'tagsExclude'] as const
export type TargetList = (typeof TARGET_LISTS)[number]

export interface Policy {
  id: number
  applicationId: number | null
  name: string
  type: PolicyType
  status: PolicyStatus
  rule: Record<string, unknown>
  targeting: Targeting
  version: number
  createdAt: string
  updatedAt: string
  createdBy: string | null
  updatedBy: string | null
  triggers24h: number
  lastTriggeredAt: string | null
}

export interface PolicyEvent {
  id: number
  policyId: number
  kind: string
  version: number
  actor: string | null
  createdAt: string
  details: { before?: Record<string, unknown>; after?: Record<string, unknown>; [k: string]: unknown } | null
}

export interface AuditPage {
  policyId: number
  deleted: boolean
  items: PolicyEvent[]
  totalCount: number
  pageNumber: number
  pageSize: number
}

export interface Insights {
  policyId: number
  from: string
  to: string
  bucketSeconds: number
  total: number
  lastTriggeredAt: string | null
  series: { start: string; count: number }[]
  byStage: { stageName: string; count: number }[]
  byHandler: { handler: string; count: number }[]
}

export interface Targets {
  pipelines: string[]
  stages: string[]
  handlers: string[]
  tags: string[]
  environments: string[]
}

export interface Preview {
  targeting: Targeting
  scannedPipelines: number
  matchedPipelines: number
  matchedStages: number
  handlers: string[]
  pipelines: {
    id: number
    name: string
    applicationId: number
    environment: string | null
    stages: { id: number; name: string; handler: string }[]
  }[]
}

export const TYPE_LABELS: Record<PolicyType, string> = {
  rate_limit: 'Rate limit',
  retry: 'Retry',
  timeout: 'Timeout',
  circuit_breaker: 'Circuit breaker',
}

export const TYPE_DESCRIPTIONS: Record<PolicyType, string> = {
  rate_limit: 'Caps how many matching stages are dispatched per time window; the rest wait (never fail).',
  retry: 'Overrides how matching stages are retried after a failed result: attempts, backoff, error codes.',
  timeout: 'Overrides how long a matching stage may run before it times out.',
  circuit_breaker: 'After repeated failures, holds matching stages for a while, then lets a few through to test.',
}

export const STATUS_LABELS: Record<PolicyStatus, string> = {
  active: 'Active',
  paused: 'Paused',
  disabled: 'Disabled',
}

export function typeLabel(type: string): string {
  return (TYPE_LABELS as Record<string, string>)[type] ?? type
}

export function isPolicyType(v: unknown): v is PolicyType {
  return typeof v === 'string' && (POLICY_TYPES as readonly string[]).includes(v)
}

export function isPolicyStatus(v: unknown): v is PolicyStatus {
  return typeof v === 'string' && (POLICY_STATUSES as readonly string[]).includes(v)
}

// -- the wizard's form -----------------------------------------------------------------------

export type Jitter = 'default' | 'on' | 'off' | 'ratio'

/** Every type's fields as typed text, so switching type in the wizard keeps what was typed. */
export interface RuleForms {
  rate_limit: { limit: string; windowSeconds: string; keyBy: KeyBy; keyField: string; burst: string }
  retry: {
    maxAttempts: string
    backoff: Backoff
    baseDelayMs: string
    maxDelayMs: string
    jitter: Jitter
    jitterRatio: string
    errorCodes: string
  }
  timeout: { timeoutMs: string; appliesTo: 'step' }
  circuit_breaker: { failureThreshold: string; windowSeconds: string; openSeconds: string; halfOpenMaxCalls: string }
}

export interface PolicyForm {
  name: string
  type: PolicyType
  /** null: global (every application; only an Admin creates one) */
  applicationId: number | null
  rules: RuleForms
  targeting: Targeting
}

export const EMPTY_TARGETING: Targeting = {
  pipelines: [],
  stages: [],
  handlers: [],
  tagsInclude: [],
  tagsExclude: [],
  environment: ENV_ALL,
}

export function defaultRules(): RuleForms {
  return {
    rate_limit: { limit: '100', windowSeconds: '60', keyBy: 'global', keyField: '', burst: '' },
    retry: {
      maxAttempts: '3',
      backoff: 'exponential',
      baseDelayMs: '1000',
      maxDelayMs: '',
      jitter: 'default',
      jitterRatio: '',
      errorCodes: '',
    },
    timeout: { timeoutMs: '30000', appliesTo: 'step' },
    circuit_breaker: { failureThreshold: '5', windowSeconds: '60', openSeconds: '30', halfOpenMaxCalls: '1' },
  }
}

export function emptyForm(applicationId: number | null): PolicyForm {
  return { name: '', type: 'rate_limit', applicationId, rules: defaultRules(), targeting: { ...EMPTY_TARGETING } }
}

function text(v: unknown): string {
  return typeof v === 'number' ? String(v) : typeof v === 'string' ? v : ''
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []
}

export function normalTargeting(t: Partial<Targeting> | null | undefined): Targeting {
  return {
    pipelines: strings(t?.pipelines),
    stages: strings(t?.stages),
    handlers: strings(t?.handlers),
    tagsInclude: strings(t?.tagsInclude),
    tagsExclude: strings(t?.tagsExclude),
    environment: typeof t?.environment === 'string' && t.environment.trim() ? t.environment : ENV_ALL,
  }
}

/** The wizard's form for editing `policy` (the other types keep their defaults). */
export function formFromPolicy(policy: Policy): PolicyForm {
  const rules = defaultRules()
  const r = policy.rule ?? {}
  switch (policy.type) {
    case 'rate_limit':
      rules.rate_limit = {
        limit: text(r.limit),
        windowSeconds: text(r.windowSeconds),
        keyBy: (KEY_BY as readonly string[]).includes(String(r.keyBy)) ? (r.keyBy as KeyBy) : 'global',
        keyField: text(r.keyField),
        burst: text(r.burst),
      }
      break
    case 'retry': {
      const j = r.jitter
      const retryOn = r.retryOn as { errorCodes?: unknown } | undefined
      rules.retry = {
        maxAttempts: text(r.maxAttempts),
        backoff: r.backoff === 'fixed' ? 'fixed' : 'exponential',
        baseDelayMs: text(r.baseDelayMs),
        maxDelayMs: text(r.maxDelayMs),
        jitter: j === true ? 'on' : j === false ? 'off' : typeof j === 'number' ? 'ratio' : 'default',
        jitterRatio: typeof j === 'number' ? String(j) : '',
        errorCodes: strings(retryOn?.errorCodes).join(', '),
      }
      break
    }
    case 'timeout':
      rules.timeout = { timeoutMs: text(r.timeoutMs), appliesTo: 'step' }
      break
    case 'circuit_breaker':
      rules.circuit_breaker = {
        failureThreshold: text(r.failureThreshold),
        windowSeconds: text(r.windowSeconds),
        openSeconds: text(r.openSeconds),
        halfOpenMaxCalls: text(r.halfOpenMaxCalls),
      }
      break
  }
  return {
    name: policy.name,
    type: policy.type,
    applicationId: policy.applicationId,
    rules,
    targeting: normalTargeting(policy.targeting),
  }
}

// -- checks mirroring the server -------------------------------------------------------------

/** field name → message; empty when valid */
export type FieldErrors = Record<string, string>

type IntResult = { value: number | undefined; error?: string }

function rangeText(lo: number, hi: number): string {
  if (hi === LIMITS.maxInt) return lo === 1 ? 'must be greater than 0' : `must be at least ${lo}`
  return `must be between ${lo} and ${hi}`
}

/** An integer field as the server reads it (`rule.<name>` in messages). */
export function readInt(
  raw: string,
  opts: { lo: number; hi?: number; required?: boolean; rule?: string },
): IntResult {
  const t = raw.trim()
  if (!t) return opts.required === false ? { value: undefined } : { value: undefined, error: 'is required' }
  if (!/^[-+]?\d+(\.0+)?$/.test(t)) return { value: undefined, error: 'expected an integer' }
  const n = Number(t)
  const hi = opts.hi ?? LIMITS.maxInt
  if (n < opts.lo || n > hi) return { value: undefined, error: opts.rule ?? rangeText(opts.lo, hi) }
  return { value: n }
}

/** Comma- or newline-separated values, trimmed, empty ones and case-insensitive repeats dropped. */
export function splitList(textValue: string): string[] {
  const seen = new Set<string>()
  const out: string[] = []
  for (const part of textValue.split(/[,\n]/)) {
    const item = part.trim()
    if (!item || seen.has(item.toLowerCase())) continue
    seen.add(item.toLowerCase())
    out.push(item)
  }
  return out
}

export interface RuleResult {
  rule: Record<string, unknown>
  errors: FieldErrors
}

/**
 * The `rule` of a request for `type` from the form, and the errors the server would answer
 * (keyed by field). Optional fields left empty are omitted; `keyField` is only sent for
 * `keyBy: custom` (the server refuses it otherwise).
 */
export function ruleFromForm(type: PolicyType, rules: RuleForms): RuleResult {
  const errors: FieldErrors = {}
  const rule: Record<string, unknown> = {}
  const int = (field: string, raw: string, opts: Parameters<typeof readInt>[1]) => {
    const r = readInt(raw, opts)
    if (r.error) errors[field] = r.error
    else if (r.value !== undefined) rule[field] = r.value
    return r.value
  }
  switch (type) {
    case 'rate_limit': {
      const f = rules.rate_limit
      const limit = int('limit', f.limit, { lo: 1 })
      int('windowSeconds', f.windowSeconds, { lo: 1 })
      rule.keyBy = f.keyBy
      if (f.keyBy === 'custom') {
        const key = f.keyField.trim()
        if (!key) errors.keyField = 'is required when keyBy is custom (the context item to key the limit by)'
        else if (key.length > LIMITS.itemLength) errors.keyField = `longer than ${LIMITS.itemLength} characters`
        else rule.keyField = key
      }
      if (limit !== undefined) int('burst', f.burst, { lo: limit, required: false, rule: `must be at least limit (${limit})` })
      else if (f.burst.trim()) int('burst', f.burst, { lo: 1, required: false })
      break
    }
    case 'retry': {
      const f = rules.retry
      int('maxAttempts', f.maxAttempts, { lo: 1, hi: LIMITS.maxAttempts })
      rule.backoff = f.backoff
      const base = int('baseDelayMs', f.baseDelayMs, { lo: 1 })
      if (base !== undefined) {
        int('maxDelayMs', f.maxDelayMs, { lo: base, required: false, rule: `must be at least baseDelayMs (${base})` })
      } else if (f.maxDelayMs.trim()) int('maxDelayMs', f.maxDelayMs, { lo: 1, required: false })
      if (f.jitter === 'on') rule.jitter = true
      else if (f.jitter === 'off') rule.jitter = false
      else if (f.jitter === 'ratio') {
        const t = f.jitterRatio.trim()
        const n = Number(t)
        if (!t || !Number.isFinite(n) || n < 0 || n > 1) errors.jitter = 'expected a ratio between 0 and 1'
        else rule.jitter = n
      }
      const codes = splitList(f.errorCodes)
      if (codes.length > LIMITS.items) errors.errorCodes = `more than ${LIMITS.items} items`
      else if (codes.some((c) => c.length > LIMITS.itemLength)) errors.errorCodes = `an item is longer than ${LIMITS.itemLength} characters`
      else if (codes.length) rule.retryOn = { errorCodes: codes }
      break
    }
    case 'timeout':
      int('timeoutMs', rules.timeout.timeoutMs, { lo: 1 })
      rule.appliesTo = 'step'
      break
    case 'circuit_breaker': {
      const f = rules.circuit_breaker
      int('failureThreshold', f.failureThreshold, { lo: 1 })
      int('windowSeconds', f.windowSeconds, { lo: 1 })
      int('openSeconds', f.openSeconds, { lo: 1 })
      int('halfOpenMaxCalls', f.halfOpenMaxCalls, { lo: 1 })
      break
    }
  }
  return { rule, errors }
}

export function nameError(name: string): string | undefined {
  const t = name.trim()
  if (!t) return 'is required'
  if (t.length > LIMITS.name) return `longer than ${LIMITS.name} characters`
  return undefined
}

/** Errors of a targeting, keyed by list name (or `environment`). */
export function targetingErrors(t: Targeting): FieldErrors {
  const errors: FieldErrors = {}
  for (const key of TARGET_LISTS) {
    const list = t[key]
    if (list.length > LIMITS.items) errors[key] = `more than ${LIMITS.items} items`
    else if (list.some((s) => !s.trim())) errors[key] = 'empty strings are not allowed'
    else if (list.some((s) => s.trim().length > LIMITS.itemLength)) errors[key] = `an item is longer than ${LIMITS.itemLength} characters`
  }
  const env = t.environment.trim()
  if (!env) errors.environment = 'expected a non-empty string (or "all")'
  else if (env.length > LIMITS.itemLength) errors.environment = `longer than ${LIMITS.itemLength} characters`
  return errors
}

/** The targeting as sent: trimmed items, case-insensitive repeats dropped, `all` by default. */
export function targetingBody(t: Targeting): Targeting {
  const clean = (list: string[]) => splitList(list.join('\n'))
  return {
    pipelines: clean(t.pipelines),
    stages: clean(t.stages),
    handlers: clean(t.handlers),
    tagsInclude: clean(t.tagsInclude),
    tagsExclude: clean(t.tagsExclude),
    environment: t.environment.trim() || ENV_ALL,
  }
}

export type WizardStep = 1 | 2 | 3 | 4

export interface FormCheck {
  /** by step: the fields with a problem */
  errors: Record<1 | 2 | 3, FieldErrors>
  /** the first step with a problem, or null */
  firstInvalidStep: 1 | 2 | 3 | null
}

export function checkForm(form: PolicyForm, opts: { creating: boolean; isAdmin: boolean }): FormCheck {
  const step1: FieldErrors = {}
  const n = nameError(form.name)
  if (n) step1.name = n
  if (opts.creating && form.applicationId === null && !opts.isAdmin) {
    step1.applicationId = 'is required (only an Admin can create a global policy)'
  }
  const step2 = ruleFromForm(form.type, form.rules).errors
  const step3 = targetingErrors(form.targeting)
  const errors = { 1: step1, 2: step2, 3: step3 }
  const firstInvalidStep = ([1, 2, 3] as const).find((s) => Object.keys(errors[s]).length > 0) ?? null
  return { errors, firstInvalidStep }
}

export interface PolicyBody {
  name: string
  type: PolicyType
  rule: Record<string, unknown>
  targeting: Targeting
  applicationId?: number
  status?: PolicyStatus
  version?: number
}

/**
 * The POST (create, optionally starting with `status`) or PUT (update, with the version it was
 * read at) body.
 */
export function requestBody(
  form: PolicyForm,
  opts: { creating: boolean; version?: number; status?: PolicyStatus },
): PolicyBody {
  const body: PolicyBody = {
    name: form.name.trim(),
    type: form.type,
    rule: ruleFromForm(form.type, form.rules).rule,
    targeting: targetingBody(form.targeting),
  }
  if (opts.creating && form.applicationId !== null) body.applicationId = form.applicationId
  if (opts.creating && opts.status) body.status = opts.status
  if (!opts.creating && opts.version !== undefined) body.version = opts.version
  return body
}

export interface ServerErrorPlace {
  step: WizardStep
  field: string | null
}

/**
 * Where a 400's message belongs in the wizard: the server names the field first
 * (`rule.windowSeconds: must be …`, `targeting.handlers: …`, `name is required`).
 */
export function serverErrorPlace(message: string): ServerErrorPlace {
  const m = /^([A-Za-z_][\w.]*)(?=[: ]|$)/.exec(message.trim())
  const path = m?.[1] ?? ''
  const [head, sub] = path.split('.')
  if (head === 'name' || head === 'type' || head === 'applicationId') return { step: 1, field: head }
  if (head === 'rule' || head === 'rules') {
    const field = sub === 'retryOn' ? 'errorCodes' : (sub ?? null)
    return { step: 2, field }
  }
  if (head === 'targeting') return { step: 3, field: sub ?? null }
  if (/^application \d+ not found/.test(message)) return { step: 1, field: 'applicationId' }
  return { step: 4, field: null }
}

/** The message without its leading field path, for showing under that field. */
export function stripFieldPath(message: string): string {
  return message.replace(/^[A-Za-z_][\w.]*(:\s*|\s+(?=is\b))/, '')
}

/** A field's message with its label: "Window: must be greater than 0", "Limit is required". */
export function fieldMessage(label: string, message: string): string {
  return message.startsWith('is ') ? `${label} ${message}` : `${label}: ${message}`
}

// -- status actions --------------------------------------------------------------------------

export type StatusAction = 'enable' | 'disable' | 'pause' | 'resume'
export type PolicyAction = StatusAction | 'duplicate' | 'delete'

/** The status changes the server accepts from `status` (policies.TRANSITIONS), as offered. */
export function statusActions(status: PolicyStatus): StatusAction[] {
  switch (status) {
    case 'active':
      return ['pause', 'disable']
    case 'paused':
      return ['resume', 'disable']
    case 'disabled':
      return ['enable']
  }
}

export const ACTION_LABELS: Record<PolicyAction, string> = {
  enable: 'Enable',
  disable: 'Disable',
  pause: 'Pause',
  resume: 'Resume',
  duplicate: 'Duplicate',
  delete: 'Delete',
}

export const ACTION_DONE: Record<PolicyAction, string> = {
  enable: 'enabled',
  disable: 'disabled',
  pause: 'paused',
  resume: 'resumed',
  duplicate: 'duplicated',
  delete: 'deleted',
}

/** A global policy (no application) is changed only by an Admin. */
export function canChange(policy: Pick<Policy, 'applicationId'>, isAdmin: boolean): boolean {
  return policy.applicationId !== null || isAdmin
}

// -- presentation ----------------------------------------------------------------------------

const TARGET_LABELS: Record<TargetList, string> = {
  pipelines: 'pipelines',
  stages: 'stages',
  handlers: 'handlers',
  tagsInclude: 'tags',
  tagsExclude: 'not tags',
}

/** "handlers: demo.fetch · env: prod", or "Everything" when nothing narrows. */
export function targetsSummary(t: Targeting | null | undefined): string {
  const n = normalTargeting(t)
  const parts: string[] = []
  for (const key of TARGET_LISTS) {
    const list = n[key]
    if (!list.length) continue
    const shown = list.slice(0, 2).join(', ')
    parts.push(`${TARGET_LABELS[key]}: ${shown}${list.length > 2 ? ` +${list.length - 2}` : ''}`)
  }
  if (n.environment.toLowerCase() !== ENV_ALL) parts.push(`env: ${n.environment}`)
  return parts.length ? parts.join(' · ') : 'Everything'
}

/** One line describing a rule, e.g. "100 per 60 s, keyed by handler, burst 150". */
export function ruleSummary(type: string, rule: Record<string, unknown> | null | undefined): string {
  const r = rule ?? {}
  const has = (k: string) => r[k] !== undefined && r[k] !== null
  switch (type) {
    case 'rate_limit': {
      const key = r.keyBy === 'custom' ? `context item "${String(r.keyField)}"` : String(r.keyBy)
      return `${String(r.limit)} per ${String(r.windowSeconds)} s, keyed by ${key}${has('burst') ? `, burst ${String(r.burst)}` : ''}`
    }
    case 'retry': {
      const codes = (r.retryOn as { errorCodes?: string[] } | undefined)?.errorCodes
      return (
        `${String(r.maxAttempts)} attempts, ${String(r.backoff)} from ${String(r.baseDelayMs)} ms` +
        (has('maxDelayMs') ? ` up to ${String(r.maxDelayMs)} ms` : '') +
        (r.jitter === true ? ', jitter' : typeof r.jitter === 'number' ? `, jitter ${r.jitter}` : '') +
        (codes?.length ? `, on ${codes.join(', ')}` : '')
      )
    }
    case 'timeout':
      return `${String(r.timeoutMs)} ms per ${String(r.appliesTo ?? 'step')}`
    case 'circuit_breaker':
      return (
        `opens after ${String(r.failureThreshold)} failures in ${String(r.windowSeconds)} s, ` +
        `for ${String(r.openSeconds)} s, then ${String(r.halfOpenMaxCalls)} trial call(s)`
      )
    default:
      return JSON.stringify(r)
  }
}

export interface RuleFieldInfo {
  key: string
  label: string
  unit?: string
  help: string
}

/** The fields of each type's rule, in order, with their meaning. */
export const RULE_FIELDS: Record<PolicyType, RuleFieldInfo[]> = {
  rate_limit: [
    { key: 'limit', label: 'Limit', help: 'Stages dispatched per window (≥ 1).' },
    { key: 'windowSeconds', label: 'Window', unit: 's', help: 'Length of the window in seconds (≥ 1).' },
    { key: 'keyBy', label: 'Key by', help: 'One budget for everything, or one per application (tenant), handler, pipeline or context item.' },
    { key: 'keyField', label: 'Key field', help: 'The context item to key by (only with key by custom).' },
    { key: 'burst', label: 'Burst', help: 'Optional: how many may go at once (≥ limit).' },
  ],
  retry: [
    { key: 'maxAttempts', label: 'Max attempts', help: 'Attempts in all, 1–100.' },
    { key: 'backoff', label: 'Backoff', help: 'Fixed delay, or doubling from the base delay.' },
    { key: 'baseDelayMs', label: 'Base delay', unit: 'ms', help: 'Delay before the first retry (≥ 1).' },
    { key: 'maxDelayMs', label: 'Max delay', unit: 'ms', help: 'Optional cap on the delay (≥ base delay).' },
    { key: 'jitter', label: 'Jitter', help: 'Optional: randomize delays (on, off, or a ratio 0–1).' },
    { key: 'retryOn', label: 'Retry on error codes', help: "Optional: only retry results with one of these errorCode values." },
  ],
  timeout: [
    { key: 'timeoutMs', label: 'Timeout', unit: 'ms', help: 'How long a stage may run (≥ 1).' },
    { key: 'appliesTo', label: 'Applies to', help: 'Each step (stage attempt).' },
  ],
  circuit_breaker: [
    { key: 'failureThreshold', label: 'Failure threshold', help: 'Failures that open the breaker (≥ 1).' },
    { key: 'windowSeconds', label: 'Window', unit: 's', help: 'Failures are counted over this many seconds (≥ 1).' },
    { key: 'openSeconds', label: 'Open for', unit: 's', help: 'How long matching stages are held once open (≥ 1).' },
    { key: 'halfOpenMaxCalls', label: 'Half-open calls', help: 'Trial calls let through after that (≥ 1).' },
  ],
}

export function formatRuleValue(value: unknown): string {
  if (value === undefined || value === null) return '—'
  if (typeof value === 'object') {
    const codes = (value as { errorCodes?: unknown }).errorCodes
    if (Array.isArray(codes)) return codes.join(', ') || '—'
    return JSON.stringify(value)
  }
  return String(value)
}

// -- list filters ↔ URL ----------------------------------------------------------------------

export const SORT_KEYS = ['name', 'type', 'updatedAt'] as const
export type SortKey = (typeof SORT_KEYS)[number]

export interface PolicyFilters {
  search: string
  type: PolicyType | ''
  status: PolicyStatus | ''
  applicationId: number | null
  sortBy: SortKey
  sortDir: 'asc' | 'desc'
  page: number
  pageSize: number
}

export const POLICY_PAGE_SIZE = 25

export const DEFAULT_POLICY_FILTERS: PolicyFilters = {
  search: '',
  type: '',
  status: '',
  applicationId: null,
  sortBy: 'updatedAt',
  sortDir: 'desc',
  page: 1,
  pageSize: POLICY_PAGE_SIZE,
}

/** The direction a column sorts in first: newest first for time, A→Z otherwise. */
export function defaultDir(key: SortKey): 'asc' | 'desc' {
  return key === 'updatedAt' ? 'desc' : 'asc'
}

export function policyFiltersFromSearch(params: URLSearchParams): PolicyFilters {
  const f: PolicyFilters = { ...DEFAULT_POLICY_FILTERS }
  f.search = (params.get('q') ?? '').trim()
  const type = params.get('type')
  if (isPolicyType(type)) f.type = type
  const status = params.get('status')
  if (isPolicyStatus(status)) f.status = status
  const app = Number(params.get('app'))
  if (Number.isInteger(app) && app > 0) f.applicationId = app
  const sort = params.get('sort')
  if ((SORT_KEYS as readonly string[]).includes(sort ?? '')) f.sortBy = sort as SortKey
  const dir = params.get('dir')
  f.sortDir = dir === 'asc' || dir === 'desc' ? dir : defaultDir(f.sortBy)
  const page = Number(params.get('page'))
  if (Number.isInteger(page) && page > 1) f.page = page
  return f
}

/** Only what differs from the defaults; `keep` carries other parameters (the open drawer). */
export function policyFiltersToSearch(f: PolicyFilters, keep?: URLSearchParams): URLSearchParams {
  const p = new URLSearchParams()
  if (f.search.trim()) p.set('q', f.search.trim())
  if (f.type) p.set('type', f.type)
  if (f.status) p.set('status', f.status)
  if (f.applicationId !== null) p.set('app', String(f.applicationId))
  if (f.sortBy !== DEFAULT_POLICY_FILTERS.sortBy) p.set('sort', f.sortBy)
  if (f.sortDir !== defaultDir(f.sortBy)) p.set('dir', f.sortDir)
  if (f.page > 1) p.set('page', String(f.page))
  const policy = keep?.get('policy')
  if (policy) p.set('policy', policy)
  return p
}

export function policyFiltersToApi(f: PolicyFilters): Record<string, string | number | undefined> {
  return {
    search: f.search.trim() || undefined,
    type: f.type || undefined,
    status: f.status || undefined,
    applicationId: f.applicationId ?? undefined,
    sortBy: f.sortBy,
    sortDir: f.sortDir,
    pageNumber: f.page,
    pageSize: f.pageSize,
  }
}

/** Clicking a column header: a new column sorts in its default direction, the same one flips. */
export function nextSort(f: PolicyFilters, key: SortKey): Pick<PolicyFilters, 'sortBy' | 'sortDir'> {
  if (f.sortBy !== key) return { sortBy: key, sortDir: defaultDir(key) }
  return { sortBy: key, sortDir: f.sortDir === 'asc' ? 'desc' : 'asc' }
}

// -- audit -----------------------------------------------------------------------------------

export interface DiffRow {
  field: string
  before: unknown
  after: unknown
}

/**
 * The rows of an audit event's before/after diff. `rule` and `targeting` are compared one level
 * deeper (`rule.limit`), so a change shows only what moved. A `created`/`duplicated` event lists
 * its `after` snapshot; a `deleted` one its `before`.
 */
export function diffRows(details: PolicyEvent['details']): DiffRow[] {
  if (!details) return []
  const before = (details.before ?? {}) as Record<string, unknown>
  const after = (details.after ?? {}) as Record<string, unknown>
  const rows: DiffRow[] = []
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
  for (const key of keys) {
    const b = before[key]
    const a = after[key]
    const nested = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v)
    if ((key === 'rule' || key === 'targeting') && (nested(b) || nested(a))) {
      const bo = (nested(b) ? b : {}) as Record<string, unknown>
      const ao = (nested(a) ? a : {}) as Record<string, unknown>
      for (const sub of [...new Set([...Object.keys(bo), ...Object.keys(ao)])]) {
        if (JSON.stringify(bo[sub]) === JSON.stringify(ao[sub]) && key in before && key in after) continue
        rows.push({ field: `${key}.${sub}`, before: key in before ? bo[sub] : undefined, after: key in after ? ao[sub] : undefined })
      }
    } else {
      rows.push({ field: key, before: key in before ? b : undefined, after: key in after ? a : undefined })
    }
  }
  return rows
}

export function formatValue(v: unknown): string {
  if (v === undefined) return ''
  if (v === null) return 'null'
  if (typeof v === 'string') return v
  return JSON.stringify(v)
}

export const EVENT_LABELS: Record<string, string> = {
  created: 'Created',
  updated: 'Updated',
  enabled: 'Enabled',
  disabled: 'Disabled',
  paused: 'Paused',
  resumed: 'Resumed',
  duplicated: 'Duplicated',
  deleted: 'Deleted',
}
