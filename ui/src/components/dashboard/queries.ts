import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { api, buildQuery } from '../../lib/api'
import type {
  ExecutionBucket,
  StatsRange,
  StatsSummary,
  WorkerDetail,
  WorkerEvent,
  WorkerHeartbeat,
} from './types'

/** The bucket asked for each range (the server's own defaults, named so the chart knows the width). */
export const BUCKET_FOR: Record<StatsRange, { name: string; seconds: number }> = {
  '1h': { name: '1m', seconds: 60 },
  '24h': { name: '1h', seconds: 3600 },
  '7d': { name: '1h', seconds: 3600 },
  '30d': { name: '1d', seconds: 86400 },
}

export const RANGE_SECONDS: Record<StatsRange, number> = {
  '1h': 3600,
  '24h': 86400,
  '7d': 7 * 86400,
  '30d': 30 * 86400,
}

export const statsKeys = {
  all: ['stats'] as const,
  summary: (range: StatsRange) => ['stats', 'summary', range] as const,
  executions: (range: StatsRange) => ['stats', 'executions', range] as const,
}

export const workerKeys = {
  detail: (id: string) => ['workers', 'detail', id] as const,
  events: (id: string) => ['workers', 'detail', id, 'events'] as const,
  heartbeats: (id: string) => ['workers', 'detail', id, 'heartbeats'] as const,
}

const REFRESH_MS = 15_000

export function useStatsSummary(range: StatsRange) {
  return useQuery({
    queryKey: statsKeys.summary(range),
    queryFn: ({ signal }) => api<StatsSummary>(`/api/stats/summary${buildQuery({ range })}`, { signal }),
    placeholderData: keepPreviousData,
    refetchInterval: REFRESH_MS,
  })
}

export function useExecutions(range: StatsRange) {
  return useQuery({
    queryKey: statsKeys.executions(range),
    queryFn: ({ signal }) =>
      api<ExecutionBucket[]>(`/api/stats/executions${buildQuery({ range, bucket: BUCKET_FOR[range].name })}`, {
        signal,
      }),
    placeholderData: keepPreviousData,
    refetchInterval: REFRESH_MS,
  })
}

export function useWorkerDetail(id: string) {
  return useQuery({
    queryKey: workerKeys.detail(id),
    queryFn: ({ signal }) => api<WorkerDetail>(`/api/workers/${encodeURIComponent(id)}`, { signal }),
    refetchInterval: REFRESH_MS,
  })
}

export const HISTORY_LIMIT = 100

export function useWorkerEvents(id: string) {
  return useQuery({
    queryKey: workerKeys.events(id),
    queryFn: ({ signal }) =>
      api<WorkerEvent[]>(`/api/workers/${encodeURIComponent(id)}/events${buildQuery({ limit: HISTORY_LIMIT })}`, {
        signal,
      }),
    refetchInterval: REFRESH_MS,
  })
}

export function useWorkerHeartbeats(id: string) {
  return useQuery({
    queryKey: workerKeys.heartbeats(id),
    queryFn: ({ signal }) =>
      api<WorkerHeartbeat[]>(
        `/api/workers/${encodeURIComponent(id)}/heartbeats${buildQuery({ limit: HISTORY_LIMIT })}`,
        { signal },
      ),
    refetchInterval: REFRESH_MS,
  })
}
