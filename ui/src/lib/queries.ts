import { QueryClient, keepPreviousData, useQuery } from '@tanstack/react-query'
import { ApiError, api, buildQuery } from './api'
import { filtersToApi, type PipelineFilters } from './filters'
import type { ApiKey, Application, Me, Page, Pipeline, User, Worker } from './types'

export const keys = {
  me: ['me'] as const,
  pipelines: ['pipelines'] as const,
  pipelineLists: ['pipelines', 'list'] as const,
  pipelineList: (filters: PipelineFilters) => ['pipelines', 'list', filtersToApi(filters)] as const,
  pipeline: (id: number) => ['pipelines', 'detail', id] as const,
  workers: ['workers'] as const,
  applications: ['applications'] as const,
  apiKeysAll: ['apikeys'] as const,
  apiKeys: (applicationId: number) => ['apikeys', applicationId] as const,
  users: ['users'] as const,
}

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        refetchOnWindowFocus: false,
        // a 4xx will not get better by asking again
        retry: (count, err) => !(err instanceof ApiError && err.status >= 400 && err.status < 500) && count < 2,
      },
    },
  })
}

export function useMe() {
  return useQuery({ queryKey: keys.me, queryFn: ({ signal }) => api<Me>('/api/auth/me', { signal }) })
}

export function usePipelines(filters: PipelineFilters) {
  return useQuery({
    queryKey: keys.pipelineList(filters),
    queryFn: ({ signal }) =>
      api<Page<Pipeline>>(`/api/pipelines${buildQuery(filtersToApi(filters))}`, { signal }),
    placeholderData: keepPreviousData,
  })
}

export function usePipeline(id: number) {
  return useQuery({
    queryKey: keys.pipeline(id),
    queryFn: ({ signal }) => api<Pipeline>(`/api/pipelines/${id}`, { signal }),
    enabled: Number.isInteger(id) && id > 0,
  })
}

export function useWorkers() {
  return useQuery({
    queryKey: keys.workers,
    queryFn: ({ signal }) => api<Worker[]>('/api/workers', { signal }),
    refetchInterval: 10_000,
  })
}

export function useApplications() {
  return useQuery({
    queryKey: keys.applications,
    queryFn: ({ signal }) => api<Application[]>('/api/applications', { signal }),
  })
}

export function useApiKeys(applicationId: number | undefined) {
  return useQuery({
    queryKey: keys.apiKeys(applicationId ?? 0),
    queryFn: ({ signal }) => api<ApiKey[]>(`/api/apikeys${buildQuery({ applicationId })}`, { signal }),
    enabled: applicationId !== undefined,
  })
}

export function useUsers(enabled: boolean) {
  return useQuery({
    queryKey: keys.users,
    queryFn: ({ signal }) => api<User[]>('/api/users', { signal }),
    enabled,
  })
}
