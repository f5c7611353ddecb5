import { describe, expect, it } from 'vitest'
import { buildQuery } from '../../lib/api'
import {
  DEFAULT_POLICY_FILTERS,
  checkForm,
  defaultRules,
  diffRows,
  emptyForm,
  fieldMessage,
  formFromPolicy,
  nextSort,
  policyFiltersFromSearch,
  policyFiltersToApi,
  policyFiltersToSearch,
  readInt,
  requestBody,
  ruleFromForm,
  ruleSummary,
  serverErrorPlace,
  splitList,
  statusActions,
  stripFieldPath,
  targetingBody,
  targetingErrors,
  targetsSummary,
  type Policy,
  type PolicyForm,
  type RuleForms,
} from './model'

function rules(change: Partial<{ [K in keyof RuleForms]: Partial<RuleForms[K]> }>): RuleForms {
  const r = defaultRules()
  return {
    rate_limit: { ...r.rate_limit, ...change.rate_limit },
    retry: { ...r.retry, ...change.retry },
    timeout: { ...r.timeout, ...change.timeout },
    circuit_breaker: { ...r.circuit_breaker, ...change.circuit_breaker },
  }
}

function policy(over: Partial<Policy> = {}): Policy {
  return {
    id: 7,
    applicationId: 2,
    name: 'fetch limit',
    type: 'rate_limit',
    status: 'active',
    rule: { limit: 10, windowSeconds: 60, keyBy: 'handler' },
    targeting: { pipelines: [], stages: [], handlers: ['demo.fetch'], tagsInclude: [], tagsExclude: [], environment: 'all' },
    version: 3,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    createdBy: 'a@example.com',
    updatedBy: 'a@example.com',
    triggers24h: 0,
    lastTriggeredAt: null,
    ...over,
  }
}

describe('integer fields read like the server', () => {
  it('accepts integers within the range', () => {
    expect(readInt('5', { lo: 1 })).toEqual({ value: 5 })
    expect(readInt(' 100 ', { lo: 1, hi: 100 })).toEqual({ value: 100 })
    expect(readInt('3.0', { lo: 1 })).toEqual({ value: 3 })
  })
  it('says what is wrong in the server’s words', () => {
    expect(readInt('', { lo: 1 }).error).toBe('is required')
    expect(readInt('', { lo: 1, required: false })).toEqual({ value: undefined })
    expect(readInt('1.5', { lo: 1 }).error).toBe('expected an integer')
    expect(readInt('ten', { lo: 1 }).error).toBe('expected an integer')
    expect(readInt('0', { lo: 1 }).error).toBe('must be greater than 0')
    expect(readInt('-3', { lo: 1 }).error).toBe('must be greater than 0')
    expect(readInt('101', { lo: 1, hi: 100 }).error).toBe('must be between 1 and 100')
    expect(readInt(String(2 ** 53 + 2), { lo: 1 }).error).toBe('must be greater than 0')
    expect(readInt('4', { lo: 5, rule: 'must be at least limit (5)' }).error).toBe('must be at least limit (5)')
  })
})

describe('rule form → request rule', () => {
  it('rate_limit: numbers, keyBy, optional burst; keyField only for custom', () => {
    expect(ruleFromForm('rate_limit', rules({ rate_limit: { limit: '10', windowSeconds: '60', keyBy: 'handler', keyField: 'ignored' } }))).toEqual({
      rule: { limit: 10, windowSeconds: 60, keyBy: 'handler' },
      errors: {},
    })
    expect(
      ruleFromForm('rate_limit', rules({ rate_limit: { limit: '10', windowSeconds: '1', keyBy: 'custom', keyField: ' customer ', burst: '15' } })),
    ).toEqual({ rule: { limit: 10, windowSeconds: 1, keyBy: 'custom', keyField: 'customer', burst: 15 }, errors: {} })
  })

  it('rate_limit: mirrors the server ranges', () => {
    const r = ruleFromForm('rate_limit', rules({ rate_limit: { limit: '0', windowSeconds: '', keyBy: 'custom', keyField: ' ', burst: '3' } }))
    expect(r.errors).toEqual({
      limit: 'must be greater than 0',
      windowSeconds: 'is required',
      keyField: 'is required when keyBy is custom (the context item to key the limit by)',
    })
    expect(ruleFromForm('rate_limit', rules({ rate_limit: { limit: '5', burst: '3' } })).errors).toEqual({
      burst: 'must be at least limit (5)',
    })
  })

  it('retry: backoff, delays, jitter forms and error codes', () => {
    expect(ruleFromForm('retry', rules({ retry: { maxAttempts: '4', backoff: 'fixed', baseDelayMs: '500' } }))).toEqual({
      rule: { maxAttempts: 4, backoff: 'fixed', baseDelayMs: 500 },
      errors: {},
    })
    const full = ruleFromForm(
      'retry',
      rules({
        retry: { maxAttempts: '3', backoff: 'exponential', baseDelayMs: '100', maxDelayMs: '5000', jitter: 'ratio', jitterRatio: '0.25', errorCodes: 'TIMEOUT, timeout,\nHTTP_503, ' },
      }),
    )
    expect(full).toEqual({
      rule: { maxAttempts: 3, backoff: 'exponential', baseDelayMs: 100, maxDelayMs: 5000, jitter: 0.25, retryOn: { errorCodes: ['TIMEOUT', 'HTTP_503'] } },
      errors: {},
    })
    expect(ruleFromForm('retry', rules({ retry: { jitter: 'on' } })).rule.jitter).toBe(true)
    expect(ruleFromForm('retry', rules({ retry: { jitter: 'off' } })).rule.jitter).toBe(false)
    expect('jitter' in ruleFromForm('retry', rules({ retry: { jitter: 'default' } })).rule).toBe(false)
  })

  it('retry: mirrors the server ranges', () => {
    expect(ruleFromForm('retry', rules({ retry: { maxAttempts: '101' } })).errors).toEqual({ maxAttempts: 'must be between 1 and 100' })
    expect(ruleFromForm('retry', rules({ retry: { baseDelayMs: '1000', maxDelayMs: '999' } })).errors).toEqual({
      maxDelayMs: 'must be at least baseDelayMs (1000)',
    })
    expect(ruleFromForm('retry', rules({ retry: { jitter: 'ratio', jitterRatio: '1.5' } })).errors).toEqual({
      jitter: 'expected a ratio between 0 and 1',
    })
    expect(ruleFromForm('retry', rules({ retry: { errorCodes: 'x'.repeat(201) } })).errors).toEqual({
      errorCodes: 'an item is longer than 200 characters',
    })
  })

  it('timeout and circuit_breaker', () => {
    expect(ruleFromForm('timeout', rules({ timeout: { timeoutMs: '2500' } }))).toEqual({
      rule: { timeoutMs: 2500, appliesTo: 'step' },
      errors: {},
    })
    expect(ruleFromForm('timeout', rules({ timeout: { timeoutMs: '0' } })).errors).toEqual({ timeoutMs: 'must be greater than 0' })
    expect(ruleFromForm('circuit_breaker', rules({}))).toEqual({
      rule: { failureThreshold: 5, windowSeconds: 60, openSeconds: 30, halfOpenMaxCalls: 1 },
      errors: {},
    })
    expect(ruleFromForm('circuit_breaker', rules({ circuit_breaker: { openSeconds: '', halfOpenMaxCalls: 'x' } })).errors).toEqual({
      openSeconds: 'is required',
      halfOpenMaxCalls: 'expected an integer',
    })
  })

  it('only the chosen type is sent, whatever the others hold', () => {
    const form: PolicyForm = { ...emptyForm(2), name: ' n ', type: 'timeout', rules: rules({ rate_limit: { limit: 'bad' } }) }
    expect(checkForm(form, { creating: true, isAdmin: false }).firstInvalidStep).toBeNull()
    expect(requestBody(form, { creating: true }).rule).toEqual({ timeoutMs: 30000, appliesTo: 'step' })
  })
})

describe('request body', () => {
  const form: PolicyForm = {
    ...emptyForm(2),
    name: '  fetch limit ',
    rules: rules({ rate_limit: { limit: '10', windowSeconds: '60', keyBy: 'handler' } }),
    targeting: { pipelines: [], stages: [' fetch ', 'FETCH'], handlers: ['demo.fetch'], tagsInclude: [], tagsExclude: [], environment: ' ' },
  }

  it('create: trimmed name, application, status, cleaned targeting', () => {
    expect(requestBody(form, { creating: true, status: 'disabled' })).toEqual({
      name: 'fetch limit',
      type: 'rate_limit',
      rule: { limit: 10, windowSeconds: 60, keyBy: 'handler' },
      targeting: { pipelines: [], stages: ['fetch'], handlers: ['demo.fetch'], tagsInclude: [], tagsExclude: [], environment: 'all' },
      applicationId: 2,
      status: 'disabled',
    })
    expect('applicationId' in requestBody({ ...form, applicationId: null }, { creating: true })).toBe(false)
  })

  it('update: the version it was read at, no application or status', () => {
    const body = requestBody(form, { creating: false, version: 3, status: 'active' })
    expect(body.version).toBe(3)
    expect('applicationId' in body).toBe(false)
    expect('status' in body).toBe(false)
  })

  it('edit starts from the policy and sends it back unchanged', () => {
    const p = policy({
      type: 'retry',
      rule: { maxAttempts: 3, backoff: 'fixed', baseDelayMs: 200, maxDelayMs: 800, jitter: 0.5, retryOn: { errorCodes: ['A', 'B'] } },
    })
    const f = formFromPolicy(p)
    expect(f.rules.retry).toMatchObject({ jitter: 'ratio', jitterRatio: '0.5', errorCodes: 'A, B' })
    expect(requestBody(f, { creating: false, version: p.version })).toEqual({
      name: p.name,
      type: 'retry',
      rule: p.rule,
      targeting: p.targeting,
      version: 3,
    })
    const rl = policy({ rule: { limit: 10, windowSeconds: 60, keyBy: 'custom', keyField: 'customer', burst: 20 } })
    expect(requestBody(formFromPolicy(rl), { creating: false }).rule).toEqual(rl.rule)
  })
})

describe('form checks by step', () => {
  it('finds the first step with a problem', () => {
    const base = emptyForm(null)
    expect(checkForm(base, { creating: true, isAdmin: false })).toMatchObject({
      firstInvalidStep: 1,
      errors: { 1: { name: 'is required', applicationId: 'is required (only an Admin can create a global policy)' } },
    })
    // an Admin may create a global policy
    expect(checkForm({ ...base, name: 'x' }, { creating: true, isAdmin: true }).firstInvalidStep).toBeNull()
    const badRule = { ...base, name: 'x', rules: rules({ rate_limit: { windowSeconds: '0' } }) }
    expect(checkForm(badRule, { creating: true, isAdmin: true })).toMatchObject({
      firstInvalidStep: 2,
      errors: { 2: { windowSeconds: 'must be greater than 0' } },
    })
    const badTarget = { ...base, name: 'x', targeting: { ...base.targeting, handlers: ['h'.repeat(201)], environment: '' } }
    expect(checkForm(badTarget, { creating: true, isAdmin: true })).toMatchObject({
      firstInvalidStep: 3,
      errors: { 3: { handlers: 'an item is longer than 200 characters', environment: 'expected a non-empty string (or "all")' } },
    })
  })

  it('targeting limits', () => {
    expect(targetingErrors({ ...emptyForm(1).targeting, stages: Array.from({ length: 501 }, (_, i) => `s${i}`) })).toEqual({
      stages: 'more than 500 items',
    })
    expect(targetingBody({ ...emptyForm(1).targeting, environment: ' prod ' }).environment).toBe('prod')
  })
})

describe('server 400s land on their field', () => {
  it.each([
    ['rule.windowSeconds: must be greater than 0', 2, 'windowSeconds', 'must be greater than 0'],
    ['rule.keyField is required when keyBy is custom (x)', 2, 'keyField', 'is required when keyBy is custom (x)'],
    ['rule.retryOn.errorCodes: expected an array of strings', 2, 'errorCodes', 'expected an array of strings'],
    ['rule is required', 2, null, 'is required'],
    ['targeting.handlers: empty strings are not allowed', 3, 'handlers', 'empty strings are not allowed'],
    ['name is required', 1, 'name', 'is required'],
    ['applicationId is required (only an Admin can create a global policy)', 1, 'applicationId', 'is required (only an Admin can create a global policy)'],
    ['application 9 not found', 1, 'applicationId', 'application 9 not found'],
    ['policy was changed meanwhile (it is at version 4, the update was for 3); reload it', 4, null, null],
  ])('%s', (message, step, field, shown) => {
    expect(serverErrorPlace(message)).toEqual({ step, field })
    if (shown !== null) expect(stripFieldPath(message)).toBe(shown)
  })

  it('labels a message', () => {
    expect(fieldMessage('Window', 'must be greater than 0')).toBe('Window: must be greater than 0')
    expect(fieldMessage('Limit', 'is required')).toBe('Limit is required')
  })
})

describe('presentation', () => {
  it('offers the transitions the server accepts', () => {
    expect(statusActions('active')).toEqual(['pause', 'disable'])
    expect(statusActions('paused')).toEqual(['resume', 'disable'])
    expect(statusActions('disabled')).toEqual(['enable'])
  })

  it('summarizes targeting and rules', () => {
    expect(targetsSummary(policy().targeting)).toBe('handlers: demo.fetch')
    expect(targetsSummary({ ...policy().targeting, handlers: [], pipelines: ['a', 'b', 'c'], environment: 'prod' })).toBe(
      'pipelines: a, b +1 · env: prod',
    )
    expect(targetsSummary(null)).toBe('Everything')
    expect(ruleSummary('rate_limit', { limit: 10, windowSeconds: 60, keyBy: 'handler', burst: 15 })).toBe(
      '10 per 60 s, keyed by handler, burst 15',
    )
    expect(ruleSummary('timeout', { timeoutMs: 500, appliesTo: 'step' })).toBe('500 ms per step')
  })

  it('splits comma lists without repeats', () => {
    expect(splitList(' a, B ,,b\nc ')).toEqual(['a', 'B', 'c'])
  })

  it('turns an audit diff into rows, rule and targeting one level deeper', () => {
    expect(
      diffRows({
        before: { name: 'a', rule: { limit: 5, windowSeconds: 60 } },
        after: { name: 'b', rule: { limit: 10, windowSeconds: 60 } },
      }),
    ).toEqual([
      { field: 'name', before: 'a', after: 'b' },
      { field: 'rule.limit', before: 5, after: 10 },
    ])
    expect(diffRows({ after: { status: 'active', targeting: { handlers: ['h'] } } })).toEqual([
      { field: 'status', before: undefined, after: 'active' },
      { field: 'targeting.handlers', before: undefined, after: ['h'] },
    ])
    expect(diffRows(null)).toEqual([])
  })
})

describe('list filters ↔ URL ↔ API', () => {
  it('reads, ignoring what is not valid', () => {
    expect(policyFiltersFromSearch(new URLSearchParams('q=fetch&type=retry&status=paused&app=2&sort=name&page=3'))).toEqual({
      ...DEFAULT_POLICY_FILTERS,
      search: 'fetch',
      type: 'retry',
      status: 'paused',
      applicationId: 2,
      sortBy: 'name',
      sortDir: 'asc',
      page: 3,
    })
    expect(policyFiltersFromSearch(new URLSearchParams('type=nope&status=deleted&sort=status&dir=up&page=-1&app=x'))).toEqual(
      DEFAULT_POLICY_FILTERS,
    )
  })

  it('round-trips and keeps the open drawer', () => {
    const text = 'q=x&type=timeout&sort=type&dir=desc&page=2&policy=9'
    const params = new URLSearchParams(text)
    expect(policyFiltersToSearch(policyFiltersFromSearch(params), params).toString()).toBe(text)
    expect(policyFiltersToSearch(DEFAULT_POLICY_FILTERS).toString()).toBe('')
  })

  it('maps to the API query', () => {
    const f = { ...DEFAULT_POLICY_FILTERS, search: ' a ', status: 'active' as const }
    expect(buildQuery(policyFiltersToApi(f))).toBe('?search=a&status=active&sortBy=updatedAt&sortDir=desc&pageNumber=1&pageSize=25')
  })

  it('sorting a column: first its default direction, then flips', () => {
    expect(nextSort(DEFAULT_POLICY_FILTERS, 'name')).toEqual({ sortBy: 'name', sortDir: 'asc' })
    expect(nextSort({ ...DEFAULT_POLICY_FILTERS, sortBy: 'name', sortDir: 'asc' }, 'name')).toEqual({ sortBy: 'name', sortDir: 'desc' })
    expect(nextSort(DEFAULT_POLICY_FILTERS, 'updatedAt')).toEqual({ sortBy: 'updatedAt', sortDir: 'asc' })
  })
})
