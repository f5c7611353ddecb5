// `/ws`: pipeline frames applied to the query cache, so every open page updates in place.
import { useEffect, useState } from 'react'
import { useQueryClient, type QueryClient } from '@tanstack/react-query'
import { keys } from './queries'
import type { Page, Pipeline } from './types'

export interface PipelineFrame {
  type: 'pipeline'
  pipeline: Pipeline
}

export function parseFrame(data: unknown): PipelineFrame | null {
  if (typeof data !== 'string') return null
  try {
    const frame: unknown = JSON.parse(data)
    if (
      frame &&
      typeof frame === 'object' &&
      (frame as { type?: unknown }).type === 'pipeline' &&
      typeof (frame as { pipeline?: { id?: unknown } }).pipeline?.id === 'number'
    ) {
      return frame as PipelineFrame
    }
  } catch {
    // ignore what is not a frame
  }
  return null
}

/**
 * Frames (and action results) carry no stage logs; the detail query has them. Keep the logs a
 * cached detail already shows for each stage until the detail is read again.
 */
export function mergeDetail(old: Pipeline | undefined, next: Pipeline): Pipeline {
  if (!old) return next
  const logs = new Map(old.stages.map((s) => [s.id, s.logs]))
  return {
    ...next,
    stages: next.stages.map((s) => (s.logs != null ? s : { ...s, logs: logs.get(s.id) ?? s.logs })),
  }
}

export interface Applied {
  /** some cached list held the pipeline (its row was patched) */
  listed: boolean
  /** its detail was cached (and was updated) */
  detailed: boolean
}

/**
 * Apply one pipeline to the cache: update its detail (if cached, keeping the logs it shows)
 * and patch its row in every cached list that holds it — nothing is refetched, no page moves.
 * A pipeline no list holds is new to the user's pages: the caller may refresh the visible list.
 */
export function applyPipeline(client: QueryClient, pipeline: Pipeline): Applied {
  const detailKey = keys.pipeline(pipeline.id)
  const cached = client.getQueryData<Pipeline>(detailKey)
  if (cached !== undefined) client.setQueryData(detailKey, mergeDetail(cached, pipeline))
  let listed = false
  for (const [key, page] of client.getQueriesData<Page<Pipeline>>({ queryKey: keys.pipelineLists })) {
    if (!page?.items.some((p) => p.id === pipeline.id)) continue
    listed = true
    client.setQueryData<Page<Pipeline>>(key, {
      ...page,
      items: page.items.map((p) => (p.id === pipeline.id ? pipeline : p)),
    })
  }
  return { listed, detailed: cached !== undefined }
}

/** Re-read one pipeline's detail (for its new log lines) at most every `ms`. */
export function detailRefresher(client: QueryClient, ms = 400): (id: number) => () => void {
  const timers = new Map<number, ReturnType<typeof setTimeout>>()
  return (id: number) => {
    if (!timers.has(id)) {
      timers.set(
        id,
        setTimeout(() => {
          timers.delete(id)
          void client.invalidateQueries({ queryKey: keys.pipeline(id), exact: true, refetchType: 'active' })
        }, ms),
      )
    }
    return () => {
      for (const t of timers.values()) clearTimeout(t)
      timers.clear()
    }
  }
}

export interface Backoff {
  next(): number
  reset(): void
}

/** 0.5 s, 1 s, 2 s … capped at 30 s, with ±20 % jitter. */
export function backoff(base = 500, cap = 30_000, random: () => number = Math.random): Backoff {
  let attempt = 0
  return {
    next() {
      const delay = Math.min(cap, base * 2 ** attempt)
      attempt += 1
      return Math.round(delay * (0.8 + 0.4 * random()))
    },
    reset() {
      attempt = 0
    },
  }
}

type FrameListener = (frame: PipelineFrame) => void
const frameListeners = new Set<FrameListener>()

/** Be told of every pipeline frame the shared socket receives (the Dashboard's activity feed). */
export function onFrame(listener: FrameListener): () => void {
  frameListeners.add(listener)
  return () => {
    frameListeners.delete(listener)
  }
}

export type LiveState = 'connecting' | 'open' | 'closed'

/** How often at most an unknown pipeline makes the visible lists refetch (their current page). */
const LIST_REFRESH_MS = 1500

export function wsUrl(loc: Location = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`
}

/** Keep one socket open while mounted; returns its state for the header's indicator. */
export function useLiveUpdates(): LiveState {
  const client = useQueryClient()
  const [state, setState] = useState<LiveState>('connecting')

  useEffect(() => {
    let socket: WebSocket | null = null
    let timer: ReturnType<typeof setTimeout> | undefined
    let refreshTimer: ReturnType<typeof setTimeout> | undefined
    let stopped = false
    let everOpened = false
    const delays = backoff()
    const refreshDetail = detailRefresher(client)
    let cancelDetails = () => {}

    const refreshLists = () => {
      if (refreshTimer !== undefined) return
      refreshTimer = setTimeout(() => {
        refreshTimer = undefined
        void client.invalidateQueries({ queryKey: keys.pipelineLists, refetchType: 'active' })
      }, LIST_REFRESH_MS)
    }

    const connect = () => {
      setState('connecting')
      socket = new WebSocket(wsUrl())
      socket.onopen = () => {
        delays.reset()
        setState('open')
        // frames were missed while away: refresh what is on screen, once
        if (everOpened) void client.invalidateQueries({ queryKey: keys.pipelines, refetchType: 'active' })
        everOpened = true
      }
      socket.onmessage = (event: MessageEvent) => {
        const frame = parseFrame(event.data)
        if (!frame) return
        const applied = applyPipeline(client, frame.pipeline)
        if (!applied.listed) refreshLists()
        if (applied.detailed) cancelDetails = refreshDetail(frame.pipeline.id)
        for (const listener of frameListeners) listener(frame)
      }
      socket.onclose = (event: CloseEvent) => {
        socket = null
        if (stopped) return
        setState('closed')
        // 1008: the session ended — let the next API call's 401 take the user to login
        if (event.code === 1008) void client.invalidateQueries({ queryKey: keys.me })
        timer = setTimeout(connect, delays.next())
      }
    }
    connect()
    return () => {
      stopped = true
      clearTimeout(timer)
      clearTimeout(refreshTimer)
      cancelDetails()
      socket?.close(1000)
    }
  }, [client])

  return state
}
