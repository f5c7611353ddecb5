import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError, api, buildQuery, loginUrl, safeNext, setUnauthorizedHandler } from './api'

function respond(status: number, body: unknown, contentType = 'application/json') {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  return vi.fn(async () => new Response(status === 204 ? null : text, { status, headers: { 'Content-Type': contentType } }))
}

describe('api client', () => {
  let unauthorized: ReturnType<typeof vi.fn<() => void>>
  let previous: () => void
  beforeEach(() => {
    unauthorized = vi.fn<() => void>()
    previous = setUnauthorizedHandler(unauthorized)
  })
  afterEach(() => {
    setUnauthorizedHandler(previous)
    vi.unstubAllGlobals()
  })

  it('sends same-origin credentials and JSON, and parses the answer', async () => {
    const fetch = respond(200, { id: 1 })
    vi.stubGlobal('fetch', fetch)
    const out = await api<{ id: number }>('/api/pipelines/cancel', { method: 'POST', body: { pipelineId: 1 } })
    expect(out).toEqual({ id: 1 })
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/pipelines/cancel')
    expect(init.credentials).toBe('same-origin')
    expect(init.method).toBe('POST')
    expect(init.body).toBe('{"pipelineId":1}')
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json')
  })

  it('turns {error:{code,message}} into an ApiError with the status', async () => {
    vi.stubGlobal('fetch', respond(409, { error: { code: 'conflict', message: 'stage is running' } }))
    const err = await api('/api/pipelines/rerunStage', { method: 'POST', body: {} }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).status).toBe(409)
    expect((err as ApiError).code).toBe('conflict')
    expect((err as ApiError).message).toBe('stage is running')
    expect(unauthorized).not.toHaveBeenCalled()
  })

  it('keeps the status when the error body is not JSON', async () => {
    vi.stubGlobal('fetch', respond(502, 'Bad gateway', 'text/plain'))
    const err = (await api('/api/workers').catch((e: unknown) => e)) as ApiError
    expect(err.status).toBe(502)
    expect(err.code).toBe('http_502')
  })

  it('a 401 sends the user to login', async () => {
    vi.stubGlobal('fetch', respond(401, { error: { code: 'unauthorized', message: 'log in first' } }))
    const err = (await api('/api/pipelines').catch((e: unknown) => e)) as ApiError
    expect(err.status).toBe(401)
    expect(unauthorized).toHaveBeenCalledTimes(1)
  })

  it('the login call itself does not redirect on 401', async () => {
    vi.stubGlobal('fetch', respond(401, { error: { code: 'unauthorized', message: 'wrong email or password' } }))
    const err = (await api('/api/auth/login', { method: 'POST', body: {}, noAuthRedirect: true }).catch((e: unknown) => e)) as ApiError
    expect(err.message).toBe('wrong email or password')
    expect(unauthorized).not.toHaveBeenCalled()
  })

  it('a network failure is an ApiError with status 0', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))
    const err = (await api('/api/workers').catch((e: unknown) => e)) as ApiError
    expect(err).toBeInstanceOf(ApiError)
    expect(err.status).toBe(0)
  })

  it('the default 401 handler goes to /login?next=<current path>', async () => {
    setUnauthorizedHandler(previous)
    const assign = vi.fn()
    vi.stubGlobal('location', { pathname: '/pipelines/7', search: '?x=1', assign })
    vi.stubGlobal('fetch', respond(401, { error: { code: 'unauthorized', message: 'no' } }))
    await api('/api/pipelines/7').catch(() => undefined)
    expect(assign).toHaveBeenCalledWith('/login?next=%2Fpipelines%2F7%3Fx%3D1')
  })
})

describe('login redirects', () => {
  it('builds the login URL with next', () => {
    expect(loginUrl('/pipelines?status=Failed')).toBe('/login?next=%2Fpipelines%3Fstatus%3DFailed')
    expect(loginUrl('/')).toBe('/login')
    expect(loginUrl('/login?next=%2Fx')).toBe('/login')
  })

  it('follows only local next paths', () => {
    expect(safeNext('/pipelines/3')).toBe('/pipelines/3')
    expect(safeNext('https://evil.example/')).toBe('/')
    expect(safeNext('//evil.example/')).toBe('/')
    expect(safeNext('/\\evil.example')).toBe('/')
    expect(safeNext(null)).toBe('/')
  })
})

describe('buildQuery', () => {
  it('repeats arrays and drops empty values', () => {
    expect(buildQuery({ pageNumber: 2, search: '', statuses: ['Failed', 'Running'], x: undefined })).toBe(
      '?pageNumber=2&statuses=Failed&statuses=Running',
    )
    expect(buildQuery({})).toBe('')
  })
})
