// The one way the dashboard talks to the internal API: same-origin fetch with the session
// cookie, JSON in and out, `{error:{code,message}}` turned into a thrown ApiError, and any 401
// (outside the login call itself) sending the user to /login?next=<where they were>.

export class ApiError extends Error {
  readonly status: number
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

/** The login URL that brings the user back to `path` (path + search) afterwards. */
export function loginUrl(path: string): string {
  if (!path || path === '/' || path.startsWith('/login')) return '/login'
  return `/login?next=${encodeURIComponent(path)}`
}

/** A `next` parameter is only followed when it is a path of this site (no open redirect). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/'
  return next
}

function defaultUnauthorized(): void {
  const here = window.location.pathname + window.location.search
  if (window.location.pathname === '/login') return
  window.location.assign(loginUrl(here))
}

let onUnauthorized: () => void = defaultUnauthorized

/** Replace what a 401 does (tests; the app keeps the default). Returns the previous handler. */
export function setUnauthorizedHandler(handler: () => void): () => void {
  const previous = onUnauthorized
  onUnauthorized = handler
  return previous
}

export type QueryValue = string | number | boolean | undefined | null | readonly (string | number)[]

export function buildQuery(params: Record<string, QueryValue>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue
    if (Array.isArray(value)) {
      for (const v of value) search.append(key, String(v))
    } else {
      search.append(key, String(value))
    }
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}

export interface RequestOptions {
  method?: string
  body?: unknown
  /** Don't redirect on 401 (the login form shows the error itself). */
  noAuthRedirect?: boolean
  signal?: AbortSignal
}

async function errorFrom(response: Response): Promise<ApiError> {
  let code = `http_${response.status}`
  let message = response.statusText || `HTTP ${response.status}`
  try {
    const body: unknown = await response.json()
    if (body && typeof body === 'object' && 'error' in body) {
      const err = (body as { error: unknown }).error
      if (err && typeof err === 'object') {
        const e = err as { code?: unknown; message?: unknown }
        if (typeof e.code === 'string') code = e.code
        if (typeof e.message === 'string') message = e.message
      }
    }
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(response.status, code, message)
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const init: RequestInit = {
    method: options.method ?? 'GET',
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    signal: options.signal,
  }
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body)
    init.headers = { ...init.headers, 'Content-Type': 'application/json' }
  }
  let response: Response
  try {
    response = await fetch(path, init)
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err
    throw new ApiError(0, 'network', 'The server could not be reached')
  }
  if (!response.ok) {
    const error = await errorFrom(response)
    if (response.status === 401 && !options.noAuthRedirect) onUnauthorized()
    throw error
  }
  if (response.status === 204) return undefined as T
  const text = await response.text()
  return (text ? JSON.parse(text) : undefined) as T
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message
  if (err instanceof Error) return err.message
  return String(err)
}
