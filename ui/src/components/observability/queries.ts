import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { api, buildQuery } from '../../lib/api'
import type { Page } from '../../lib/types'
import type { Insights, IntegrationConfig, IntegrationStatus, Trace } from './types'

export const obsKeys = {
  all: ['observability'] as const,
  config: ['observability', 'config'] as const,
  status: ['observability', 'status'] as const,
  traces: (q: TraceQuery) => ['observability', 'traces', q] as const,
  insights: (range: string) => ['observability', 'insights', range] as const,
}

export function useIntegrationConfigs() {
  return useQuery({
    queryKey: obsKeys.config,
    queryFn: ({ signal }) =>
      api<{ integrations: IntegrationConfig[] }>('/api/observability/config', { signal }).then((r) => r.integrations),
  })
}

export function useIntegrationStatus() {
  return useQuery({
    queryKey: obsKeys.status,
    queryFn: ({ signal }) =>
      api<{ integrations: IntegrationStatus[] }>('/api/observability/status', { signal }).then((r) => r.integrations),
  })
}

export interface TraceQuery {
  pageNumber: number
  pageSize: number
  status?: string
  search?: string
}

export function useTraces(q: TraceQuery) {
  return useQuery({
    queryKey: obsKeys.traces(q),
    queryFn: ({ signal }) => api<Page<Trace>>(`/api/observability/traces${buildQuery({ ...q })}`, { signal }),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  })
}

export function useInsights(range: string) {
  return useQuery({
    queryKey: obsKeys.insights(range),
    queryFn: ({ signal }) => api<Insights>(`/api/observability/insights${buildQuery({ range })}`, { signal }),
    placeholderData: keepPreviousData,
    refetchInterval: 30_000,
  })
}
